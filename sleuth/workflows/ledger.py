"""What an investigation has spent and may still spend: Datadog calls, model tokens and cost, and
time to its deadline. Plain and deterministic: the workflow hands in its own clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from sleuth.models.investigation import Budget, Usage

UNLIMITED_TOKENS = 10**12  # max_model_tokens = 0 means no token budget
TOKENS_SPENT = "model token budget exhausted"
COST_SPENT = "model cost budget exhausted"
DATADOG_SPENT = "Datadog call budget exhausted"
DEADLINE = "deadline reached"


class Ledger:
    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.usage = Usage()
        self.deadline: datetime | None = None
        self.model_budget_exhausted = False  # a model step said so, whatever the count shows

    def start(self, at: datetime) -> None:
        self.deadline = at + timedelta(seconds=self.budget.deadline_seconds)

    def add(self, usage: Usage, *, model_budget_exhausted: bool = False) -> None:
        self.usage = self.usage.plus(usage)
        self.model_budget_exhausted |= model_budget_exhausted

    def spent(self, now: datetime) -> list[str]:
        """Every budget that has run out, in the order they are reported."""
        b, u = self.budget, self.usage
        out = []
        if u.datadog_calls >= b.max_datadog_calls:
            out.append(DATADOG_SPENT)
        if b.max_model_tokens and (u.tokens >= b.max_model_tokens or self.model_budget_exhausted):
            out.append(TOKENS_SPENT)
        if b.max_cost_usd and u.cost_usd >= b.max_cost_usd:
            out.append(COST_SPENT)
        if self.seconds_left(now) <= 0:
            out.append(DEADLINE)
        return out

    def seconds_left(self, now: datetime) -> float:
        assert self.deadline is not None, "start() sets the deadline"
        return (self.deadline - now).total_seconds()

    def bounded(self, timeout: timedelta, now: datetime) -> timedelta:
        """An activity's timeout, cut to the time left (but at least a second) while there is any."""
        left = self.seconds_left(now)
        return timedelta(seconds=max(1.0, min(timeout.total_seconds(), left))) if left > 0 else timeout

    def remaining_calls(self) -> int:
        return max(0, self.budget.max_datadog_calls - self.usage.datadog_calls)

    def remaining_tokens(self, share: int = 1) -> int:
        """Tokens a step may spend; `share` splits them between steps that run in parallel."""
        if not self.budget.max_model_tokens:
            return UNLIMITED_TOKENS
        return max(0, self.budget.max_model_tokens - self.usage.tokens) // max(1, share)
