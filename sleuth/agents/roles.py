"""The investigator's three roles behind one async interface, whatever model drives them.

`offline` runs the statistical reasoner; an LLM model spec wraps it so that the LLM can add
hypotheses, queries and prose, while the offline code stays the fallback and the judge.
"""

from __future__ import annotations

from typing import Protocol

from sleuth.agents.concluder import OfflineConcluder
from sleuth.agents.planner import OfflinePlanner
from sleuth.agents.tester import OfflineTester
from sleuth.gateway import DatadogGateway
from sleuth.gateway.io import in_io_thread
from sleuth.models.requests import ConcludeInput, Conclusion, PlanInput, PlanResult, TestInput, TestResult


class Investigator(Protocol):
    async def plan(self, inp: PlanInput) -> PlanResult: ...

    async def test(self, inp: TestInput, gateway: DatadogGateway) -> TestResult: ...

    async def conclude(self, inp: ConcludeInput) -> Conclusion: ...


class OfflineInvestigator:
    """Statistics only. Gateway calls block, so the tester runs in a worker thread."""

    def __init__(self) -> None:
        self.planner = OfflinePlanner()
        self.tester = OfflineTester()
        self.concluder = OfflineConcluder()

    async def plan(self, inp: PlanInput) -> PlanResult:
        return self.planner.plan(inp)

    async def test(self, inp: TestInput, gateway: DatadogGateway) -> TestResult:
        return await in_io_thread(self.tester.test, inp, gateway)

    async def conclude(self, inp: ConcludeInput) -> Conclusion:
        return self.concluder.conclude(inp)


def investigator_for(model: str, role_models: dict[str, str] | None = None) -> Investigator:
    """`offline`, or an LLM spec such as `openai:gpt-4o-mini` / `anthropic:claude-sonnet-4-5`."""
    offline = OfflineInvestigator()
    roles = {"planner": model, "summariser": model, "concluder": model, **(role_models or {})}
    if all(spec == "offline" for spec in roles.values()):
        return offline
    from sleuth.agents.llm.investigator import LLMInvestigator

    return LLMInvestigator(roles, offline)
