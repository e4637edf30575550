"""Webhook → durable investigation → findings, on the real Temporal dev server and the sandbox Datadog."""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from sleuth.models.investigation import Decision, Hint, Report, StopRequest
from sleuth.sandbox import load_truth
from sleuth.workflows import InvestigateAlert
from tests.harness import harness, world_with


async def test_webhook_to_findings_event_with_contract_tags(temporal_client: Client) -> None:
    world = world_with(kind="deployment")
    truth = load_truth(world)
    async with harness(temporal_client, world, approval_timeout=1) as h:
        wid = await h.fire()
        raw = await h.handle(wid).result()
    report = Report.model_validate(raw.model_dump())
    assert report.verdict == "root_cause_found"
    assert report.root_cause is not None and report.root_cause.service == truth.root_cause_service
    assert report.hypotheses and all(
        x.status in ("validated", "invalidated", "inconclusive") for x in report.hypotheses
    )
    assert any(e.query and e.observation for x in report.hypotheses for e in x.evidence)
    assert report.usage.datadog_calls > 0
    events = h.events("finding")
    assert len(events) == 1
    tags = set(events[0]["tags"])
    assert {
        "source:sleuth",
        f"investigation_id:{wid}",
        "verdict:root_cause_found",
        f"root_cause_service:{truth.root_cause_service}",
        f"root_cause_kind:{report.root_cause.kind}",
    } <= tags
    assert any(t.startswith("monitor_id:") for t in tags)
    assert "temporal workflow" in events[0]["text"]
    assert h.server.recorded.notebooks, "a notebook with the evidence is published too"


async def test_duplicate_webhook_attaches_to_one_workflow(temporal_client: Client) -> None:
    async with harness(temporal_client, world_with(), run_worker=False) as h:
        payload = h.server.alert_payload()
        ids = await asyncio.gather(*(h.fire(**payload) for _ in range(5)))
        assert len(set(ids)) == 1
        handle = h.handle(ids[0])
        desc = await handle.describe()
        runs = [w async for w in temporal_client.list_workflows(f"WorkflowId = '{ids[0]}'")]
        assert len(runs) == 1 and runs[0].run_id == desc.run_id
        await handle.terminate("test over")


async def test_stop_ends_the_run_within_five_seconds_with_partial_findings(temporal_client: Client) -> None:
    async with harness(temporal_client, world_with()) as h:
        # Slow Datadog answers keep hypothesis tests in flight when the stop arrives.
        h.server.faults.add("/api/v2/logs", "slow", times=100, delay_seconds=4.0)
        wid = await h.fire()
        await h.wait_phase(wid, "testing")
        t0 = time.monotonic()
        await h.handle(wid).signal(InvestigateAlert.stop, StopRequest(by="alice", reason="false alarm"))
        while (await h.handle(wid).describe()).status.name == "RUNNING" and time.monotonic() - t0 < 10:  # type: ignore[union-attr]
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - t0
        report = await h.handle(wid).result()
        h.server.faults.clear()
    assert elapsed < 5.0, f"stop took {elapsed:.1f}s"
    assert report.verdict == "stopped"
    assert report.stopped_by is not None and report.stopped_by.by == "alice"
    assert "alice" in (report.stop_reason or "")
    assert report.publication is not None and report.publication.event_id
    assert report.action is None


async def test_approve_executes_the_action_and_reject_does_not(temporal_client: Client) -> None:
    world = world_with(kind="deployment")
    for decision in ("approve", "reject"):
        async with harness(temporal_client, world, approval_timeout=60) as h:
            wid = await h.fire(alert_cycle_key=f"cycle-{decision}")
            st = await h.wait_phase(wid, "awaiting_approval")
            assert st.action is not None and st.action.status == "proposed"
            update = InvestigateAlert.approve if decision == "approve" else InvestigateAlert.reject
            await h.handle(wid).execute_update(update, Decision(by="bob", comment="ok"))
            # A second decision is refused: by the validator while the investigation is open, or by
            # Temporal when the first decision already let it finish (a rejection ends it at once).
            with pytest.raises((WorkflowUpdateFailedError, RPCError)) as second:
                await h.handle(wid).execute_update(update, Decision(by="mallory"))
            if isinstance(second.value, RPCError):
                assert "closing workflow" in str(second.value) or "already completed" in str(second.value)
            report = await h.handle(wid).result()
            assert report.action is not None and report.action.decided_by == "bob"
            if decision == "approve":
                assert report.action.status == "executed" and report.action.decided_by == "bob"
                assert len(h.events("action")) == 1
            else:
                assert report.action.status == "rejected"
                assert h.events("action") == []


async def test_approval_refused_when_nothing_awaits_and_expires_unexecuted(temporal_client: Client) -> None:
    async with harness(temporal_client, world_with(kind="deployment"), approval_timeout=1) as h:
        wid = await h.fire()
        with pytest.raises(WorkflowUpdateFailedError):
            await h.handle(wid).execute_update(InvestigateAlert.approve, Decision(by="eve"))
        report = await h.handle(wid).result()
        assert report.action is not None and report.action.status == "expired"
        assert h.events("action") == []


async def test_a_hint_is_tested_in_the_next_round(temporal_client: Client) -> None:
    world = world_with()
    truth = load_truth(world)
    async with harness(temporal_client, world, approval_timeout=1) as h:
        wid = await h.fire()
        await h.handle(wid).signal(
            InvestigateAlert.hint,
            Hint(text="look at the cache", service=truth.root_cause_service, kind="network", by="carol"),
        )
        report = await h.handle(wid).result()
    human = [x for x in report.hypotheses if x.origin == "human"]
    assert human and human[0].service == truth.root_cause_service and human[0].kind == "network"
    assert human[0].status in ("validated", "invalidated", "inconclusive")
    assert report.hints and report.hints[0].by == "carol"


@pytest.mark.parametrize(
    ("setting", "value", "reason"),
    [
        ("SLEUTH_MAX_DATADOG_CALLS", 8, "Datadog call budget exhausted"),
        ("SLEUTH_DEADLINE_SECONDS", 2, "deadline reached"),
        ("SLEUTH_MAX_ROUNDS", 1, None),
    ],
)
async def test_budget_exhaustion_concludes_with_partial_findings(
    temporal_client: Client, setting: str, value: int, reason: str | None
) -> None:
    world = world_with()
    async with harness(temporal_client, world, approval_timeout=1, **{setting: value}) as h:
        if setting == "SLEUTH_DEADLINE_SECONDS":
            h.server.faults.add("/api/v2/logs", "slow", times=100, delay_seconds=3.0)
        wid = await h.fire()
        report = await h.handle(wid).result()
    assert report.verdict in ("root_cause_found", "inconclusive")
    assert report.publication is not None and report.publication.event_id
    if reason:
        assert report.stop_reason == reason
    if setting == "SLEUTH_MAX_ROUNDS":
        assert {x.round for x in report.hypotheses} == {1}
    if setting == "SLEUTH_MAX_DATADOG_CALLS":
        assert report.usage.datadog_calls <= value + 2  # publishing has its own small allowance


async def test_a_deadline_passing_while_the_context_is_gathered_still_concludes(
    temporal_client: Client,
) -> None:
    """Every span search takes 3 s, the deadline is 2 s: it passes before the context is in. The context
    is still gathered whole (there is nothing to conclude from without it); no hypothesis is tested, each
    planned one says the deadline left it untested, and the report says the deadline ended the work."""
    world = world_with()
    async with harness(temporal_client, world, approval_timeout=1, SLEUTH_DEADLINE_SECONDS=2) as h:
        h.server.faults.add("/api/v2/spans", "slow", times=100, delay_seconds=3.0)
        started = time.monotonic()
        wid = await h.fire()
        report = await h.handle(wid).result()
        seconds = time.monotonic() - started
    assert report.verdict == "inconclusive", (report.verdict, report.summary, report.gaps)
    assert report.stop_reason == "deadline reached"
    assert report.service == load_truth(world).alert_service
    assert all(x.status == "inconclusive" for x in report.hypotheses)
    assert all(any(g.reason == "not tested: deadline reached" for g in x.gaps) for x in report.hypotheses)
    assert report.publication is not None and report.publication.event_id
    assert seconds < 60
