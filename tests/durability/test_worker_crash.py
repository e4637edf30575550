"""kill -9 of the worker process while hypothesis tests are in flight: a new worker process finishes
the investigation, and its findings are posted to Datadog exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from temporalio.client import Client

from sleuth.models.investigation import Report
from sleuth.sandbox import load_truth
from tests.durability.conftest import (
    WORLD,
    WorkerProcess,
    address_of,
    findings,
    fire,
    intake_http,
    max_attempt,
    new_task_queue,
    sandbox,
    started_activities,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.durability


async def test_sigkill_worker_with_tests_in_flight(
    temporal_client: Client, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    tq = new_task_queue()
    async with sandbox(WORLD) as server, intake_http(temporal_client, tq) as http:
        env = worker_env(server, address_of(temporal_client), tq)
        first = WorkerProcess(env, tmp_path / "worker-1.log")
        workers.append(first)
        first.start()
        # Slow log searches keep hypothesis tests running long enough to be killed mid-flight.
        server.faults.add("/api/v2/logs", "slow", times=8, delay_seconds=3.0)
        wid = await fire(http, server.alert_payload())
        handle = temporal_client.get_workflow_handle(wid, result_type=Report)

        in_flight = await wait_until(
            lambda: started_activities(handle, "test_hypothesis"), 90, "hypothesis tests in flight"
        )
        first.kill()
        killed_at = time.monotonic()
        server.faults.clear()  # the slowness only had to keep tests in flight until the kill
        assert not findings(server, wid), "nothing was published before the kill"

        second = WorkerProcess(env, tmp_path / "worker-2.log")
        workers.append(second)
        second.start()
        report = await handle.result(rpc_timeout=None)
        recovered_in = time.monotonic() - killed_at
        posted = findings(server, wid)
        retried = await max_attempt(handle, "test_hypothesis")
        second.stop()

    truth = load_truth(WORLD)
    print(f"\n{in_flight} tests in flight at the kill; finished {recovered_in:.1f}s after it")
    assert in_flight >= 1
    assert retried >= 2, "the killed attempts were retried on the new worker"
    assert report.verdict == truth.verdict
    assert report.root_cause is not None and report.root_cause.service == truth.root_cause_service
    assert all(h.status in ("validated", "invalidated", "inconclusive") for h in report.hypotheses)
    assert len(posted) == 1, f"findings posted {len(posted)} times"
    assert report.publication is not None and report.publication.event_id


@pytest.mark.slow
async def test_sigkill_worker_between_event_and_notebook(
    temporal_client: Client, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """The crash window search-before-create exists for: the event is created, the activity has not
    completed. The retry (after publish's start-to-close timeout: no heartbeat) must not post again."""
    tq = new_task_queue()
    async with sandbox(WORLD) as server, intake_http(temporal_client, tq) as http:
        env = worker_env(server, address_of(temporal_client), tq)
        first = WorkerProcess(env, tmp_path / "worker-1.log")
        workers.append(first)
        first.start()
        server.faults.add("/api/v1/notebooks", "slow", times=1, delay_seconds=15.0)
        wid = await fire(http, server.alert_payload())
        handle = temporal_client.get_workflow_handle(wid, result_type=Report)

        async def event_posted() -> bool:
            return bool(findings(server, wid))

        await wait_until(event_posted, 120, "the findings event", every=0.02)
        first.kill()  # the notebook call is still sleeping: publish_findings never completed
        second = WorkerProcess(env, tmp_path / "worker-2.log")
        workers.append(second)
        second.start()
        report = await handle.result(rpc_timeout=None)
        posted = findings(server, wid)
        notebooks = [
            n for n in server.recorded.notebooks if wid in str(n) or (report.title or "\0") in str(n)
        ]
        attempts = await max_attempt(handle, "publish_findings")
        second.stop()

    assert attempts >= 2, "publish_findings was retried after the crash"
    assert len(posted) == 1, f"findings posted {len(posted)} times"
    assert report.publication is not None and report.publication.event_id
    print(f"\nnotebooks recorded for {wid}: {len(notebooks)}")
