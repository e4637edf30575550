"""Thin, typed adapters: each activity builds what it needs from settings and calls the agents.

Settings are read here (never in the workflow); each activity gets its own call budget, carved out
of the investigation's remaining budget by the workflow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from temporalio import activity

from sleuth.activities import names
from sleuth.agents import context as context_agent
from sleuth.agents.roles import investigator_for
from sleuth.config import Settings
from sleuth.gateway import CallBudget, DatadogGateway, GatewayConfig
from sleuth.gateway.io import in_io_thread
from sleuth.models.investigation import Usage
from sleuth.models.requests import (
    ConcludeInput,
    Conclusion,
    GatherContextInput,
    GatherContextResult,
    PlanInput,
    PlanResult,
    TestInput,
    TestResult,
)
from sleuth.observability import metrics, tracing
from sleuth.observability.tools import traced_gateway

T = TypeVar("T")
HEARTBEAT_SECONDS = 1.0


def gateway_config(settings: Settings) -> GatewayConfig:
    return GatewayConfig(
        base_url=settings.datadog_base_url,
        api_key=settings.dd_api_key or "",
        app_key=settings.dd_app_key or "",
        timeout_seconds=settings.datadog_timeout_seconds,
        max_retries=settings.datadog_max_retries,
    )


async def heartbeating(work: Awaitable[T], budget: CallBudget | None = None) -> T:
    """Heartbeat while waiting, so a dead worker is noticed and cancellation can reach us; on
    cancellation, the call budget is cancelled too, so the worker thread stops making calls."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_SECONDS)
            if done:
                return task.result()
            activity.heartbeat()
    except asyncio.CancelledError:
        if budget is not None:
            budget.cancel()
        task.cancel()
        raise


class InvestigationActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        tracing.ensure_enabled()  # LLM Observability, when DD_* settings ask for it

    def _gateway(self, max_calls: int) -> DatadogGateway:
        return traced_gateway(DatadogGateway(gateway_config(self.settings), CallBudget(max_calls)))

    def _role_models(self) -> dict[str, str]:
        return {role: self.settings.model_for(role) for role in ("planner", "summariser", "concluder")}

    @activity.defn(name=names.GATHER_CONTEXT)
    async def gather_context(self, inp: GatherContextInput) -> GatherContextResult:
        alert, wid = inp.alert, inp.investigation_id
        if activity.info().attempt == 1:
            metrics.investigation_started(
                metrics.investigation_tags(
                    alert.monitor_id, alert.tag_value("service"), alert.tag_value("env"), None
                )
            )
        tags = tracing.investigation_tags(
            wid, monitor_id=alert.monitor_id, service=alert.tag_value("service")
        )
        with tracing.investigation(wid, inp.trace, input=alert, tags=tags) as trace:  # the trace's root
            gateway = self._gateway(inp.max_datadog_calls)
            ctx = await heartbeating(
                in_io_thread(context_agent.gather, gateway, inp.alert, inp.now), gateway.budget
            )
            usage = Usage(datadog_calls=gateway.budget.used, datadog_errors=gateway.budget.errors)
            trace.annotate(
                output={"service": ctx.service, "services": ctx.services, "changes": len(ctx.changes)},
                tags=tracing.context_tags(wid, ctx),
                metrics=tracing.usage_metrics(usage),
            )
        return GatherContextResult(context=ctx, usage=usage, trace=trace.trace)

    @activity.defn(name=names.PLAN_HYPOTHESES)
    async def plan_hypotheses(self, inp: PlanInput) -> PlanResult:
        investigator = investigator_for(
            inp.model, self._role_models() if inp.model == self.settings.model else None
        )
        tags = tracing.context_tags(inp.investigation_id, inp.context, inp.model)
        with tracing.activity_span(
            "agent",
            "planner",
            inp.trace,
            investigation_id=inp.investigation_id,
            tags=tags,
            input={"round": inp.round, "tested": len(inp.tested), "hints": [h.text for h in inp.hints]},
        ) as span:
            result = await heartbeating(investigator.plan(inp))
            span.annotate(
                output=[f"{h.service} {h.kind}: {h.statement}" for h in result.hypotheses],
                metrics=tracing.usage_metrics(result.usage),
            )
        return result

    @activity.defn(name=names.TEST_HYPOTHESIS)
    async def test_hypothesis(self, inp: TestInput) -> TestResult:
        investigator = investigator_for(
            inp.model, self._role_models() if inp.model == self.settings.model else None
        )
        h = inp.hypothesis
        tags = {
            **tracing.context_tags(inp.investigation_id, inp.context, inp.model),
            "hypothesis_id": h.id,
            "hypothesis_service": h.service,
            "hypothesis_kind": h.kind,
        }
        with tracing.activity_span(
            "task",
            "test_hypothesis",
            inp.trace,
            investigation_id=inp.investigation_id,
            tags=tags,
            input=h.statement,
        ) as span:
            gateway = self._gateway(inp.max_datadog_calls)  # in the span: its tool spans hang below
            result = await heartbeating(investigator.test(inp, gateway), gateway.budget)
            # The gateway is the one place that knows how many calls were really made.
            usage = result.usage.model_copy(
                update={"datadog_calls": gateway.budget.used, "datadog_errors": gateway.budget.errors}
            )
            judged = result.hypothesis
            span.annotate(
                output={
                    "status": judged.status,
                    "confidence": judged.confidence,
                    "evidence": [e.observation for e in judged.evidence][:12],
                    "gaps": [g.reason for g in judged.gaps][:12],
                },
                metrics=tracing.usage_metrics(usage),
            )
        return result.model_copy(update={"usage": usage})

    @activity.defn(name=names.CONCLUDE)
    async def conclude_investigation(self, inp: ConcludeInput) -> Conclusion:
        investigator = investigator_for(
            inp.model, self._role_models() if inp.model == self.settings.model else None
        )
        with tracing.activity_span(
            "agent",
            "concluder",
            inp.trace,
            investigation_id=inp.investigation_id,
            tags=tracing.context_tags(inp.investigation_id, inp.context, inp.model),
            input=[f"{h.service} {h.kind}: {h.status} ({h.confidence:.2f})" for h in inp.hypotheses],
        ) as span:
            conclusion = await heartbeating(investigator.conclude(inp))
            span.annotate(
                output=conclusion.summary,
                tags={"verdict": conclusion.verdict},
                metrics=tracing.usage_metrics(conclusion.usage),
            )
        return conclusion
