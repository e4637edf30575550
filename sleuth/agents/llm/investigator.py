"""LLMInvestigator: the `Investigator` (sleuth.agents.roles) for `openai:`/`anthropic:` model specs.

Which model serves which step (`STEP_ROLES`): planning uses the planner model; testing — one
call per hypothesis per round, reading digests and picking queries — is the routine, high-volume
work the cheap summariser model is for; the conclusion's prose uses the concluder model. A role
whose spec is `offline` leaves that step to the statistics alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sleuth.agents.llm.concluder import LLMConcluder
from sleuth.agents.llm.planner import LLMPlanner
from sleuth.agents.llm.tester import LLMTester
from sleuth.agents.providers.base import ModelProvider, Role
from sleuth.agents.providers.factory import providers_for
from sleuth.models.requests import ConcludeInput, Conclusion, PlanInput, PlanResult, TestInput, TestResult

STEP_ROLES: dict[str, Role] = {"plan": "planner", "test": "summariser", "conclude": "concluder"}


class LLMInvestigator:
    def __init__(
        self,
        roles: Mapping[str, str | None] | str,
        offline: Any,  # OfflineInvestigator: .planner, .tester, .concluder
        providers: Mapping[Role, ModelProvider | None] | None = None,
        **provider_options: Any,
    ) -> None:
        self.providers: dict[Role, ModelProvider | None] = (
            dict(providers) if providers is not None else providers_for(roles, **provider_options)
        )
        self.planner = LLMPlanner(
            self.providers[STEP_ROLES["plan"]], offline.planner, role=STEP_ROLES["plan"]
        )
        self.tester = LLMTester(self.providers[STEP_ROLES["test"]], offline.tester, role=STEP_ROLES["test"])
        self.concluder = LLMConcluder(
            self.providers[STEP_ROLES["conclude"]], offline.concluder, role=STEP_ROLES["conclude"]
        )

    async def plan(self, inp: PlanInput) -> PlanResult:
        return await self.planner.plan(inp)

    async def test(self, inp: TestInput, gateway: Any) -> TestResult:
        return await self.tester.test(inp, gateway)

    async def conclude(self, inp: ConcludeInput) -> Conclusion:
        return await self.concluder.conclude(inp)
