"""Online scores from a report alone: grounded claims, calibration, budget use, tool errors."""

from __future__ import annotations

from datetime import UTC, datetime

from sleuth.evals.online import assess, score
from sleuth.models.investigation import (
    Budget,
    Evidence,
    Hypothesis,
    Report,
    RootCause,
    Timings,
    Usage,
)
from sleuth.models.telemetry import EvidenceGap

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _ev(query: str, strength: float, supports: bool = True, source: str = "metrics") -> Evidence:
    return Evidence(
        source=source,
        query=query,
        observation=f"{query} moved",
        strength=strength,  # type: ignore[arg-type]
        supports=supports,
        signal="cpu",
    )


def _report(hypotheses: list[Hypothesis], root: RootCause | None, usage: Usage | None = None) -> Report:
    return Report(
        investigation_id="inv-1",
        verdict="root_cause_found" if root else "inconclusive",
        root_cause=root,
        hypotheses=hypotheses,
        usage=usage or Usage(datadog_calls=40, datadog_errors=4),
        timings=Timings(started_at=T0),
    )


def _by_label(report: Report, **kw: object) -> dict[str, object]:
    return {s.label: s.value for s in score(report, **kw)}  # type: ignore[arg-type]


def test_grounded_claims_count_only_evidence_that_was_returned() -> None:
    good = Hypothesis(
        id="a",
        service="api",
        kind="cpu_saturation",
        statement="",
        status="validated",
        confidence=0.7,
        evidence=[_ev("avg:cpu{service:api}", 0.8)],
    )
    # Its only evidence is a query that came back empty (named as a gap): not grounded.
    hollow = Hypothesis(
        id="b",
        service="db",
        kind="database",
        statement="",
        status="invalidated",
        evidence=[_ev("avg:db{service:db}", 0.0, supports=False)],
        gaps=[EvidenceGap(source="metrics", query="avg:db{service:db}", reason="no data")],
    )
    human = Hypothesis(
        id="c",
        service="web",
        kind="deployment",
        statement="",
        status="validated",
        confidence=0.6,
        evidence=[_ev("hint", 0.0, source="human")],
    )
    pending = Hypothesis(id="d", service="x", kind="network", statement="")
    root = RootCause(service="api", kind="cpu_saturation", summary="", confidence=0.7)
    scores = _by_label(_report([good, hollow, human, pending], root))
    # claims: a (ok), b (hollow), c (human only), root cause (backed by a) → 2 of 4
    assert scores["evidence_grounded_claims"] == 0.5
    assert scores["tool_error_rate"] == 0.1
    assert scores["verdict"] == "root_cause_found"
    assert scores["confidence_vs_evidence"] == 1.0


def test_overconfidence_is_penalised() -> None:
    weak = Hypothesis(
        id="a",
        service="api",
        kind="cpu_saturation",
        statement="",
        status="validated",
        confidence=0.9,
        evidence=[_ev("avg:cpu{service:api}", 0.5)],
    )
    root = RootCause(service="api", kind="cpu_saturation", summary="", confidence=0.9)
    s = next(x for x in score(_report([weak], root)) if x.label == "confidence_vs_evidence")
    assert s.value == 0.6 and assess(s) == "fail" and "0.90" in s.reasoning


def test_budget_use_is_the_largest_share_spent() -> None:
    report = _report([], None, Usage(datadog_calls=10, input_tokens=900, output_tokens=100, cost_usd=0.1))
    scores = _by_label(report, budget=Budget(max_datadog_calls=100, max_model_tokens=1000, max_cost_usd=1.0))
    assert scores["budget_use"] == 1.0
    assert _by_label(report, max_datadog_calls=40)["budget_use"] == 0.25
    assert "budget_use" not in _by_label(report)
    assert "confidence_vs_evidence" not in _by_label(report), "nothing claimed, nothing to calibrate"
    assert _by_label(report)["evidence_grounded_claims"] == 1.0
