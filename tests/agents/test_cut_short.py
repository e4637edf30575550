"""Requests cut short right after one call point at the callee whose answer made the caller give up."""

from __future__ import annotations

from sleuth.agents.cut_short import cut_short_evidence, ended_after
from sleuth.agents.summaries import summarize_spans
from sleuth.gateway.records import SpanRecord

CALLS = ["currency", "catalog", "cart", "ads", "shipping"]


def request(tid: str, t: float, calls: list[str]) -> list[SpanRecord]:
    root = SpanRecord(
        trace_id=tid,
        span_id=f"{tid}-0",
        parent_id="0",
        service="web",
        operation="home",
        start=t,
        duration_ms=50,
    )
    return [root] + [
        SpanRecord(
            trace_id=tid,
            span_id=f"{tid}-{i + 1}",
            parent_id=root.span_id,
            service=callee,
            operation="rpc",
            start=t + 0.001 * (i + 1),
            duration_ms=2,
        )
        for i, callee in enumerate(calls)
    ]


def spans(n: int, t0: float, cut_after: str | None = None, every: int = 1) -> list[SpanRecord]:
    out: list[SpanRecord] = []
    for i in range(n):
        calls = CALLS
        if cut_after is not None and i % every == 0:
            calls = CALLS[: CALLS.index(cut_after) + 1]
        out += request(f"{t0}-{i}", t0 + i, calls)
    return out


def test_requests_ending_right_after_one_callee_implicate_it() -> None:
    baseline, window = spans(100, 0.0), spans(100, 1000.0, cut_after="catalog")
    shares = ended_after(baseline, window)
    assert shares[("web", "catalog")] == (0.0, 1.0, 100)
    summary = summarize_spans("env:test", baseline, window)
    ev = cut_short_evidence(summary, "catalog")
    assert ev is not None and ev.supports and ev.strength == 1.0 and ev.signal == "ends_callers"
    assert "100% of web's 100 sampled requests" in ev.observation
    # the calls before it were answered normally: nothing to say about them
    before = cut_short_evidence(summary, "currency")
    assert before is not None and before.strength == 0.0


def test_a_few_requests_prove_little_and_a_normal_window_nothing() -> None:
    baseline = spans(100, 0.0)
    few = summarize_spans("env:test", baseline, spans(3, 1000.0, cut_after="catalog"))
    ev = cut_short_evidence(few, "catalog")
    assert ev is not None and ev.strength < 0.5, "three requests cut short are not yet a pattern"
    normal = summarize_spans("env:test", baseline, spans(100, 1000.0))
    ev = cut_short_evidence(normal, "catalog")
    assert ev is not None and ev.strength == 0.0
    # a handful ending early now and then is background, not a finding
    some = summarize_spans("env:test", baseline, spans(100, 1000.0, cut_after="catalog", every=10))
    ev = cut_short_evidence(some, "catalog")
    assert ev is not None and not ev.supports


def test_retrying_the_call_that_fails_still_ends_the_request_short() -> None:
    """A caller that retries its failing callee makes as many calls as usual, but not to its usual
    callees: counted by distinct callees, its requests still end right after that callee."""
    retried = ["currency", "catalog", "catalog", "catalog", "catalog"]
    window: list[SpanRecord] = []
    for i in range(60):
        window += request(f"w-{i}", 2000.0 + i, retried if i % 2 == 0 else CALLS)
    shares = ended_after(spans(60, 1000.0), window)
    base, now, served = shares[("web", "catalog")]
    assert base == 0.0 and now == 0.5 and served == 60
