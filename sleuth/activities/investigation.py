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

T = TypeVar("T")
HEARTBEAT_SECONDS = 5.0


def gateway_config(settings: Settings) -> GatewayConfig:
    return GatewayConfig(
        base_url=settings.datadog_base_url,
        api_key=settings.dd_api_key or "",
        app_key=settings.dd_app_key or "",
        timeout_seconds=settings.datadog_timeout_seconds,
        max_retries=settings.datadog_max_retries,
    )


async def heartbeating(work: Awaitable[T]) -> T:
    """Heartbeat while waiting, so a dead worker is noticed and cancellation can reach us."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_SECONDS)
        if done:
            return task.result()
        activity.heartbeat()


class InvestigationActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _gateway(self, max_calls: int) -> DatadogGateway:
        return DatadogGateway(gateway_config(self.settings), CallBudget(max_calls))

    def _role_models(self) -> dict[str, str]:
        return {role: self.settings.model_for(role) for role in ("planner", "summariser", "concluder")}

    @activity.defn(name=names.GATHER_CONTEXT)
    async def gather_context(self, inp: GatherContextInput) -> GatherContextResult:
        gateway = self._gateway(inp.max_datadog_calls)
        ctx = await heartbeating(asyncio.to_thread(context_agent.gather, gateway, inp.alert, inp.now))
        return GatherContextResult(
            context=ctx,
            usage=Usage(datadog_calls=gateway.budget.used, datadog_errors=gateway.budget.errors),
            trace=inp.trace,
        )

    @activity.defn(name=names.PLAN_HYPOTHESES)
    async def plan_hypotheses(self, inp: PlanInput) -> PlanResult:
        investigator = investigator_for(
            inp.model, self._role_models() if inp.model == self.settings.model else None
        )
        return await heartbeating(investigator.plan(inp))

    @activity.defn(name=names.TEST_HYPOTHESIS)
    async def test_hypothesis(self, inp: TestInput) -> TestResult:
        gateway = self._gateway(inp.max_datadog_calls)
        investigator = investigator_for(
            inp.model, self._role_models() if inp.model == self.settings.model else None
        )
        result = await heartbeating(investigator.test(inp, gateway))
        # The gateway is the one place that knows how many calls were really made.
        usage = result.usage.model_copy(
            update={"datadog_calls": gateway.budget.used, "datadog_errors": gateway.budget.errors}
        )
        return result.model_copy(update={"usage": usage})

    @activity.defn(name=names.CONCLUDE)
    async def conclude_investigation(self, inp: ConcludeInput) -> Conclusion:
        investigator = investigator_for(
            inp.model, self._role_models() if inp.model == self.settings.model else None
        )
        return await heartbeating(investigator.conclude(inp))
