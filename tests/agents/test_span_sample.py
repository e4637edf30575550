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


def test_a_busy_period_is_sampled_back_to_the_onset_without_holding_a_second_twice() -> None:
    world = Spans(per_second=100, seconds=180)  # 18,000 spans; one search holds 5,000
    got = sample(world, sample_from=T0 + timedelta(seconds=60))
    assert not got.whole
    # latencies read the latest 50 seconds, as one search always gave
    assert len(got.latest) == context.SPAN_SAMPLE
    assert min(s.start for s in got.latest) >= T0.timestamp() + 130
    # each search holds 50 seconds, more than a slice: the next ends where the one before began
    # (130 s, then 80 s), and the third reaches back past the onset (at 60 s) to 30 s; then it stops
    assert world.searches == 3
    starts = [s.start - T0.timestamp() for s in got.every]
    assert len({s.span_id for s in got.every}) == len(got.every)
    assert 29.9 <= min(starts) <= 30.1 and max(starts) >= 179.9
    assert len(got.every) == 3 * context.SPAN_SAMPLE - 2  # a span at each seam is found twice, held once


def test_a_very_busy_period_is_sampled_at_the_end_of_each_slice_from_the_onset() -> None:
    """When one search holds less than a slice, the searches spread over the period instead."""
    world = Spans(per_second=1000, seconds=180)  # one search holds 5 seconds
    got = sample(world, sample_from=T0 + timedelta(seconds=60))
    assert world.searches == context.SPAN_SLICES and not got.whole
    step = 120 / context.SPAN_SLICES
    ends = sorted({round(60 + step * k) for k in range(1, context.SPAN_SLICES + 1)})
    for end in ends:  # each slice's last five seconds are in the sample
        held = [s for s in got.every if end - 5 <= s.start - T0.timestamp() <= end]
        assert len(held) >= 4900, end
    assert len(got.every) == context.SPAN_SLICES * context.SPAN_SAMPLE
