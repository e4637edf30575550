"""What the LLM roles share: the offline roles they wrap, the token-budget gate, usage and notes.

The offline roles are typed as Protocols so this package does not import the statistical
investigator at module import time (and tests can hand in small fakes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from sleuth.agents.providers.base import Message, ModelProvider, ModelRequest, ModelResponse, Role, ToolSpec
from sleuth.agents.providers.transport import estimate_tokens
from sleuth.models.investigation import Hypothesis, InvestigationContext, Usage
from sleuth.models.requests import ConcludeInput, Conclusion, PlanInput, PlanResult, TestInput, TestResult
from sleuth.models.telemetry import ChangeEvent

log = logging.getLogger("sleuth.agents.llm")

M = TypeVar("M", bound=BaseModel)

# Below this many output tokens an answer is not worth asking for: fall back instead.
MIN_OUTPUT_TOKENS = 128


class Gateway(Protocol):
    """The read side of `sleuth.gateway.DatadogGateway` that the tester's tools use."""

    def query_metrics(
        self, queries: list[str], start: datetime, end: datetime, interval_seconds: int = 60
    ) -> list[Any]: ...

    def search_logs(self, query: str, start: datetime, end: datetime, limit: int = 1000) -> list[Any]: ...

    def search_spans(self, query: str, start: datetime, end: datetime, limit: int = 5000) -> list[Any]: ...

    def search_events(self, query: str, start: datetime, end: datetime) -> list[ChangeEvent]: ...


class PlannerRole(Protocol):
    def plan(self, inp: PlanInput) -> PlanResult: ...


class TesterRole(Protocol):
    def test(self, inp: TestInput, gateway: Any) -> TestResult: ...


class ConcluderRole(Protocol):
    def conclude(self, inp: ConcludeInput) -> Conclusion: ...


Judge = Callable[[Hypothesis, InvestigationContext | None], Hypothesis]


def default_judge() -> Judge:
    """The code judge, `sleuth.agents.judge.judge(h, ctx)`: the only thing that sets a status."""
    from sleuth.agents import judge as judge_module

    fn: Judge = judge_module.judge
    return fn


class BudgetExhausted(Exception):
    """The step's share of the model token budget cannot pay for another call."""


class ModelSession:
    """One role's model calls in one step: enforces `remaining_tokens` and accumulates usage."""

    def __init__(self, provider: ModelProvider, role: Role, remaining_tokens: int) -> None:
        self.provider = provider
        self.role: Role = role
        self.remaining_tokens = remaining_tokens
        self.usage = Usage()

    def check(self, request: ModelRequest) -> ModelRequest:
        # `remaining_tokens <= 0` means nothing is left to spend: a step never calls a model on credit.
        left = self.remaining_tokens - self.usage.tokens - estimate_tokens(len(request.model_dump_json()))
        if left < MIN_OUTPUT_TOKENS:
            raise BudgetExhausted(
                f"model token budget exhausted ({self.usage.tokens} used in this step, "
                f"{self.remaining_tokens} were left)"
            )
        return request.model_copy(update={"max_tokens": min(request.max_tokens, left)})

    async def ask(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        max_tokens: int = 1024,
    ) -> ModelResponse:
        request = self.check(
            ModelRequest(
                role=self.role,
                system=system,
                messages=list(messages),
                tools=tools or [],
                max_tokens=max_tokens,
            )
        )
        response = await self.provider.complete(request)
        self.usage = self.usage.plus(
            Usage(
                model_calls=1,
                input_tokens=response.usage.input_tokens,
                output_tokens=response.usage.output_tokens,
                cost_usd=response.usage.cost_usd,
            )
        )
        return response


def with_note(result: M, note: str, level: int = logging.WARNING) -> M:
    """Record why a step fell back (or what a model added): in `notes` when the result has them, and in the log."""
    log.log(level, "%s: %s", type(result).__name__, note)
    if "notes" in type(result).model_fields:
        notes = list(getattr(result, "notes", []) or [])
        return result.model_copy(update={"notes": [*notes, note]})
    return result


def with_usage(result: M, extra: Usage) -> M:
    usage: Usage = getattr(result, "usage", Usage())
    return result.model_copy(update={"usage": usage.plus(extra)})
