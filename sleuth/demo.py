"""`sleuth demo`: everything embedded, a sandbox incident, its alert fired at the intake, live
progress, the human approval step, and the final report with the `temporal` commands.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
from temporalio.client import WorkflowHandle

from sleuth.config import Settings
from sleuth.models.investigation import Decision, Report, Status
from sleuth.reporting import hypothesis_line, terminal_report
from sleuth.runtime import running_stack
from sleuth.workflows import InvestigateAlert


async def run_demo(
    settings: Settings,
    *,
    world: str | None = None,
    port: int = 8080,
    temporal_port: int = 7233,
    ui_port: int | None = 8233,
    decision: str = "approve",
    say: Any = print,
) -> Report:
    token = settings.webhook_token or secrets.token_urlsafe(16)
    # Each demo fires a new alert cycle. The embedded Temporal keeps the per-monitor rate limit of an
    # earlier demo, which would answer this one with that run's investigation instead of a new one.
    settings = settings.model_copy(
        update={"webhook_token": token, "auto_investigation_interval_seconds": 0.0}
    )
    async with running_stack(
        settings, port=port, temporal_port=temporal_port, ui_port=ui_port, world=world, say=say
    ) as stack:
        if stack.sandbox is None:
            raise RuntimeError(
                "sleuth demo needs the sandbox Datadog: unset DD_API_KEY/DD_APP_KEY/SLEUTH_DATADOG_URL"
            )
        payload = stack.sandbox.alert_payload()
        say(f'\nfiring the monitor\'s webhook: "{payload.get("title")}"')
        async with httpx.AsyncClient(timeout=15) as http:
            resp = await http.post(
                f"{stack.intake_url}/webhooks/datadog", json=payload, headers={"X-Sleuth-Token": token}
            )
        resp.raise_for_status()
        answer = resp.json()
        wid = answer["investigation_id"]
        say(f"intake answered {resp.status_code} ({answer['status']}): investigation {wid}\n")
        handle = stack.client.get_workflow_handle(wid, result_type=Report)
        await follow(handle, decision, say)
        report: Report = await handle.result()
        say(terminal_report(report))
        return report


async def follow(handle: WorkflowHandle[Any, Report], decision: str, say: Any) -> None:
    """Print each phase and each hypothesis state as it changes; take the approval step when asked."""
    shown: dict[str, str] = {}
    phase = ""
    decided = False
    while True:
        try:
            status: Status = await handle.query(InvestigateAlert.status)
        except Exception:  # the run may complete between two polls
            status = None  # type: ignore[assignment]
        if status is not None:
            if status.phase != phase:
                phase = status.phase
                say(f"[phase] {phase}  (round {status.round}, {status.usage.datadog_calls} Datadog calls)")
            for h in status.hypotheses:
                if shown.get(h.id) != h.status:
                    shown[h.id] = h.status
                    say(f"  {hypothesis_line(h)}  — {h.statement[:70]}")
            if status.phase == "awaiting_approval" and status.action and not decided:
                decided = True
                await _decide(handle, status, decision, say)
        desc = await handle.describe()
        if desc.status is not None and desc.status.name != "RUNNING":
            return
        await asyncio.sleep(0.3)


async def _decide(handle: WorkflowHandle[Any, Report], status: Status, decision: str, say: Any) -> None:
    action = status.action
    assert action is not None
    say(f"\nSleuth proposes: {action.description} — it waits for a human.")
    say(
        f'  temporal workflow update execute --workflow-id {handle.id} --name approve --input \'{{"by": "you"}}\''
    )
    say(
        f'  temporal workflow update execute --workflow-id {handle.id} --name reject --input \'{{"by": "you"}}\''
    )
    if decision == "wait":
        say("  (demo: leaving the decision to you; it expires after the approval timeout)\n")
        return
    update = InvestigateAlert.approve if decision == "approve" else InvestigateAlert.reject
    await handle.execute_update(update, Decision(by="sleuth-demo", comment="demo decision"))
    say(f"  demo: {decision}d as 'sleuth-demo'\n")


def main_demo(settings: Settings, **kw: Any) -> int:
    asyncio.run(run_demo(settings, **kw))
    return 0
