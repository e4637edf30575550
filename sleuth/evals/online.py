"""Scores computed where an investigation ran, from its own report: no ground truth needed."""

from __future__ import annotations

from sleuth.models.investigation import Report
from sleuth.models.requests import EvaluationScore


def score(report: Report, max_datadog_calls: int | None = None) -> list[EvaluationScore]:
    claims = [h for h in report.hypotheses if h.status in ("validated", "invalidated")]
    grounded = [h for h in claims if any(e.source != "human" and e.query for e in h.evidence)]
    grounded_share = len(grounded) / len(claims) if claims else 1.0
    gaps_and_errors = report.usage.datadog_errors
    calls = max(1, report.usage.datadog_calls)
    scores = [
        EvaluationScore(
            label="evidence_grounded_claims",
            metric_type="score",
            value=round(grounded_share, 3),
            reasoning=f"{len(grounded)} of {len(claims)} decided hypotheses cite returned telemetry",
        ),
        EvaluationScore(
            label="tool_error_rate", metric_type="score", value=round(gaps_and_errors / calls, 3)
        ),
        EvaluationScore(label="verdict", metric_type="categorical", value=report.verdict),
    ]
    if report.root_cause is not None:
        top = next(
            (
                h
                for h in report.hypotheses
                if h.service == report.root_cause.service and h.status == "validated"
            ),
            None,
        )
        strength = max((e.strength for e in top.evidence if e.supports), default=0.0) if top else 0.0
        scores.append(
            EvaluationScore(
                label="confidence_vs_evidence",
                metric_type="score",
                value=round(1.0 - max(0.0, report.root_cause.confidence - strength), 3),
                reasoning=f"confidence {report.root_cause.confidence:.2f}, strongest evidence {strength:.2f}",
            )
        )
    if max_datadog_calls:
        scores.append(
            EvaluationScore(
                label="budget_use",
                metric_type="score",
                value=round(report.usage.datadog_calls / max_datadog_calls, 3),
            )
        )
    return scores
