"""Scoring a finished investigation against hidden ground truth, and the suite's scorecard."""

from __future__ import annotations

import statistics
from datetime import datetime

from pydantic import BaseModel, Field

from sleuth.models.investigation import Report


class Truth(BaseModel):
    """What evaluation knows and the investigator must not: the real cause of a case."""

    service: str
    kind: str
    verdict: str = "root_cause_found"


class CaseResult(BaseModel):
    case: str
    truth: Truth
    verdict: str
    predicted_service: str | None = None
    predicted_kind: str | None = None
    ranked_services: list[str] = Field(default_factory=list)
    top1: bool
    top3: bool
    top5: bool
    kind_correct: bool
    hypothesis_state_accuracy: float
    seconds_to_first_finding: float | None = None
    seconds_to_conclusion: float | None = None
    tokens: int = 0
    cost_usd: float = 0.0
    datadog_calls: int = 0
    error: str | None = None


class Scorecard(BaseModel):
    dataset: str
    model: str
    commit: str
    created_at: datetime
    machine: str
    cases: list[CaseResult]
    ac1: float
    ac3: float
    ac5: float
    kind_accuracy: float
    hypothesis_state_accuracy: float
    p50_seconds_to_conclusion: float | None
    p90_seconds_to_conclusion: float | None
    mean_tokens: float
    mean_cost_usd: float
    mean_datadog_calls: float


def top_k(truth: Truth, verdict: str, root_service: str | None, ranked: list[str]) -> tuple[bool, bool, bool]:
    """Whether the true cause was named (top-1) or ranked in the first three and five."""
    if truth.verdict == "inconclusive":
        # The honest answer is "we cannot tell": any named root cause is wrong.
        correct = verdict == "inconclusive"
        return correct, correct, correct
    top1 = verdict == "root_cause_found" and root_service == truth.service
    return top1, truth.service in ranked[:3], truth.service in ranked[:5]


def score_case(case: str, truth: Truth, report: Report) -> CaseResult:
    ranked = [c.service for c in report.ranked_causes]
    root = report.root_cause
    top1, top3, top5 = top_k(truth, report.verdict, root.service if root else None, ranked)
    if truth.verdict == "inconclusive":
        kind_ok = top1
    else:
        kind_ok = top1 and root is not None and root.kind == truth.kind
    return CaseResult(
        case=case,
        truth=truth,
        verdict=report.verdict,
        predicted_service=report.root_cause.service if report.root_cause else None,
        predicted_kind=report.root_cause.kind if report.root_cause else None,
        ranked_services=ranked[:5],
        top1=top1,
        top3=top3,
        top5=top5,
        kind_correct=kind_ok,
        hypothesis_state_accuracy=_hypothesis_states(truth, report),
        seconds_to_first_finding=_secs(report.timings.started_at, report.timings.first_finding_at),
        seconds_to_conclusion=report.timings.seconds_to_conclusion,
        tokens=report.usage.tokens,
        cost_usd=report.usage.cost_usd,
        datadog_calls=report.usage.datadog_calls,
    )


def _hypothesis_states(truth: Truth, report: Report) -> float:
    """A hypothesis on the true cause should be validated; one on another service should not be."""
    decided = [h for h in report.hypotheses if h.status != "pending"]
    if not decided:
        return 0.0
    right = 0
    for h in decided:
        is_truth = truth.verdict != "inconclusive" and h.service == truth.service and h.kind == truth.kind
        right += (h.status == "validated") if is_truth else (h.status != "validated")
    return right / len(decided)


def _secs(start: datetime, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if end else None


def summarise(
    dataset: str, model: str, commit: str, machine: str, cases: list[CaseResult], now: datetime
) -> Scorecard:
    n = max(1, len(cases))
    concl = sorted(c.seconds_to_conclusion for c in cases if c.seconds_to_conclusion is not None)
    return Scorecard(
        dataset=dataset,
        model=model,
        commit=commit,
        created_at=now,
        machine=machine,
        cases=cases,
        ac1=round(sum(c.top1 for c in cases) / n, 4),
        ac3=round(sum(c.top3 for c in cases) / n, 4),
        ac5=round(sum(c.top5 for c in cases) / n, 4),
        kind_accuracy=round(sum(c.kind_correct for c in cases) / n, 4),
        hypothesis_state_accuracy=round(sum(c.hypothesis_state_accuracy for c in cases) / n, 4),
        p50_seconds_to_conclusion=round(statistics.median(concl), 3) if concl else None,
        p90_seconds_to_conclusion=round(concl[min(len(concl) - 1, int(0.9 * len(concl)))], 3)
        if concl
        else None,
        mean_tokens=round(sum(c.tokens for c in cases) / n, 1),
        mean_cost_usd=round(sum(c.cost_usd for c in cases) / n, 6),
        mean_datadog_calls=round(sum(c.datadog_calls for c in cases) / n, 1),
    )
