"""LLM Observability submissions: online evaluations and human feedback, joined to the
investigation's span; and flushing. All guarded: a broken intake is logged, never raised."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from sleuth.models.requests import EvaluationScore, TraceContext
from sleuth.observability.tracing import SPAN_ID_KEY, TRACE_ID_KEY, clean, enabled, guard


def investigation_span(trace: TraceContext | None) -> dict[str, str] | None:
    """The exported investigation span ({"span_id", "trace_id"}) recorded in the trace context."""
    if trace is None or SPAN_ID_KEY not in trace.headers or TRACE_ID_KEY not in trace.headers:
        return None
    return {"span_id": trace.headers[SPAN_ID_KEY], "trace_id": trace.headers[TRACE_ID_KEY]}


def submit_evaluations(
    scores: list[EvaluationScore],
    target: dict[str, str] | None,
    *,
    tags: Mapping[str, str] | None = None,
    assess: Callable[[EvaluationScore], str | None] | None = None,
) -> bool:
    """Queue every score for LLMObs, joined to `target` (an exported span). True when all were queued."""
    if target is None or not scores or not enabled():
        return False
    from ddtrace.llmobs import LLMObs

    ok = True
    for s in scores:
        value: Any = s.value
        if s.metric_type == "score" and not isinstance(value, bool):
            value = float(value)
        kw: dict[str, Any] = {
            "label": s.label,
            "metric_type": s.metric_type,
            "value": value,
            "span": target,
            "tags": dict(tags or {}),
        }
        if s.reasoning:
            kw["reasoning"] = clean(s.reasoning)
        assessment = assess(s) if assess else None
        if assessment:
            kw["assessment"] = assessment
        ok = (
            bool(guard("submit_evaluation", functools.partial(_submit, LLMObs.submit_evaluation, kw), False))
            and ok
        )
    return ok


def submit_feedback(
    label: str,
    value: str | float | bool,
    *,
    submitter: str,
    span_target: dict[str, str] | None = None,
    session_id: str | None = None,
    reasoning: str | None = None,
    assessment: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> bool:
    """A human's verdict as LLMObs feedback, on the investigation span (or its session)."""
    if (span_target is None and session_id is None) or not enabled():
        return False
    from ddtrace.llmobs import LLMObs

    metric_type = (
        "boolean" if isinstance(value, bool) else "score" if isinstance(value, float) else "categorical"
    )
    kw: dict[str, Any] = {
        "label": label,
        "metric_type": metric_type,
        "value": value,
        "submitter": {"id": submitter, "type": "human"},
        "tags": dict(tags or {}),
    }
    if span_target is not None:
        kw["span"] = span_target
    else:
        kw["session_id"] = session_id
    if reasoning:
        kw["reasoning"] = clean(reasoning)
    if assessment:
        kw["assessment"] = assessment
    return bool(guard("submit_feedback", functools.partial(_submit, LLMObs.submit_feedback, kw), False))


def _submit(fn: Callable[..., Any], kw: dict[str, Any]) -> bool:
    fn(**kw)
    return True


def flush() -> None:
    """Send what is queued now (the CLI exits right after); a failing intake is logged, not raised."""
    if not enabled():
        return
    from ddtrace.llmobs import LLMObs

    guard("flush", LLMObs.flush)
