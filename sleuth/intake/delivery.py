"""From a normalised alert to Temporal: start, attach, deliver, or turn away — durably, before the ack.

- Triggered / Re-Triggered: pass the per-(monitor, group) rate limit, then signal-with-start
  InvestigateAlert on the alert cycle's workflow id. USE_EXISTING attaches duplicates and
  re-notifications of the same cycle to the running run; nothing needs a worker to be up.
- Every other transition (Warn, No Data, Renotify, Re-Warn, Recovered, ...) is a signal to the
  running investigation of its cycle; with none running it is answered "ignored", never started.
- $ID dedup happens in the workflow's `alert` signal handler (it keeps the delivery ids it saw).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from sleuth.config import Settings
from sleuth.intake import ratelimit
from sleuth.intake.payload import investigation_id, normalised_scope, utf8_cut
from sleuth.intake.ratelimit import Gate
from sleuth.models.alert import Alert, AlertDelivery
from sleuth.models.requests import InvestigationRequest
from sleuth.workflows import InvestigateAlert
from sleuth.workflows import search_attributes as sa

ALERT_SIGNAL = "alert"  # InvestigateAlert.alert: every delivery of the cycle, the first one included

Status = Literal["started", "attached", "accepted", "delivered", "rate_limited", "completed", "ignored"]


class Accepted(BaseModel):
    """The 202 body. Every status means Temporal durably has what it needs; nothing is pending."""

    investigation_id: str
    status: Status
    detail: str = ""
    run_id: str | None = None
    rate_limit_id: str | None = None
    window_closes_at: datetime | None = None


async def deliver(
    client: Client,
    settings: Settings,
    alert: Alert,
    *,
    rpc_timeout: timedelta,
    orphan_grace: timedelta = ratelimit.ORPHAN_GRACE,
) -> Accepted:
    wid = investigation_id(alert)
    delivery = AlertDelivery(alert=alert, received_at=datetime.now(UTC))
    if not alert.starts_investigation:
        return await _signal(client, wid, delivery, rpc_timeout)

    window = settings.auto_investigation_interval_seconds
    if window <= 0:
        # No rate limit. Without a cycle key the id cannot tell a new cycle from an old one, so a
        # finished investigation must not block the next trigger.
        return await _start_or_report(client, settings, wid, delivery, rpc_timeout, None)

    span = timedelta(seconds=window)
    queue = settings.task_queue
    gate = await ratelimit.acquire(client, alert, wid, span, rpc_timeout, queue)
    if gate.holder != wid and await ratelimit.release_if_orphaned(client, gate, rpc_timeout, orphan_grace):
        gate = await ratelimit.acquire(client, alert, wid, span, rpc_timeout, queue)
    if gate.holder == wid:
        return await _start_or_report(client, settings, wid, delivery, rpc_timeout, gate)

    # Another cycle holds the window. A re-notification of a cycle that is still being
    # investigated (its window ran out mid-cycle) still belongs to its own investigation.
    attached = await _signal(client, wid, delivery, rpc_timeout)
    if attached.status == "delivered":
        return attached.model_copy(update={"status": "attached"})
    recorded = await ratelimit.record_suppressed(client, gate, alert, wid, rpc_timeout)
    return Accepted(
        investigation_id=gate.holder,
        status="rate_limited",
        detail=(
            f"monitor {alert.monitor_id or '?'} group {normalised_scope(alert.scope)} already had an "
            f"automatic investigation ({gate.holder}) in the last {_human(window)}; no new one was started for "
            f"this alert ({wid}){f', which is recorded on {gate.gate_id}' if recorded else ''}. "
            f"The window closes at {gate.closes_at.isoformat()}; to investigate now, terminate "
            f"{gate.gate_id} (temporal workflow terminate --workflow-id {gate.gate_id}) and redeliver."
        ),
        rate_limit_id=gate.gate_id,
        window_closes_at=gate.closes_at,
    )


async def _start_or_report(
    client: Client,
    settings: Settings,
    wid: str,
    delivery: AlertDelivery,
    rpc_timeout: timedelta,
    gate: Gate | None,
) -> Accepted:
    """Start or attach. A cycle whose investigation already finished is not investigated again —
    except where the id is a stand-in for a missing cycle key and the finished run is older than
    the current window (or there is no window): then it was an earlier cycle."""
    keyed = delivery.alert.alert_cycle_key is not None
    try:
        return await _start(client, settings, wid, delivery, rpc_timeout, reuse_closed=not keyed and not gate)
    except WorkflowAlreadyStartedError:
        if not keyed and gate is not None and await _closed_before(client, wid, gate.opened_at, rpc_timeout):
            return await _start(client, settings, wid, delivery, rpc_timeout, reuse_closed=True)
    return Accepted(
        investigation_id=wid,
        status="completed",
        detail=(
            "this alert cycle was already investigated and that investigation has finished; "
            f"see `temporal workflow result --workflow-id {wid}`"
        ),
    )


async def _start(
    client: Client,
    settings: Settings,
    wid: str,
    delivery: AlertDelivery,
    rpc_timeout: timedelta,
    *,
    reuse_closed: bool,
) -> Accepted:
    alert = delivery.alert
    request = InvestigationRequest(
        alert=alert,
        received_at=delivery.received_at,
        budget=settings.budget(),
        model=settings.model,
        task_queue=settings.task_queue,
        namespace=settings.temporal_namespace,
    )
    handle = await client.start_workflow(
        InvestigateAlert.run,
        request,
        id=wid,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A failed or terminated run may be retried by the next delivery; a completed one is final.
        id_reuse_policy=(
            WorkflowIDReusePolicy.ALLOW_DUPLICATE
            if reuse_closed
            else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
        ),
        search_attributes=_search_attributes(alert),
        start_signal=ALERT_SIGNAL,
        start_signal_args=[delivery],
        static_summary=utf8_cut(f"Investigate: {alert.title}", 200) if alert.title else None,
        rpc_timeout=rpc_timeout,
    )
    # The response says whether this call created the run (True) or signalled the existing one.
    started = getattr(getattr(handle, "_start_workflow_response", None), "started", None)
    status: Status = "accepted" if started is None else ("started" if started else "attached")
    return Accepted(
        investigation_id=wid,
        status=status,
        run_id=handle.result_run_id,
        detail=f"{alert.transition}: " + ("investigation started" if started else "delivered to it"),
    )


async def _signal(client: Client, wid: str, delivery: AlertDelivery, rpc_timeout: timedelta) -> Accepted:
    transition = delivery.alert.transition
    try:
        await client.get_workflow_handle(wid).signal(
            InvestigateAlert.alert, delivery, rpc_timeout=rpc_timeout
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        finished = "completed" in err.message.lower()
        return Accepted(
            investigation_id=wid,
            status="ignored",
            detail=(
                f"{transition}: the investigation of this alert cycle has already finished"
                if finished
                else f"{transition}: no investigation of this alert cycle is running; only "
                "Triggered and Re-Triggered start one"
            ),
        )
    what = "recovery recorded on" if delivery.alert.is_recovery else "delivered to"
    return Accepted(
        investigation_id=wid, status="delivered", detail=f"{transition}: {what} the investigation"
    )


async def _closed_before(client: Client, wid: str, when: datetime, rpc_timeout: timedelta) -> bool:
    desc = await client.get_workflow_handle(wid).describe(rpc_timeout=rpc_timeout)
    return desc.close_time is not None and desc.close_time < when


def _human(seconds: float) -> str:
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _search_attributes(alert: Alert) -> TypedSearchAttributes:
    pairs = [SearchAttributePair(sa.PHASE, "received")]
    if alert.monitor_id:
        pairs.append(SearchAttributePair(sa.MONITOR_ID, alert.monitor_id))
    for key, tag in ((sa.SERVICE, "service"), (sa.ENV, "env")):
        value = alert.tag_value(tag)
        if value:
            pairs.append(SearchAttributePair(key, value))
    return TypedSearchAttributes(pairs)
