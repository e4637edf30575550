"""The investigation's ledger: what is spent, what is left, which budget ran out first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sleuth.models.investigation import Budget, Usage
from sleuth.workflows.ledger import (
    COST_SPENT,
    DATADOG_SPENT,
    DEADLINE,
    TOKENS_SPENT,
    UNLIMITED_TOKENS,
    Ledger,
)

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def ledger(**budget: float) -> Ledger:
    led = Ledger(Budget(**budget))  # type: ignore[arg-type]
    led.start(T0)
    return led


def test_nothing_is_spent_at_the_start() -> None:
    led = ledger(max_datadog_calls=10, max_model_tokens=100, deadline_seconds=60)
    assert led.spent(T0) == []
    assert led.remaining_calls() == 10 and led.remaining_tokens() == 100
    assert led.seconds_left(T0 + timedelta(seconds=15)) == 45


def test_every_spent_budget_is_named_in_order() -> None:
    led = ledger(max_datadog_calls=10, max_model_tokens=100, max_cost_usd=1.0, deadline_seconds=60)
    led.add(Usage(datadog_calls=10, input_tokens=90, output_tokens=10, cost_usd=1.0))
    assert led.spent(T0 + timedelta(seconds=61)) == [DATADOG_SPENT, TOKENS_SPENT, COST_SPENT, DEADLINE]
    assert led.remaining_calls() == 0 and led.remaining_tokens() == 0


def test_a_model_step_can_declare_the_token_budget_spent() -> None:
    led = ledger(max_model_tokens=1_000)
    led.add(Usage(input_tokens=5), model_budget_exhausted=True)
    assert led.spent(T0) == [TOKENS_SPENT]
    led.add(Usage())
    assert led.spent(T0) == [TOKENS_SPENT], "once exhausted, it stays exhausted"


def test_parallel_steps_share_the_tokens_left_and_zero_means_unlimited() -> None:
    led = ledger(max_model_tokens=1_000)
    led.add(Usage(input_tokens=200))
    assert led.remaining_tokens(share=4) == 200
    assert ledger(max_model_tokens=0).remaining_tokens() == UNLIMITED_TOKENS
    assert ledger(max_model_tokens=0).spent(T0) == []


def test_timeouts_are_cut_to_the_time_left_but_never_below_a_second() -> None:
    led = ledger(deadline_seconds=30)
    assert led.bounded(timedelta(seconds=90), T0) == timedelta(seconds=30)
    assert led.bounded(timedelta(seconds=90), T0 + timedelta(seconds=29.5)) == timedelta(seconds=1)
    assert led.bounded(timedelta(seconds=10), T0) == timedelta(seconds=10)
