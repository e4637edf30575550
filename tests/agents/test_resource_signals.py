"""Resource and count signals: what a service's own CPU says when the whole fleet moved, how a
many-fold rise counts against a noisy baseline, and the floors below which counts are not a spread."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sleuth.agents.evidence import series_evidence, span_evidence
from sleuth.agents.health import _health, fleet_shifts
from sleuth.agents.planner import rank_suspects
from sleuth.agents.signals import count_floor
from sleuth.gateway import Series
from sleuth.models.alert import Alert
from sleuth.models.investigation import InvestigationContext
from sleuth.models.telemetry import SeriesSummary, ServiceHealth, ServiceSpanStats, SpanSummary

CPU = "avg:kubernetes.cpu.usage.total{service:pricing}"


def cpu(z: float, before: float, now: float) -> SeriesSummary:
    return SeriesSummary(
        query=CPU,
        points=60,
        baseline_points=57,
        baseline_mean=before,
        window_mean=now,
        change_score=z,
        relative_change=now / before - 1.0,
    )


def fleet(*zs: float) -> list[ServiceHealth]:
    return [ServiceHealth(service=f"s{i}", cpu_z=z) for i, z in enumerate(zs)]


def test_an_ordinary_fleet_discounts_nothing() -> None:
    assert fleet_shifts(fleet(-0.7, -0.9, 2.7, 0.7, 2.7, -0.6, 1.0, 2.0, 0.3, 3.0))["cpu"] == 0.0


def test_a_fleet_that_moved_together_discounts_its_common_part() -> None:
    wave = fleet(3.1, 1.0, 2.4, 1.3, 3.1, 3.9, 1.5, 1.6, 0.9, 4.3, 4.5, 2.7)
    assert round(fleet_shifts(wave)["cpu"], 2) == 1.55  # median 2.55, less the one sigma any fleet wobbles
    assert fleet_shifts(wave)["memory"] == 0.0
    # too few services to call their median a fleet
    assert fleet_shifts(fleet(4.0, 4.0, 4.0)).get("cpu", 0.0) == 0.0


def test_a_cpu_rise_the_fleet_shares_is_weaker_evidence_for_one_service() -> None:
    alone = series_evidence(cpu(4.2, 210e6, 255e6))
    shared = series_evidence(cpu(4.2, 210e6, 255e6), common={"cpu": 1.4})
    assert alone is not None and shared is not None
    assert alone.strength > 0.45 and shared.strength < 0.3
    # the common part is only taken from resources: an error rise is the service's own
    errors = SeriesSummary(
        query="sum:trace.grpc.server.errors{service:pricing}",
        baseline_points=57,
        baseline_mean=1.0,
        window_mean=30.0,
        change_score=9.0,
        relative_change=29.0,
    )
    assert series_evidence(errors, common={"cpu": 5.0, "memory": 5.0}) == series_evidence(errors)


def test_a_many_fold_cpu_rise_counts_beyond_a_noisy_baseline() -> None:
    """Sixty-four times the CPU with z only 2.7 (earlier spikes inflate sigma) is saturation evidence."""
    ev = series_evidence(cpu(2.7, 108e3, 6.94e6))
    assert ev is not None and ev.supports and ev.strength >= 0.9
    # ... but a modest rise at that z stays weak, and noise (z < 2) is not rescued by a ratio
    modest = series_evidence(cpu(2.7, 1.1e6, 2.5e6))
    assert modest is not None and modest.strength < 0.3
    noise = series_evidence(cpu(1.5, 108e3, 6.94e6))
    assert noise is not None and noise.strength == 0.0


def test_count_floors_follow_the_unit_of_each_count() -> None:
    assert count_floor("sum:trace.http.request.errors{service:a}") == 1.0  # per interval
    assert count_floor("sum:kubernetes.network.rx_dropped{service:a}") == 1.0 / 60.0  # per second
    assert count_floor("avg:trace.http.request.duration{service:a}") == 0.0


def own_time(before_ms: float, now_ms: float, spans: int = 40) -> float:
    row = ServiceSpanStats(
        service="pricing",
        baseline_spans=200,
        window_spans=spans,
        baseline_self_ms=before_ms,
        window_self_ms=now_ms,
    )
    [ev] = [
        e
        for e in span_evidence(SpanSummary(query="*", services=[row]), "pricing")
        if e.signal == "self_latency"
    ]
    return ev.strength


def test_sub_millisecond_own_time_is_noise_not_a_slowdown() -> None:
    assert own_time(0.2, 0.3) == 0.0  # +50 %, but a tenth of a millisecond
    assert own_time(0.6, 3.2) >= 0.9  # starved: several milliseconds more of its own work per span
    assert own_time(2.3, 4.3) > 0.5


def test_own_time_from_a_handful_of_spans_counts_in_proportion() -> None:
    """16.7 → 42.6 ms is unmistakable from forty spans; from three (the median of three, one slow call
    away from any value) it is a lead, too weak to make a deploy nine minutes earlier the cause when
    every metric query failed (the sandbox's metrics outage at 07:40)."""
    assert own_time(16.7, 42.6) == 1.0
    assert own_time(16.7, 42.6, spans=3) == 0.6
    assert own_time(16.7, 42.6, spans=5) == 1.0


def test_a_young_leak_is_a_suspect_before_its_memory_stands_far_above_its_baseline() -> None:
    """Memory that wanders by a twentieth of a percent a minute for an hour, then grows by one percent
    every minute of the alert window: not far above the baseline's level (z below 3), yet climbing far
    faster than it ever wandered. The planner suspects the leaking service; a neighbour whose memory
    only wanders is not suspected."""
    rng = random.Random(7)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    baseline, window = (
        (now - timedelta(minutes=63), now - timedelta(minutes=3)),
        (now - timedelta(minutes=3), now),
    )
    times = [baseline[0].timestamp() + 60 * i for i in range(64)]

    def memory(service: str, leak: float) -> tuple[Series, str, str]:
        level, values = 500.0, []
        for t in times:
            level *= 1 + rng.gauss(0, 0.0005) + (leak if t >= window[0].timestamp() else 0.0)
            values.append(level)
        return (
            Series(
                query="avg:kubernetes.memory.usage{*} by {service}",
                scope=f"service:{service}",
                times=times,
                values=values,
            ),
            "memory",
            "",
        )

    health = _health([memory("travel", 0.01), memory("route", 0.0)], baseline, window)
    by = {h.service: h for h in health}
    assert by["travel"].memory_z < 3 and by["travel"].memory_climb > 8
    assert by["route"].memory_climb < 3
    ctx = InvestigationContext(
        alert=Alert(monitor_id="1", title="High latency on web", status="Triggered"),
        service="web",
        alert_time=now,
        window_start=window[0],
        window_end=now,
        baseline_start=baseline[0],
        baseline_end=baseline[1],
        health=health,
    )
    suspects = [s for s, _ in rank_suspects(ctx)]
    assert "travel" in suspects and "route" not in suspects
    assert suspects.index("travel") < suspects.index("web")
