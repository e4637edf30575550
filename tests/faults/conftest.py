"""Fault-test fixtures: the sandbox Datadog behind a recording ASGI wrapper, and one helper that runs a
whole investigation (webhook → workflow → findings) with faults set up first.

The wrapper sees every request with its body and timing, so a test can measure what the gateway
did (how long it waited after a 429, how often it retried) rather than trust what it reports.
It can also answer *late*: the request is fully handled (an event really is created) and only the
response is held back, which is what a slow Datadog looks like from the client's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from temporalio.client import Client

import sleuth.sandbox.server as sandbox_server
from sleuth.config import Settings
from sleuth.intake.app import create_app
from sleuth.models.investigation import Report
from sleuth.sandbox import SandboxServer
from sleuth.worker import build_worker
from tests.harness import TOKEN, Harness


@dataclass
class Seen:
    at: float  # monotonic, when the request arrived
    done: float  # monotonic, when the response started
    method: str
    path: str
    identity: str  # method, path, query string and body: a retry of a call has the same identity
    status: int


@dataclass
class LateRule:
    method: str
    path_prefix: str
    remaining: int
    delay_seconds: float
    status: int | None = None  # answer this error instead, after the request was applied


@dataclass
class Recorder:
    app: Any
    seen: list[Seen] = field(default_factory=list)
    late: list[LateRule] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer_late(self, method: str, path_prefix: str, delay_seconds: float, times: int = 1) -> None:
        """Handle the next `times` matching requests in full, then hold their response back."""
        with self.lock:
            self.late.append(LateRule(method, path_prefix, times, delay_seconds))

    def fail_after_applying(self, method: str, path_prefix: str, status: int = 502, times: int = 1) -> None:
        """Handle the next `times` matching requests in full (an event really is created), then answer
        `status`, as a proxy or load balancer in front of Datadog may."""
        with self.lock:
            self.late.append(LateRule(method, path_prefix, times, 0.0, status))

    def _late_for(self, method: str, path: str) -> tuple[float, int | None]:
        with self.lock:
            for rule in self.late:
                if rule.remaining > 0 and rule.method == method and path.startswith(rule.path_prefix):
                    rule.remaining -= 1
                    return rule.delay_seconds, rule.status
        return 0.0, None

    def requests(self, prefix: str = "", status: int | None = None) -> list[Seen]:
        with self.lock:
            return [
                s for s in self.seen if s.path.startswith(prefix) and (status is None or s.status == status)
            ]

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return dict(await receive())

        method, path = scope["method"], scope["path"]
        delay, override = self._late_for(method, path)
        status = 0
        started = arrived

        async def forward(message: dict[str, Any]) -> None:
            nonlocal status, started
            if override is not None:
                return  # the app's own answer is dropped; the error is sent below
            if message["type"] == "http.response.start":
                if delay:
                    await asyncio.sleep(delay)
                status = int(message["status"])
                started = time.monotonic()
            await send(message)

        digest = hashlib.sha256(
            method.encode() + path.encode() + scope.get("query_string", b"") + body
        ).hexdigest()
        try:
            await self.app(scope, replay, forward)
            if override is not None:
                error = b'{"errors": ["Bad Gateway"]}'
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(error)).encode()),
                ]
                await send({"type": "http.response.start", "status": override, "headers": headers})
                await send({"type": "http.response.body", "body": error})
                status, started = override, time.monotonic()
        finally:
            with self.lock:
                self.seen.append(Seen(arrived, started, method, path, digest[:16], status))


@pytest.fixture
def recorders(monkeypatch: pytest.MonkeyPatch) -> list[Recorder]:
    """Every SandboxServer started in this test serves through a Recorder (in start order)."""
    made: list[Recorder] = []
    original = sandbox_server.create_app

    def wrapped(ctx: Any) -> Any:
        rec = Recorder(original(ctx))
        made.append(rec)
        return rec

    monkeypatch.setattr(sandbox_server, "create_app", wrapped)
    return made


@dataclass
class Run:
    report: Report
    harness: Harness
    wid: str
    seconds: float

    @property
    def server(self) -> SandboxServer:
        return self.harness.server  # type: ignore[no-any-return]

    def gap_reasons(self) -> list[str]:
        """Every named gap: the report's own and each hypothesis'."""
        out = [g.reason for g in self.report.gaps]
        for h in self.report.hypotheses:
            out += [g.reason for g in h.gaps]
        return out

    def findings(self) -> list[dict[str, Any]]:
        return [
            e
            for e in self.server.recorded.events
            if "sleuth_kind:finding" in (e.get("tags") or [])
            and f"investigation_id:{self.wid}" in (e.get("tags") or [])
        ]


@contextlib.asynccontextmanager
async def _harness(client: Client, world: str, overrides: dict[str, Any]) -> AsyncIterator[Harness]:
    """tests.harness.harness, with every setting overridable (the gateway timeout and retries too)."""
    server = SandboxServer(world)
    await asyncio.to_thread(server.start)
    values: dict[str, Any] = {
        "SLEUTH_DATADOG_URL": server.url,
        "DD_API_KEY": server.ctx.api_key,
        "DD_APP_KEY": server.ctx.app_key,
        "SLEUTH_TASK_QUEUE": f"tq-{uuid.uuid4().hex[:8]}",
        "SLEUTH_WEBHOOK_TOKEN": TOKEN,
        "SLEUTH_DATADOG_TIMEOUT": 5,
        "SLEUTH_DATADOG_MAX_RETRIES": 2,
        "SLEUTH_APPROVAL_TIMEOUT_SECONDS": 1,
        **overrides,
    }
    settings = Settings(**values)

    async def get_client() -> Client:
        return client

    app = create_app(settings, get_client)
    try:
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://intake") as http,
            build_worker(client, settings, max_concurrent_activities=16),
        ):
            yield Harness(client, server, settings, http)
    finally:
        await asyncio.to_thread(server.stop)


async def investigate(
    client: Client,
    world: str,
    setup: Callable[[Harness], Any] | None = None,
    timeout: float = 150.0,
    **settings: Any,
) -> Run:
    """One investigation through the intake, the workflow and a worker, with `setup` run on the
    harness (faults, removed metrics) before the webhook fires. Bounded by `timeout`."""
    async with _harness(client, world, settings) as h:
        if setup is not None:
            setup(h)
        t0 = time.monotonic()
        wid = await h.fire()
        report = await asyncio.wait_for(h.handle(wid).result(rpc_timeout=None), timeout)
        seconds = time.monotonic() - t0
        h.server.faults.clear()
    return Run(Report.model_validate(report.model_dump()), h, wid, seconds)


def assert_concluded(run: Run) -> None:
    """Whatever went wrong with Datadog: a verdict, published once, no crash."""
    r = run.report
    assert r.verdict in ("root_cause_found", "inconclusive"), (r.verdict, r.summary, run.gap_reasons())
    assert all(h.status in ("validated", "invalidated", "inconclusive") for h in r.hypotheses)
    assert r.publication is not None and r.publication.event_id, r.gaps
    assert len(run.findings()) == 1
