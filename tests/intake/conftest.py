"""Intake fixtures: the ASGI app over httpx against the session's real Temporal dev server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from sleuth.config import Settings
from sleuth.intake.app import ClientProvider, create_app
from sleuth.worker import build_worker

TOKEN = "test-token"


def closed_port() -> int:
    """A port nobody listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def intake_settings(task_queue: str, **kw: Any) -> Settings:
    """Datadog points at a closed port: a worker's investigation records gaps and ends inconclusive."""
    return Settings(
        SLEUTH_TASK_QUEUE=task_queue,
        SLEUTH_WEBHOOK_TOKEN=TOKEN,
        SLEUTH_DATADOG_URL=f"http://127.0.0.1:{closed_port()}",
        DD_API_KEY="k",
        DD_APP_KEY="a",
        SLEUTH_DATADOG_TIMEOUT=1,
        SLEUTH_DATADOG_MAX_RETRIES=0,
        **kw,
    )


def const(client: Client) -> ClientProvider:
    async def get() -> Client:
        return client

    return get


def http_for(settings: Settings, provider: ClientProvider, **kw: Any) -> httpx.AsyncClient:
    app = create_app(settings, provider, **kw)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake", timeout=30)


def template(**over: Any) -> dict[str, Any]:
    """The README's template as Datadog fills it in for a fresh alert cycle of a fresh monitor."""
    n = uuid.uuid4().int
    body: dict[str, Any] = {
        "id": str(n % 10**18),
        "alert_cycle_key": str(n % 10**17),
        "monitor_id": str(n % 10**9),
        "transition": "Triggered",
        "title": "[Triggered on {service:checkout,env:prod}] checkout latency high",
        "message": "p99 latency above 2s",
        "query": "avg(last_5m):p99:trace.http.request.duration{service:checkout} > 2",
        "scope": "service:checkout,env:prod",
        "status": "Alert",
        "alert_type": "error",
        "priority": "P2",
        "tags": "service:checkout,env:prod,team:payments",
        "date": "1718000000000",
        "last_updated": "1718000000000",
        "link": "https://app.datadoghq.com/monitors/1",
        "aggreg_key": "agg",
        "org": {"id": "1", "name": "Acme"},
    }
    body.update(over)
    return body


async def post(
    http: httpx.AsyncClient, body: Any, token: str | bytes | None = TOKEN, **kw: Any
) -> httpx.Response:
    headers = {"X-Sleuth-Token": token} if token is not None else {}
    if isinstance(body, bytes | str):
        return await http.post("/webhooks/datadog", content=body, headers=headers, **kw)
    return await http.post("/webhooks/datadog", json=body, headers=headers, **kw)


async def count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Visibility lags the write a little (platform notes 1.6)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met within the visibility lag")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def running_worker(client: Client, settings: Settings) -> AsyncIterator[None]:
    worker = build_worker(client, settings, max_concurrent_activities=8)
    async with worker:
        yield


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def settings(task_queue: str) -> Settings:
    return intake_settings(task_queue)


@pytest.fixture
async def http(settings: Settings, client: Client) -> AsyncIterator[httpx.AsyncClient]:
    async with http_for(settings, const(client)) as h:
        yield h
