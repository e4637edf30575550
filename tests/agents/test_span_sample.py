"""How much of a busy period the span sample holds: the latest seconds for latencies, and the ends of
earlier slices for what only many requests show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sleuth.agents import context
from sleuth.gateway import DatadogGateway
from sleuth.gateway.records import SpanRecord
from sleuth.models.telemetry import EvidenceGap

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Spans:
    """Answers span searches as the Spans API does: newest first, capped; counts the searches."""

    def __init__(self, per_second: int, seconds: int) -> None:
        self.spans = [
            SpanRecord(
                trace_id=f"{t}-{i}",
                span_id=f"{t}-{i}",
                service="web",
                start=T0.timestamp() + t + i / per_second,
            )
            for t in range(seconds)
            for i in range(per_second)
        ]
        self.searches = 0

    def search_spans(self, query: str, start: datetime, end: datetime, limit: int = 5000) -> list[SpanRecord]:
        self.searches += 1
        found = [s for s in self.spans if start.timestamp() <= s.start <= end.timestamp()]
        return sorted(found, key=lambda s: -s.start)[:limit]


def sample(world: Spans, sample_from: datetime | None = None) -> context.SpanSample:
    gaps: list[EvidenceGap] = []
    gateway: DatadogGateway = world  # type: ignore[assignment]  # only search_spans is used
    got = context._spans(gateway, "*", T0, T0 + timedelta(seconds=180), gaps, sample_from)
    assert gaps == []
    return got


def test_a_quiet_period_is_held_whole_by_one_search() -> None:
    world = Spans(per_second=2, seconds=180)
    got = sample(world)
    assert world.searches == 1 and got.whole
    assert len(got.latest) == len(got.every) == 360


def test_a_busy_period_is_sampled_at_the_end_of_each_slice_from_the_onset() -> None:
    world = Spans(per_second=100, seconds=180)  # 18,000 spans; one search holds 5,000
    got = sample(world, sample_from=T0 + timedelta(seconds=60))
    assert world.searches == context.SPAN_SLICES and not got.whole
    # latencies read the latest 50 seconds, as one search always gave
    assert len(got.latest) == context.SPAN_SAMPLE
    assert min(s.start for s in got.latest) >= T0.timestamp() + 130
    # the earlier searches end 40 and 80 seconds after the onset (at 60 s): each holds the 50 seconds
    # before its end, so together they reach back to 50 s, and hold each span once
    starts = [s.start - T0.timestamp() for s in got.every]
    assert len({s.span_id for s in got.every}) == len(got.every)
    assert 49.9 <= min(starts) <= 50.1 and max(starts) >= 179.9
    assert len(got.every) > 2.5 * context.SPAN_SAMPLE
