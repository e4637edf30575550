"""What the spans compare against: normal traffic, not the first minutes of a fault that began before
the alert's window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sleuth.agents import context
from sleuth.gateway import DatadogGateway
from sleuth.gateway.records import SpanRecord
from sleuth.models.alert import Alert
from tests.agents.test_span_sample import Spans

ALERT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PER_SECOND = 50  # requests; two spans each: a busy system, where one search holds 50 seconds
WIRE_MS, DELAYED_MS = 2.0, 300.0


class Busy(Spans):
    """`web` calls `api` on every request; from `delayed_from` on, the wire between them adds 300 ms.
    Answers only what `context.gather` asks; metrics, logs and events are empty (as when unread)."""

    def __init__(self, delayed_from: datetime) -> None:
        self.spans: list[SpanRecord] = []
        self.searches = 0
        t0 = ALERT - timedelta(minutes=21)
        for k in range(21 * 60 * PER_SECOND):
            start = t0.timestamp() + k / PER_SECOND
            wire = DELAYED_MS if start >= delayed_from.timestamp() else WIRE_MS
            self.spans += [
                SpanRecord(
                    trace_id=f"t{k}", span_id=f"c{k}", service="web", start=start, duration_ms=20 + wire
                ),
                SpanRecord(
                    trace_id=f"t{k}",
                    span_id=f"s{k}",
                    parent_id=f"c{k}",
                    service="api",
                    start=start,
                    duration_ms=20,
                ),
            ]

    def query_metrics(self, *args: object, **kw: object) -> list[object]:
        return []

    def list_metrics(self, *args: object, **kw: object) -> list[str]:
        return []

    def count_logs(self, *args: object, **kw: object) -> dict[str, int]:
        return {}

    def search_events(self, *args: object, **kw: object) -> list[object]:
        return []


def test_a_fault_begun_before_the_window_is_not_what_the_spans_call_normal() -> None:
    # The alert fires 3 min 40 s into the fault; its own signal shows no onset, so the window is the
    # last three minutes and the fault's first 40 seconds lie before it.
    world = Busy(delayed_from=ALERT - timedelta(minutes=3, seconds=40))
    gateway: DatadogGateway = world  # type: ignore[assignment]  # only what gather asks is answered
    alert = Alert(title="web is slow", tags=["service:web"], date=ALERT)
    ctx = context.gather(gateway, alert, ALERT)
    assert ctx.window_start == ALERT - context.MIN_WINDOW
    assert ctx.span_summary is not None
    [edge] = [e for e in ctx.span_summary.edges if (e.caller, e.callee) == ("web", "api")]
    assert edge.window_gap_ms is not None and edge.window_gap_ms >= DELAYED_MS - 1
    # the latest spans before the window are the fault's: normal is read from before them
    assert edge.baseline_gap_ms is not None and edge.baseline_gap_ms <= WIRE_MS + 1
