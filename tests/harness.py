"""A sandbox world + a worker + the intake app, wired to the session's real Temporal dev server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from temporalio.client import Client, WorkflowHandle

from sleuth.config import Settings
from sleuth.intake.app import create_app
from sleuth.models.investigation import Report, Status
from sleuth.sandbox import SandboxServer, list_worlds, load_truth
from sleuth.worker import build_worker
from sleuth.workflows import InvestigateAlert

TOKEN = "test-token"


def world_with(kind: str | None = None, verdict: str = "root_cause_found") -> str:
    for name in list_worlds():
        t = load_truth(name)
        if t.verdict == verdict and (kind is None or t.root_cause_kind == kind):
            return name
    raise LookupError(f"no sandbox world with kind={kind} verdict={verdict}")


@dataclass
class Harness:
    client: Client
    server: Any
    settings: Settings
    http: httpx.AsyncClient

    async def fire(self, **overrides: Any) -> str:
        payload = {**self.server.alert_payload(), **overrides}
        resp = await self.http.post("/webhooks/datadog", json=payload, headers={"X-Sleuth-Token": TOKEN})
        assert resp.status_code == 202, resp.text
        return str(resp.json()["investigation_id"])

    def handle(self, wid: str) -> WorkflowHandle[Any, Report]:
        return self.client.get_workflow_handle(wid, result_type=Report)

    async def status(self, wid: str) -> Status:
        return await self.handle(wid).query(InvestigateAlert.status)

    async def wait_phase(self, wid: str, phase: str, timeout: float = 60) -> Status:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            with contextlib.suppress(Exception):
                st = await self.status(wid)
                if st.phase == phase:
                    return st
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{wid} never reached phase {phase}")
            await asyncio.sleep(0.1)

    def events(self, kind: str = "finding") -> list[dict[str, Any]]:
        return [e for e in self.server.recorded.events if f"sleuth_kind:{kind}" in (e.get("tags") or [])]


@contextlib.asynccontextmanager
async def harness(
    client: Client, world: str, *, run_worker: bool = True, **settings_kw: Any
) -> AsyncIterator[Harness]:
    server = SandboxServer(world)
    await asyncio.to_thread(server.start)
    settings = Settings(
        SLEUTH_DATADOG_URL=server.url,
        DD_API_KEY=server.ctx.api_key,
        DD_APP_KEY=server.ctx.app_key,
        SLEUTH_TASK_QUEUE=f"tq-{uuid.uuid4().hex[:8]}",
        SLEUTH_WEBHOOK_TOKEN=TOKEN,
        SLEUTH_DATADOG_TIMEOUT=5,
        SLEUTH_DATADOG_MAX_RETRIES=2,
        SLEUTH_APPROVAL_TIMEOUT_SECONDS=settings_kw.pop("approval_timeout", 20),
        **settings_kw,
    )

    async def get_client() -> Client:
        return client

    app = create_app(settings, get_client)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake"
        ) as http:
            h = Harness(client, server, settings, http)
            if run_worker:
                async with build_worker(client, settings):
                    yield h
            else:
                yield h
    finally:
        await asyncio.to_thread(server.stop)
