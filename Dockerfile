# syntax=docker/dockerfile:1
# The Sleuth image: one `sleuth` entrypoint for every role. docker-compose.yml runs it as
# `sleuth worker` and `sleuth serve --host 0.0.0.0 --port 8080`; `docker run IMAGE --help` lists the rest.
#
#   docker build -t sleuth .
#   docker run --rm sleuth --help

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: install the package and its dependencies into a self-contained virtualenv ----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/sleuth
WORKDIR /src
# .dockerignore lets in only what the wheel needs: pyproject.toml, README.md and sleuth/.
COPY . .
RUN /opt/sleuth/bin/pip install --upgrade pip \
 && /opt/sleuth/bin/pip install . \
 && /opt/sleuth/bin/sleuth --help >/dev/null

# ---- runtime: the virtualenv on a clean base, run as an unprivileged user ---------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG SLEUTH_UID=10001
RUN groupadd --system --gid "${SLEUTH_UID}" sleuth \
 && useradd --system --uid "${SLEUTH_UID}" --gid sleuth --home-dir /home/sleuth --create-home \
      --shell /usr/sbin/nologin sleuth \
 && mkdir -p /data \
 && chown sleuth:sleuth /data
COPY --from=build /opt/sleuth /opt/sleuth
ENV PATH=/opt/sleuth/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SLEUTH_DATA_DIR=/data
# Numeric, so runtimes that require a non-root user (Kubernetes runAsNonRoot) can verify it.
USER ${SLEUTH_UID}:${SLEUTH_UID}
WORKDIR /home/sleuth
# `sleuth serve` listens here (pass --host 0.0.0.0 inside a container).
EXPOSE 8080
ENTRYPOINT ["sleuth"]
CMD ["--help"]
