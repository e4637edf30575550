"""At most one automatic investigation per monitor and alert group per window, enforced by Temporal.

Why a workflow and not a counter in the intake, or a visibility query:
- A counter in the intake is lost on restart and not shared between intake replicas.
- A visibility query ("any InvestigateAlert for this monitor and scope since T?") is eventually
  consistent: two new alert cycles arriving together both see nothing and both start.
- Workflow-id uniqueness is the one atomic test-and-set Temporal offers. The gate is a workflow
  whose id names the (deployment, monitor, group) triple (see payload.rate_limit_id). Starting it with the FAIL conflict policy either
  succeeds — this alert opened the window — or reports the run that holds the window; its memo
  names the investigation that was admitted. The window closes by itself: the gate's execution
  timeout equals the window, and no worker ever runs it.

The gate is started with a start delay equal to the window, so it never even schedules a
workflow task on its (deliberately unpolled) task queue: it is a durable, visible lease and
nothing else. Operators see it with `temporal workflow list --query "WorkflowType='SleuthRateLimit'"`,
and terminating it lets the next alert of that group start an investigation at once. Alerts it
turned away are recorded on it as signals (`temporal workflow show --workflow-id <gate>`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from sleuth.intake.payload import normalised_scope, rate_limit_id, utf8_cut
from sleuth.models.alert import Alert

log = logging.getLogger(__name__)

GATE_WORKFLOW = "SleuthRateLimit"
GATE_TASK_QUEUE = "sleuth-rate-limit"  # no worker polls this queue, by design
SUPPRESSED_SIGNAL = "suppressed_alert"
HOLDER = "investigation_id"
# A gate whose investigation does not exist this long after the gate opened was orphaned: the
# intake that opened it failed before starting the investigation and Datadog stopped retrying.
ORPHAN_GRACE = timedelta(seconds=60)


class GateContention(RuntimeError):
    """The window closed and reopened under us three times in a row: answer 503, Datadog retries."""


@dataclass(frozen=True)
class Gate:
    gate_id: str
    run_id: str | None
    holder: str
    opened_at: datetime
    window: timedelta
    opened_now: bool  # this delivery opened the window

    @property
    def closes_at(self) -> datetime:
        return self.opened_at + self.window


async def acquire(
    client: Client,
    alert: Alert,
    investigation: str,
    window: timedelta,
    rpc_timeout: timedelta,
    deployment: str,
) -> Gate:
    """Open the window for `investigation`, or return the gate that already holds it."""
    gate_id = rate_limit_id(alert, deployment)
    for _ in range(3):
        try:
            handle = await client.start_workflow(
                GATE_WORKFLOW,
                investigation,
                id=gate_id,
                task_queue=GATE_TASK_QUEUE,
                execution_timeout=window,
                start_delay=window,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                memo={
                    HOLDER: investigation,
                    "monitor_id": alert.monitor_id,
                    "scope": normalised_scope(alert.scope),
                    "window_seconds": window.total_seconds(),
                },
                static_summary=utf8_cut(
                    f"rate limit: monitor {alert.monitor_id or '?'} {normalised_scope(alert.scope)}", 190
                ),
                static_details=(
                    f"One automatic investigation per monitor and alert group per {window}. "
                    f"Admitted: {investigation}. Terminate this workflow to let the next alert start one."
                ),
                rpc_timeout=rpc_timeout,
            )
            return Gate(gate_id, handle.result_run_id, investigation, datetime.now(UTC), window, True)
        except WorkflowAlreadyStartedError as err:
            desc = await client.get_workflow_handle(gate_id, run_id=err.run_id).describe(
                rpc_timeout=rpc_timeout
            )
            if desc.status != WorkflowExecutionStatus.RUNNING:
                continue  # the window closed between our start and describe: try to open a new one
            holder = await desc.memo_value(HOLDER, default=None)
            return Gate(gate_id, err.run_id, str(holder), desc.start_time, window, False)
    raise GateContention(f"the rate-limit gate {gate_id} kept opening and closing; retry")


async def release_if_orphaned(
    client: Client, gate: Gate, rpc_timeout: timedelta, grace: timedelta = ORPHAN_GRACE
) -> bool:
    """Terminate a gate whose admitted investigation was never started (see ORPHAN_GRACE).

    Only that exact run is terminated, so concurrent callers cannot release a newer gate. The
    grace keeps us from stealing a window whose intake is, right now, starting the investigation.
    """
    if datetime.now(UTC) - gate.opened_at < grace:
        return False
    try:
        await client.get_workflow_handle(gate.holder).describe(rpc_timeout=rpc_timeout)
        return False
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    log.warning(
        "rate-limit gate %s admitted %s, which never started: releasing it", gate.gate_id, gate.holder
    )
    try:
        await client.get_workflow_handle(gate.gate_id, run_id=gate.run_id).terminate(
            reason=f"orphaned: {gate.holder} was never started", rpc_timeout=rpc_timeout
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:  # someone else released it, or it timed out
            raise
    return True


async def record_suppressed(
    client: Client, gate: Gate, alert: Alert, investigation: str, rpc_timeout: timedelta
) -> bool:
    """Keep a durable trace of an alert the window turned away, on the gate's own history.

    Best effort: the answer to Datadog is the same either way, and a gate that hit a history or
    signal limit must not turn a rate-limited alert into a 5xx storm of retries.
    """
    record: dict[str, Any] = {
        "delivery_id": alert.delivery_id,
        "alert_cycle_key": alert.alert_cycle_key,
        "investigation_id": investigation,
        "transition": alert.transition,
        "title": alert.title[:200],
        "received_at": datetime.now(UTC).isoformat(),
    }
    try:
        await client.get_workflow_handle(gate.gate_id, run_id=gate.run_id).signal(
            SUPPRESSED_SIGNAL, record, rpc_timeout=rpc_timeout
        )
        return True
    except RPCError as err:
        log.warning("could not record suppressed alert on %s: %s", gate.gate_id, err)
        return False
