import pytest

from sleuth.agents import stats
from sleuth.agents.summaries import edges_from_spans, log_template, summarize_spans
from sleuth.gateway.records import SpanRecord


def test_shift_detects_a_sustained_rise_and_its_onset() -> None:
    baseline = [10.0, 11.0, 9.5, 10.2, 10.8, 9.9, 10.1, 10.4]
    window = [10.1, 10.3, 25.0, 26.0, 24.5, 25.5]
    s = stats.shift(baseline, window)
    assert s is not None
    assert s.z > 5
    assert s.onset_index == 2
    assert s.strength > 0.7


def test_shift_ignores_noise_of_the_same_size_as_the_baseline() -> None:
    baseline = [10, 14, 8, 12, 9, 13, 11, 10, 12, 9]
    window = [11, 13, 9, 12]
    s = stats.shift(baseline, window)
    assert s is not None and s.strength < 0.2


def test_shift_needs_data() -> None:
    assert stats.shift([1.0, None], [2.0]) is None


def test_log_template_masks_variable_parts() -> None:
    a = log_template('payment 1234 failed for user a@b.com from 10.0.0.1: "card declined" after 35ms')
    b = log_template('payment 98 failed for user x@y.org from 10.0.0.7: "insufficient" after 2ms')
    assert a == b


def _span(
    tid: str, sid: str, parent: str, svc: str, start: float, ms: float, error: bool = False
) -> SpanRecord:
    return SpanRecord(
        trace_id=tid, span_id=sid, parent_id=parent, service=svc, start=start, duration_ms=ms, error=error
    )


def test_self_time_and_originated_errors_point_at_the_callee() -> None:
    # frontend → api → db; in the window, db is slow and erroring, and the callers only propagate.
    def trace(i: int, db_ms: float, db_err: bool) -> list[SpanRecord]:
        t = float(i)
        return [
            _span(f"t{i}", f"f{i}", "0", "frontend", t, 5 + 3 + db_ms, db_err),
            _span(f"t{i}", f"a{i}", f"f{i}", "api", t + 0.001, 3 + db_ms, db_err),
            _span(f"t{i}", f"d{i}", f"a{i}", "db", t + 0.002, db_ms, db_err),
        ]

    base = [s for i in range(20) for s in trace(i, 2.0, False)]
    win = [s for i in range(20) for s in trace(100 + i, 40.0, i % 2 == 0)]
    summary = summarize_spans("*", base, win)
    rows = {r.service: r for r in summary.services}
    assert rows["db"].window_self_ms is not None and rows["db"].window_self_ms > 30
    assert rows["api"].window_self_ms is not None and rows["api"].window_self_ms < 5
    assert rows["db"].window_originated_errors == 10
    assert rows["api"].window_originated_errors == 0
    assert {(e.caller, e.callee) for e in edges_from_spans(win)} == {("frontend", "api"), ("api", "db")}


def test_own_time_is_per_request_however_many_spans_a_service_writes() -> None:
    """api writes a route span, a controller span beneath it and a client span per call; its own time
    in a request is the route span less the call to db. A controller grown slow (CPU) is plain per
    request, though a median over api's spans, two of three of them thin, would not move."""

    def trace(i: int, work_ms: float) -> list[SpanRecord]:
        t = float(i)
        total = 1 + work_ms + 20 + 1
        return [
            _span(f"t{i}", f"r{i}", "0", "api", t, total),
            _span(f"t{i}", f"c{i}", f"r{i}", "api", t + 0.0005, work_ms + 20),
            _span(f"t{i}", f"h{i}", f"c{i}", "api", t + 0.0005 + work_ms / 1000, 20),
            _span(f"t{i}", f"d{i}", f"h{i}", "db", t + 0.0006 + work_ms / 1000, 19),
        ]

    base = [s for i in range(20) for s in trace(i, 10.0)]
    win = [s for i in range(20) for s in trace(100 + i, 60.0)]
    rows = {r.service: r for r in summarize_spans("*", base, win).services}
    assert rows["api"].baseline_self_ms == pytest.approx(13.0) and rows[
        "api"
    ].window_self_ms == pytest.approx(63.0)
    assert rows["db"].window_self_ms == pytest.approx(19.0)
