"""Durability fixtures: a Sleuth worker in a process of its own (so it can be SIGKILLed), a sandbox
Datadog in this process, and helpers that read what really happened from Temporal and the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client, WorkflowHandle

from sleuth.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token"
# The world whose investigation finishes fastest (a handful of hypotheses, a small topology).
WORLD = "logistics-cpu"


class WorkerProcess:
    """`python -m tests.durability.worker_proc` with the given settings in its environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        full = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        full.pop("TEMPORAL_NAMESPACE", None)
        err = open(self.log, "a")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.durability.worker_proc"],
            cwd=ROOT,
            env=full,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if lines.get(timeout=0.2).startswith("worker ready"):
                    return self
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"worker exited ({self.proc.returncode}); see {self.log}") from None
        self.kill()
        raise TimeoutError(f"worker not ready within {timeout:.0f}s; see {self.log}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last heartbeat, no completion report."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def address_of(client: Client) -> str:
    return str(client.service_client.config.target_host)


def worker_env(server: SandboxServer, address: str, task_queue: str, **extra: Any) -> dict[str, str]:
    env = {
        "TEMPORAL_ADDRESS": address,
        "SLEUTH_TASK_QUEUE": task_queue,
        "SLEUTH_DATADOG_URL": server.url,
        "DD_API_KEY": server.ctx.api_key,
        "DD_APP_KEY": server.ctx.app_key,
        "SLEUTH_DATADOG_TIMEOUT": "5",
        "SLEUTH_DATADOG_MAX_RETRIES": "2",
        "SLEUTH_TEST_WORKER_SLOTS": "16",
        "DD_LLMOBS_ENABLED": "0",
        "DD_TRACE_ENABLED": "false",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Worker processes a test starts; whatever is still running at the end is stopped."""
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.kill()


@contextlib.asynccontextmanager
async def sandbox(world: str = WORLD) -> AsyncIterator[SandboxServer]:
    server = SandboxServer(world)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        server.faults.clear()
        await asyncio.to_thread(server.stop)


def findings(server: SandboxServer, wid: str) -> list[dict[str, Any]]:
    """Findings events the sandbox accepted for this investigation (the exactly-once check)."""
    return [
        e
        for e in list(server.recorded.events)
        if "sleuth_kind:finding" in (e.get("tags") or [])
        and f"investigation_id:{wid}" in (e.get("tags") or [])
    ]


def new_task_queue() -> str:
    return f"dur-{uuid.uuid4().hex[:8]}"


async def wait_until(check: Any, timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            value = await check()
            if value:
                return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f}s")
        await asyncio.sleep(every)


async def started_activities(handle: WorkflowHandle[Any, Any], activity_type: str) -> int:
    """How many attempts of `activity_type` a worker is running right now (Temporal's own view)."""
    desc = await handle.describe()
    return sum(
        1
        for p in desc.raw_description.pending_activities
        if p.activity_type.name == activity_type
        and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    )


async def max_attempt(handle: WorkflowHandle[Any, Any], activity_type: str) -> int:
    """The highest attempt number with which an activity of this type was started, from the history."""
    scheduled: dict[int, str] = {}
    best = 0
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            if scheduled.get(attrs.scheduled_event_id) == activity_type:
                best = max(best, attrs.attempt)
    return best


def intake_http(client: Client, task_queue: str, **settings_kw: Any) -> Any:
    """The real intake app (in this process, over ASGI) in front of `client`."""
    import httpx

    from sleuth.config import Settings
    from sleuth.intake.app import create_app

    settings = Settings(
        SLEUTH_TASK_QUEUE=task_queue,
        SLEUTH_WEBHOOK_TOKEN=TOKEN,
        SLEUTH_APPROVAL_TIMEOUT_SECONDS=settings_kw.pop("approval_timeout", 1),
        **settings_kw,
    )

    async def get() -> Client:
        return client

    app = create_app(settings, get)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake", timeout=30)


async def fire(http: Any, payload: dict[str, Any]) -> str:
    resp = await http.post("/webhooks/datadog", json=payload, headers={"X-Sleuth-Token": TOKEN})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["investigation_id"])


async def scheduled(handle: WorkflowHandle[Any, Any], activity_type: str) -> int:
    """How many times the workflow scheduled an activity of this type (retries are not new schedules)."""
    n = 0
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            n += event.activity_task_scheduled_event_attributes.activity_type.name == activity_type
    return n
