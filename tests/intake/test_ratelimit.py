"""One automatic investigation per monitor and alert group per window, enforced by Temporal."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from sleuth.config import Settings
from sleuth.intake import ratelimit
from sleuth.intake.delivery import deliver
from sleuth.intake.payload import WebhookPayload, investigation_id
from tests.intake.conftest import const, count, eventually, http_for, intake_settings, post, template
from tests.intake.test_payload import default_payload
from tests.intake.test_webhook import FinishedRun

RPC = timedelta(seconds=5)


def cycle(monitor: str, **over: object) -> dict[str, object]:
    """A new alert cycle (new cycle key, new $ID) of `monitor` on the default group."""
    return template(monitor_id=monitor, **over)


async def gate_signals(client: Client, gate_id: str) -> int:
    n = 0
    async for event in client.get_workflow_handle(gate_id).fetch_history_events():
        n += event.HasField("workflow_execution_signaled_event_attributes")
    return n


async def test_a_new_cycle_in_the_window_is_answered_with_the_earlier_investigation(
    http: httpx.AsyncClient, client: Client, settings: Settings
) -> None:
    first = cycle("rl1-" + uuid.uuid4().hex[:6])
    monitor = str(first["monitor_id"])
    started = (await post(http, first)).json()
    assert started["status"] == "started"

    second = cycle(monitor)
    limited = await post(http, second)
    assert limited.status_code == 202
    body = limited.json()
    assert body["status"] == "rate_limited"
    assert body["investigation_id"] == started["investigation_id"]
    assert body["rate_limit_id"].startswith(f"sleuth-rate-limit-{settings.task_queue}-{monitor}-")
    assert body["window_closes_at"] and "terminate" in body["detail"]
    assert await gate_signals(client, body["rate_limit_id"]) == 1  # the turned-away alert is on record

    # The same cycle's re-notifications still reach its own investigation.
    again = await post(http, {**first, "id": "renotify-1", "transition": "Re-Triggered"})
    assert again.json()["status"] == "attached"
    assert again.json()["investigation_id"] == started["investigation_id"]
    # The turned-away cycle has no investigation: its later transitions are ignored, not started.
    rec = await post(http, {**second, "id": "rec-2", "transition": "Recovered"})
    assert rec.json()["status"] == "ignored"
    # Other groups of the monitor, and other monitors, have their own windows.
    other_group = await post(http, cycle(monitor, scope="service:search,env:prod"))
    assert other_group.json()["status"] == "started"
    assert (await post(http, cycle(monitor + "x"))).json()["status"] == "started"
    await eventually(lambda: _n(client, f"SleuthMonitorId = '{monitor}'", 2))


async def _n(client: Client, query: str, n: int) -> bool:
    return await count(client, query) == n


async def test_concurrent_cycles_and_intake_replicas_start_exactly_one(
    client: Client, task_queue: str
) -> None:
    settings = intake_settings(task_queue)
    monitor = "rl2-" + uuid.uuid4().hex[:6]
    # Two intake instances (replicas, or one before and one after a restart) share only Temporal.
    async with http_for(settings, const(client)) as a, http_for(settings, const(client)) as b:
        replies = await asyncio.gather(*(post((a, b)[i % 2], cycle(monitor)) for i in range(12)))
        assert {r.status_code for r in replies} == {202}
        statuses = sorted(r.json()["status"] for r in replies)
        assert statuses == ["rate_limited"] * 11 + ["started"]
        assert len({r.json()["investigation_id"] for r in replies}) == 1
    async with http_for(settings, const(client)) as restarted:
        assert (await post(restarted, cycle(monitor))).json()["status"] == "rate_limited"
    await eventually(lambda: _n(client, f"SleuthMonitorId = '{monitor}'", 1))


async def test_the_window_is_configurable_and_closes_by_itself(client: Client, task_queue: str) -> None:
    settings = intake_settings(task_queue, SLEUTH_RATE_LIMIT_SECONDS=1.5)
    monitor = "rl3-" + uuid.uuid4().hex[:6]
    async with http_for(settings, const(client)) as http:
        first = (await post(http, cycle(monitor))).json()
        assert first["status"] == "started"
        limited = (await post(http, cycle(monitor))).json()
        assert limited["status"] == "rate_limited" and "1.5s" in limited["detail"]
        gate = client.get_workflow_handle(limited["rate_limit_id"])

        async def closed() -> bool:
            return (await gate.describe()).status == WorkflowExecutionStatus.TIMED_OUT

        await eventually(closed, timeout=15)
        assert (await post(http, cycle(monitor))).json()["status"] == "started"


async def test_zero_disables_the_rate_limit(client: Client, task_queue: str) -> None:
    settings = intake_settings(task_queue, SLEUTH_RATE_LIMIT_SECONDS=0)
    monitor = "rl4-" + uuid.uuid4().hex[:6]
    async with http_for(settings, const(client)) as http:
        for _ in range(2):
            assert (await post(http, cycle(monitor))).json()["status"] == "started"


async def test_a_crash_between_gate_and_start_is_repaired_by_the_retry(
    http: httpx.AsyncClient, client: Client, settings: Settings
) -> None:
    body = cycle("rl5-" + uuid.uuid4().hex[:6])
    alert = WebhookPayload.model_validate(body).to_alert()
    wid = investigation_id(alert)
    # An earlier attempt opened the window for this alert, then died before starting it.
    await ratelimit.acquire(client, alert, wid, timedelta(hours=1), RPC, settings.task_queue)
    retried = (await post(http, body)).json()
    assert retried["status"] == "started" and retried["investigation_id"] == wid


async def test_an_orphaned_window_is_released(client: Client, settings: Settings) -> None:
    ghost = cycle("rl6-" + uuid.uuid4().hex[:6])
    ghost_alert = WebhookPayload.model_validate(ghost).to_alert()
    gate = await ratelimit.acquire(
        client, ghost_alert, investigation_id(ghost_alert), timedelta(hours=1), RPC, settings.task_queue
    )
    assert gate.opened_now
    fresh = WebhookPayload.model_validate(cycle(str(ghost["monitor_id"]))).to_alert()
    # Within the grace the window is respected: its intake may be starting the investigation now.
    held = await deliver(client, settings, fresh, rpc_timeout=RPC)
    assert held.status == "rate_limited"
    released = await deliver(client, settings, fresh, rpc_timeout=RPC, orphan_grace=timedelta(0))
    assert released.status == "started" and released.investigation_id == investigation_id(fresh)
    old = await client.get_workflow_handle(gate.gate_id, run_id=gate.run_id).describe()
    assert old.status == WorkflowExecutionStatus.TERMINATED


async def test_without_a_cycle_key_a_finished_run_from_an_earlier_window_does_not_block(
    http: httpx.AsyncClient, client: Client
) -> None:
    """Datadog's default payload has no cycle key: the id cannot tell cycles apart, the window can."""
    monitor = str(uuid.uuid4().int % 10**9)
    link = f"[[Monitor Status](https://app.datadoghq.com/monitors/{monitor})]"
    trigger = default_payload("[Triggered on {host:z}] disk full", link, "d-1")
    wid = investigation_id(WebhookPayload.model_validate(trigger).to_alert())
    queue = f"finished-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client, task_queue=queue, workflows=[FinishedRun], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        await client.execute_workflow(FinishedRun.run, id=wid, task_queue=queue)  # an earlier cycle
    resp = (await post(http, trigger)).json()
    assert resp["status"] == "started" and resp["investigation_id"] == wid
    # A later cycle in this window reuses the id and finds this run: it attaches, it does not start.
    later = (await post(http, default_payload("[Triggered on {host:z}] disk full", link, "d-2"))).json()
    assert later["status"] == "attached" and later["run_id"] == resp["run_id"]
