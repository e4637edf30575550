"""Temporal unreachable → 503 (Datadog retries), and the retry after recovery starts exactly one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from sleuth.intake.app import lazy_client
from sleuth.temporal_server import EmbeddedTemporal
from tests.intake.conftest import closed_port, count, eventually, http_for, intake_settings, post, template


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[EmbeddedTemporal]:
    """A dev server of our own, on a free port, persisted to a file: it can go down and come back."""
    embedded = EmbeddedTemporal(tmp_path / "temporal.db", port=closed_port(), ui_port=None)
    yield embedded
    crash(embedded)


def crash(server: EmbeddedTemporal) -> None:
    """SIGKILL: no graceful shutdown, so only what Temporal had committed survives."""
    if server.process is not None and server.process.poll() is None:
        server.process.kill()
        server.process.wait(10)


async def ready(http: httpx.AsyncClient) -> None:
    """A restarted server listens a moment before it serves; Datadog's retry comes later anyway."""

    async def check() -> bool:
        return (await http.get("/healthz")).status_code == 200

    await eventually(check, timeout=20)


async def _count_is(address: str, query: str, n: int) -> bool:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    return (await count(client, query)) == n


async def test_no_temporal_at_startup_then_it_comes_up(server: EmbeddedTemporal, task_queue: str) -> None:
    settings = intake_settings(task_queue, TEMPORAL_ADDRESS=server.address)
    body = template()
    async with http_for(settings, lazy_client(server.address)) as http:
        assert (await http.get("/livez")).status_code == 200
        health = await http.get("/healthz")
        assert health.status_code == 503 and health.json()["checks"]["temporal_reachable"] is False

        t0 = time.monotonic()
        down = await post(http, body)
        assert down.status_code == 503
        assert time.monotonic() - t0 < 5
        detail = down.json()["detail"]
        assert "did not durably accept" in detail and "TEMPORAL_ADDRESS" in detail
        assert server.address in detail and "retries" in detail

        await asyncio.to_thread(server.start)
        await ready(http)
        up = await post(http, body)  # Datadog's retry of the same delivery
        assert up.status_code == 202 and up.json()["status"] == "started", up.text
        again = await post(http, body)
        assert again.json()["status"] == "attached"
    wid = up.json()["investigation_id"]
    await eventually(lambda: _count_is(server.address, f"WorkflowId = '{wid}'", 1))


async def test_temporal_goes_down_and_comes_back(server: EmbeddedTemporal, task_queue: str) -> None:
    settings = intake_settings(task_queue, TEMPORAL_ADDRESS=server.address)
    await asyncio.to_thread(server.start)
    before, during = template(), template()
    async with http_for(settings, lazy_client(server.address), deadline_seconds=2) as http:
        await ready(http)
        assert (await post(http, before)).status_code == 202
        crash(server)

        t0 = time.monotonic()
        first = await post(http, during)  # the SDK retries inside; the deadline answers in time
        assert first.status_code == 503 and time.monotonic() - t0 < 4
        t0 = time.monotonic()
        second = await post(http, during)  # known outage: the health check answers at once
        assert second.status_code == 503 and time.monotonic() - t0 < 1.5
        assert "Retry-After" in second.headers

        await asyncio.to_thread(server.start)  # same database: what was accepted is still there
        await ready(http)
        retried = await post(http, during)
        assert retried.status_code == 202 and retried.json()["status"] == "started", retried.text
        assert (await post(http, before)).json()["status"] == "attached"
    for body in (before, during):
        await eventually(
            lambda b=body: _count_is(server.address, f"SleuthMonitorId = '{b['monitor_id']}'", 1)
        )
