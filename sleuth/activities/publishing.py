"""Write findings back to Datadog: an event threaded with the alert, and a notebook with the graphs.

Exactly once: before creating anything, look for what an earlier attempt of this same activity may
already have created (tagged with the investigation id), so a retry after a crash never duplicates.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity

from sleuth.activities import names
from sleuth.activities.investigation import gateway_config
from sleuth.config import Settings
from sleuth.gateway import CallBudget, DatadogError, DatadogGateway
from sleuth.gateway.client import NotebookGraph
from sleuth.gateway.io import in_io_thread
from sleuth.models.investigation import ProposedAction, Publication, Report
from sleuth.models.requests import ActionInput, PublishInput
from sleuth.observability import tracing
from sleuth.observability.tools import traced_gateway
from sleuth.reporting import event_tags, event_text, event_title

PUBLISH_CALL_BUDGET = 12


class PublishingActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _gateway(self) -> DatadogGateway:
        return traced_gateway(DatadogGateway(gateway_config(self.settings), CallBudget(PUBLISH_CALL_BUDGET)))

    @activity.defn(name=names.PUBLISH_FINDINGS)
    async def publish_findings(self, inp: PublishInput) -> Publication:
        r = inp.report
        tags = tracing.investigation_tags(
            r.investigation_id, monitor_id=r.monitor_id, service=r.service, env=r.env, model=r.model
        )
        with tracing.activity_span(
            "task", "publish_findings", inp.trace, investigation_id=r.investigation_id, tags=tags
        ) as span:
            publication = await in_io_thread(tracing.carry_context(self._publish), r)
            span.annotate(output=publication)
        return publication

    def _publish(self, report: Report) -> Publication:
        gw = self._gateway()
        tag = f"investigation_id:{report.investigation_id}"
        since = report.timings.started_at - timedelta(hours=1)
        until = report.timings.started_at + timedelta(days=2)
        existing = gw.search_events(f"source:sleuth {tag}", since, until, limit=20)
        finding = next((e for e in existing if tag in e.tags and "sleuth_kind:finding" in e.tags), None)
        event_id = (
            finding.id
            if finding
            else gw.create_event(
                title=event_title(report),
                text=event_text(report),
                tags=[*event_tags(report), "sleuth_kind:finding"],
                aggregation_key=report.monitor_id and (f"monitor-{report.monitor_id}"),
                alert_type="error" if report.verdict == "root_cause_found" else "info",
            )
        )
        notebook_id = None
        gaps = []
        try:
            notebook_id = gw.create_notebook(
                name=f"Sleuth: {report.title or report.investigation_id}",
                markdown=event_text(report).strip("%").strip(),
                graphs=_graphs(report),
                start=report.timings.started_at - timedelta(hours=1),
                end=report.timings.concluded_at or report.timings.started_at,
            )
        except DatadogError as err:
            gaps.append(err.gap("events", "create notebook"))
        return Publication(event_id=event_id or None, notebook_id=notebook_id, gaps=gaps)

    @activity.defn(name=names.EXECUTE_ACTION)
    async def execute_action(self, inp: ActionInput) -> ProposedAction:
        """Records the approved action as a Datadog change event, which is what remediation hooks
        (Workflow Automation, CI) subscribe to; Sleuth itself never touches the system under test."""

        def run() -> ProposedAction:
            gw = self._gateway()
            gw.create_event(
                title=f"[Sleuth] approved {inp.action.kind} of {inp.action.service}",
                text=f"{inp.action.description}\napproved by {inp.action.decided_by or 'unknown'}",
                tags=[
                    "source:sleuth",
                    f"investigation_id:{inp.investigation_id}",
                    f"service:{inp.action.service}",
                    "sleuth_kind:action",
                    f"action:{inp.action.kind}",
                ],
                aggregation_key=inp.monitor_id and f"monitor-{inp.monitor_id}",
                alert_type="warning",
            )
            return inp.action.model_copy(update={"status": "executed"})

        return await in_io_thread(run)


def _graphs(report: Report) -> list[NotebookGraph]:
    seen: list[NotebookGraph] = []
    for h in report.hypotheses:
        if h.status != "validated":
            continue
        for e in h.evidence:
            if e.source == "metrics" and e.supports and " / " not in e.query and len(seen) < 6:
                seen.append(NotebookGraph(title=f"{h.service}: {e.signal}", query=e.query))
    return seen
