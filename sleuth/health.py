"""Liveness and readiness endpoints, the same for the intake and the worker: a process is ready when
its own parts are up and Temporal answers its health check."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from temporalio.client import Client

ClientProvider = Callable[[], Awaitable[Client]]


class Readiness:
    """What /healthz reports besides Temporal: each part of the process, up or not."""

    def __init__(self, **checks: bool) -> None:
        self.checks: dict[str, bool] = dict(checks)

    def set(self, name: str, ok: bool) -> None:
        self.checks[name] = ok

    @property
    def ready(self) -> bool:
        return all(self.checks.values())


def fixed_client(client: Client) -> ClientProvider:
    """A provider for a client that is already connected."""

    async def get() -> Client:
        return client

    return get


async def temporal_problem(client: ClientProvider) -> str | None:
    """None when Temporal answers its health check, else why not."""
    try:
        c = await asyncio.wait_for(client(), 3)
        ok = await c.service_client.check_health(timeout=timedelta(seconds=2))
        return None if ok else "Temporal reports its workflow service as not serving"
    except Exception as err:  # noqa: BLE001 - any failure means "not reachable", reported as such
        return f"{type(err).__name__}: {err}"[:300]


def add_health_routes(app: FastAPI, readiness: Readiness, client: ClientProvider) -> None:
    @app.get("/livez", summary="Liveness: the process answers (no dependency is checked)")
    async def livez() -> dict[str, str]:
        return {"status": "alive"}

    @app.get(
        "/healthz",
        summary="Readiness: Temporal is reachable and the process is set up",
        responses={503: {"description": "not ready"}},
    )
    async def healthz() -> JSONResponse:
        error = await temporal_problem(client)
        checks = {**readiness.checks, "temporal_reachable": error is None}
        ok = all(checks.values())
        body: dict[str, Any] = {"ready": ok, "checks": checks}
        if error:
            body["temporal_error"] = error
        return JSONResponse(status_code=200 if ok else 503, content=body)

    app.add_api_route("/readyz", healthz, methods=["GET"], summary="Readiness (alias of /healthz)")


def health_app(title: str, readiness: Readiness, client: ClientProvider) -> FastAPI:
    """A process's health endpoints alone (the worker's; the intake adds them to its own app)."""
    app = FastAPI(title=title)
    add_health_routes(app, readiness, client)
    return app
