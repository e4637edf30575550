"""The embedded Temporal dev server goes away mid-investigation and comes back on the same db file:
the investigation resumes from what Temporal persisted and completes, publishing once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sleuth.config import Settings
from sleuth.models.investigation import Report
from sleuth.runtime import free_port
from sleuth.sandbox import load_truth
from sleuth.temporal_server import EmbeddedTemporal
from sleuth.worker import build_worker, connect
from tests.durability.conftest import (
    WORLD,
    findings,
    fire,
    intake_http,
    new_task_queue,
    sandbox,
    scheduled,
    started_activities,
    wait_until,
)

pytestmark = pytest.mark.durability


def _kill(server: EmbeddedTemporal) -> None:
    if server.process is not None and server.process.poll() is None:
        server.process.kill()
        server.process.wait(10)


@pytest.mark.parametrize("how", ["stop", pytest.param("kill", marks=pytest.mark.slow)])
async def test_temporal_restart_mid_investigation(tmp_path: Path, how: str) -> None:
    embedded = EmbeddedTemporal(tmp_path / "temporal.db", port=free_port(), ui_port=None)
    await asyncio.to_thread(embedded.start)
    tq = new_task_queue()
    try:
        client = await connect(embedded.address)
        async with sandbox(WORLD) as server, intake_http(client, tq) as http:
            settings = Settings(
                TEMPORAL_ADDRESS=embedded.address,
                SLEUTH_TASK_QUEUE=tq,
                SLEUTH_DATADOG_URL=server.url,
                DD_API_KEY=server.ctx.api_key,
                DD_APP_KEY=server.ctx.app_key,
                SLEUTH_DATADOG_TIMEOUT=5,
                SLEUTH_DATADOG_MAX_RETRIES=2,
            )
            server.faults.add("/api/v2/logs", "slow", times=6, delay_seconds=2.0)
            async with build_worker(client, settings, max_concurrent_activities=16):
                wid = await fire(http, server.alert_payload())
                handle = client.get_workflow_handle(wid, result_type=Report)
                await wait_until(lambda: started_activities(handle, "test_hypothesis"), 90, "tests in flight")
                run_id = (await handle.describe()).run_id

                t0 = time.monotonic()
                if how == "stop":
                    await asyncio.to_thread(embedded.stop)  # SIGTERM: the server shuts down in order
                else:
                    await asyncio.to_thread(_kill, embedded)  # SIGKILL: only what SQLite committed survives
                server.faults.clear()  # the slowness only had to keep tests in flight until now
                await asyncio.sleep(1.0)  # the worker's polls, heartbeats and completions fail meanwhile
                await asyncio.to_thread(embedded.start)  # same db file, same port
                report = await asyncio.wait_for(handle.result(rpc_timeout=None), 150)
                recovered_in = time.monotonic() - t0
                resumed = (await handle.describe()).run_id == run_id
                gathered = await scheduled(handle, "gather_context")
            posted = findings(server, wid)
    finally:
        await asyncio.to_thread(_kill, embedded)

    truth = load_truth(WORLD)
    print(f"\n[{how}] finished {recovered_in:.1f}s after the server went down")
    assert report.verdict == truth.verdict
    assert report.root_cause is not None and report.root_cause.service == truth.root_cause_service
    assert resumed, "the same run continued (nothing was restarted from scratch)"
    assert gathered == 1, "work finished before the outage was not done again"
    assert len(posted) == 1, f"findings posted {len(posted)} times"
    assert report.publication is not None and report.publication.event_id
