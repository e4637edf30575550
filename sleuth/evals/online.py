"""Scores computed where an investigation ran, from its own report: no ground truth needed.

Each score is submitted to LLM Observability against the investigation's span (see
`sleuth.observability.tracing.submit_evaluations`), with a pass/fail assessment from `assess`.
"""

from __future__ import annotations

from collections.abc import Callable

from sleuth.models.investigation import Budget, Evidence, Hypothesis, Report
from sleuth.models.requests import EvaluationScore

# label → predicate on the value: True is "pass". Labels not listed get no assessment.
THRESHOLDS: dict[str, Callable[[float | str | bool], bool]] = {
    "evidence_grounded_claims": lambda v: float(v) >= 0.8,
    "confidence_vs_evidence": lambda v: float(v) >= 0.8,
    "budget_use": lambda v: float(v) <= 0.9,
    "tool_error_rate": lambda v: float(v) <= 0.2,
}


def assess(s: EvaluationScore) -> str | None:
    check = THRESHOLDS.get(s.label)
    if check is None or isinstance(s.value, bool | str):
        return None
    return "pass" if check(s.value) else "fail"


def returned(e: Evidence, h: Hypothesis) -> bool:
    """Evidence that telemetry actually returned: a query that ran, gave data, and was seen."""
    if e.source == "human" or not e.query or not e.observation:
        return False
    return all(g.query != e.query for g in h.gaps)


def grounded(h: Hypothesis) -> bool:
    """A validated claim needs supporting returned evidence; an invalidated one, measured evidence."""
    seen = [e for e in h.evidence if returned(e, h)]
    if h.status == "validated":
        return any(e.supports and e.strength > 0 for e in seen)
    return bool(seen)


def score(
    report: Report, max_datadog_calls: int | None = None, budget: Budget | None = None
) -> list[EvaluationScore]:
    scores = [
        _grounded_claims(report),
        _tool_errors(report),
        EvaluationScore(label="verdict", metric_type="categorical", value=report.verdict),
    ]
    calibration = _confidence_vs_evidence(report)
    if calibration is not None:
        scores.append(calibration)
    use = _budget_use(report, budget, max_datadog_calls)
    if use is not None:
        scores.append(use)
    return scores


def _grounded_claims(report: Report) -> EvaluationScore:
    """Claims: every decided hypothesis, plus the root cause (grounded when a validated hypothesis on
    that service and kind is). Share of those citing evidence Datadog actually returned."""
    decided = [h for h in report.hypotheses if h.status in ("validated", "invalidated")]
    ok = [h for h in decided if grounded(h)]
    claims, good = len(decided), len(ok)
    if report.root_cause is not None:
        claims += 1
        rc = report.root_cause
        good += any(
            h.service == rc.service and h.kind == rc.kind and h.status == "validated" and grounded(h)
            for h in report.hypotheses
        )
    share = good / claims if claims else 1.0
    return EvaluationScore(
        label="evidence_grounded_claims",
        metric_type="score",
        value=round(share, 3),
        reasoning=f"{good} of {claims} claims cite telemetry that was returned"
        + ("" if claims else " (no claims made)"),
    )


def _tool_errors(report: Report) -> EvaluationScore:
    calls, errors = report.usage.datadog_calls, report.usage.datadog_errors
    return EvaluationScore(
        label="tool_error_rate",
        metric_type="score",
        value=round(errors / max(1, calls), 3),
        reasoning=f"{errors} failed of {calls} Datadog calls; {len(report.gaps)} evidence gaps named",
    )


def _confidence_vs_evidence(report: Report) -> EvaluationScore | None:
    """1 − overconfidence: how far stated confidence exceeds the strongest supporting evidence.
    Judged on the root cause when there is one, else on the validated hypotheses."""
    if report.root_cause is not None:
        rc = report.root_cause
        pairs = [(rc.confidence, _strength(report, rc.service, rc.kind))]
        what = f"root cause confidence {rc.confidence:.2f}, strongest evidence {pairs[0][1]:.2f}"
    else:
        validated = [h for h in report.hypotheses if h.status == "validated"]
        if not validated:
            return None
        pairs = [(h.confidence, _strongest(h)) for h in validated]
        what = f"{len(pairs)} validated hypotheses, no root cause named"
    worst = max(max(0.0, conf - strength) for conf, strength in pairs)
    return EvaluationScore(
        label="confidence_vs_evidence", metric_type="score", value=round(1.0 - worst, 3), reasoning=what
    )


def _strongest(h: Hypothesis) -> float:
    return max((e.strength for e in h.evidence if e.supports and returned(e, h)), default=0.0)


def _strength(report: Report, service: str, kind: str) -> float:
    """The strongest returned evidence behind a validated hypothesis on that service (that kind first)."""
    mine = [h for h in report.hypotheses if h.service == service and h.status == "validated"]
    same_kind = [h for h in mine if h.kind == kind] or mine
    return max((_strongest(h) for h in same_kind), default=0.0)


def _budget_use(report: Report, budget: Budget | None, max_calls: int | None) -> EvaluationScore | None:
    """The largest share of any budget spent (Datadog calls, model tokens, model cost)."""
    max_calls = budget.max_datadog_calls if budget is not None else max_calls
    if not max_calls:
        return None
    shares = {"Datadog calls": report.usage.datadog_calls / max_calls}
    if budget is not None and budget.max_model_tokens:
        shares["model tokens"] = report.usage.tokens / budget.max_model_tokens
    if budget is not None and budget.max_cost_usd:
        shares["model cost"] = report.usage.cost_usd / budget.max_cost_usd
    which, share = max(shares.items(), key=lambda kv: kv[1])
    return EvaluationScore(
        label="budget_use",
        metric_type="score",
        value=round(share, 3),
        reasoning=f"{which}: {share:.0%} of the budget"
        + (f"; stopped early: {report.stop_reason}" if report.stop_reason else ""),
    )
