"""Rules a 46-service system it had never seen taught (bench/results/nezha-unseen-system.md): a young
leak is told by its climb, not its size; CPU that only follows more requests is load, not starvation;
a few milliseconds of jitter on a rarely called edge is not a slow wire; and which edges a summary
keeps never depends on the order of a set."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sleuth.agents import stats
from sleuth.agents.concluder import OfflineConcluder
from sleuth.agents.evidence import edge_evidence, series_evidence
from sleuth.agents.judge import kind_scores, load_share
from sleuth.agents.summaries import summarize_series
from sleuth.gateway.records import Series
from sleuth.models.investigation import Evidence, Hypothesis
from sleuth.models.requests import ConcludeInput
from sleuth.models.telemetry import EdgeStats, SeriesSummary, ServiceSpanStats, SpanSummary
from tests.agents.test_traffic import NOW, ctx, gave_up, load

FLAT = [450.0 + (i % 3) * 0.5 for i in range(60)]  # a memory baseline that moves by under a megabyte


def test_a_young_leak_climbs_every_minute_far_faster_than_the_series_ever_wandered() -> None:
    assert stats.climb(FLAT, [456.0, 509.0, 563.0]) > 30


def test_one_jump_is_a_step_not_a_leak() -> None:
    assert stats.climb(FLAT, [520.0, 521.0, 520.5]) < 3


def test_a_sawtooth_climbing_as_it_always_does_is_not_a_leak() -> None:
    # A garbage-collected heap: climbs 5 MB a minute, drops at each collection.
    saw = [400.0 + 5 * (i % 10) for i in range(60)]
    assert stats.climb(saw, [405.0, 410.0, 415.0]) < 1


def test_too_few_points_say_nothing() -> None:
    assert stats.climb([1.0, 2.0, 3.0], [10.0, 20.0]) == 0.0
    assert stats.climb(FLAT, [600.0]) == 0.0


def _memory(z: float, before: float, now: float, climb: float) -> SeriesSummary:
    return SeriesSummary(
        query="avg:kubernetes.memory.usage{service:pricing}",
        points=63,
        baseline_points=60,
        baseline_mean=before,
        window_mean=now,
        change_score=z,
        relative_change=now / before - 1.0,
        climb=climb,
    )


def test_a_climbing_memory_is_strong_evidence_before_it_is_large() -> None:
    young = series_evidence(_memory(3.6, 477.0, 562.0, climb=72.0))
    settled = series_evidence(_memory(3.6, 477.0, 562.0, climb=0.0))
    assert young is not None and settled is not None
    assert settled.strength < 0.5 < 0.9 < young.strength
    assert "still climbing" in young.observation


def _metric(signal: str, before: float, now: float, strength: float) -> Evidence:
    return Evidence(
        source="metrics",
        query=f"avg:{signal}{{service:s}}",
        observation="",
        signal=signal,
        strength=strength,
        baseline=before,
        current=now,
    )


def test_cpu_that_grew_no_faster_than_its_requests_is_load() -> None:
    # Callers retry a failing service: ×2.5 requests, ×1.7 CPU, and it answers no slower.
    retried = [_metric("cpu", 34.0, 58.6, 0.83), _metric("hits", 136.0, 338.0, 0.51)]
    assert load_share(retried) == 1.0
    assert kind_scores("s", retried)["cpu_saturation"] < 0.2
    # The same CPU rise with the requests unchanged is the service's own.
    alone = [_metric("cpu", 34.0, 58.6, 0.83), _metric("hits", 136.0, 140.0, 0.0)]
    assert load_share(alone) == 0.0
    assert kind_scores("s", alone)["cpu_saturation"] >= 0.45


def test_more_load_that_made_it_much_slower_still_starves_it() -> None:
    starved = [
        _metric("cpu", 37.8, 64.8, 0.88),
        _metric("hits", 134.0, 194.0, 0.2),
        _metric("latency", 0.0164, 0.166, 1.0),
    ]
    assert kind_scores("s", starved)["cpu_saturation"] >= 0.8


def _edge(caller: str, callee: str, base_gap: float, gap: float, call_ms: float = 20.0) -> EdgeStats:
    return EdgeStats(
        caller=caller,
        callee=callee,
        baseline_calls=20,
        window_calls=20,
        baseline_p50_ms=call_ms,
        window_p50_ms=call_ms + gap - base_gap,
        baseline_gap_ms=base_gap,
        window_gap_ms=gap,
    )


def test_a_wire_is_slow_when_its_extra_time_matters_to_the_call() -> None:
    others = [_edge("a", f"d{i}", 1.6, 1.7, call_ms=15.0) for i in range(3)]
    # 1 → 3 ms of jitter on a call that takes 70 ms: not a slow wire
    jitter = SpanSummary(query="*", edges=[*others, _edge("a", "rare", 1.0, 3.1, call_ms=70.0)])
    [wire] = [e for e in edge_evidence(jitter, "rare", set()) if e.signal == "edge_latency_in"]
    assert wire.strength < 0.3, wire.observation
    # 2 → 163 ms: a delay, whatever the call took
    delayed = SpanSummary(query="*", edges=[*others, _edge("a", "slow", 2.3, 163.0, call_ms=25.0)])
    [wire] = [e for e in edge_evidence(delayed, "slow", set()) if e.signal == "edge_latency_in"]
    assert wire.strength == 1.0, wire.observation
    # 0.3 → 1.5 ms on calls of about a millisecond: most of the call now, a slow wire
    fast = SpanSummary(query="*", edges=[*others, _edge("a", "quick", 0.3, 1.5, call_ms=1.2)])
    [wire] = [e for e in edge_evidence(fast, "quick", set()) if e.signal == "edge_latency_in"]
    assert wire.strength >= 0.3, wire.observation


def test_a_starved_caller_is_seen_in_small_rises_on_every_call_it_makes() -> None:
    # Each of its calls gains well under a tenth of the call's time on the wire, all together:
    # that exonerates the callee it waits on most, as the caller's own trouble.
    starved = [_edge("web", f"d{i}", 0.3, 0.7, call_ms=20.0) for i in range(4)]
    summary = SpanSummary(query="*", edges=[*starved, _edge("web", "ads", 0.4, 5.0, call_ms=3.0)])
    [wire] = [e for e in edge_evidence(summary, "ads", set()) if e.signal == "edge_latency_in"]
    assert wire.strength == 0.0 and "0 of 1 caller" in wire.observation


def test_a_call_gaining_far_more_than_its_callers_other_calls_is_slow_at_the_callee() -> None:
    # The caller's other calls gained under a millisecond each (×1.2, ×1.6 of their tiny wire times)
    # while its own code ran as fast as before: nothing starved it into 211 ms more on one call.
    jitter = [_edge("exec", "orders", 1.3, 1.6, call_ms=8.0), _edge("exec", "other", 1.3, 2.1, call_ms=12.0)]
    calm = ServiceSpanStats(service="exec", window_spans=18, baseline_self_ms=53.7, window_self_ms=57.3)
    edges = [*jitter, _edge("exec", "wait", 1.6, 213.0, call_ms=47.0)]
    summary = SpanSummary(query="*", services=[calm], edges=edges)
    [wire] = [e for e in edge_evidence(summary, "wait", set()) if e.signal == "edge_latency_in"]
    assert wire.strength == 1.0 and "1 of 1 caller" in wire.observation, wire.observation
    # A caller whose own code got slower is starved: how much longer each call takes to send depends
    # on what it carries, so one call gaining far more than the others is still the caller's doing.
    starved = calm.model_copy(update={"window_self_ms": 800.0})
    summary = SpanSummary(query="*", services=[starved], edges=edges)
    [wire] = [e for e in edge_evidence(summary, "wait", set()) if e.signal == "edge_latency_in"]
    assert wire.strength == 0.0 and "0 of 1 caller" in wire.observation, wire.observation


def test_which_edges_a_busy_summary_keeps_does_not_depend_on_hash_order() -> None:
    # Two processes with different string-hash seeds must keep the same edges of a system with
    # more edges than the summary holds, all with the same number of calls.
    code = (
        "from sleuth.agents.summaries import summarize_spans, MAX_EDGES\n"
        "from sleuth.gateway.records import SpanRecord\n"
        "spans = []\n"
        "for i in range(MAX_EDGES + 40):\n"
        "    spans.append(SpanRecord(trace_id=str(i), span_id=f'p{i}', service=f'caller{i % 7}', start=1.0, duration_ms=5.0))\n"
        "    spans.append(SpanRecord(trace_id=str(i), span_id=f'c{i}', parent_id=f'p{i}', service=f'callee{i}', start=1.0, duration_ms=2.0))\n"
        "s = summarize_spans('*', spans, spans)\n"
        "print(sorted((e.caller, e.callee) for e in s.edges))\n"
    )
    kept = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(kept) == 1


def test_a_series_already_departed_when_the_window_opened_dates_its_onset_before_it() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    times = [t0 + 60 * i for i in range(66)]
    flat = [450.0 + (i % 3) for i in range(50)]
    leak = [flat + [450.0 + 50 * k for k in range(1, 17)], flat + [450.0] * 13 + [900.0, 950.0, 990.0]]
    began = [
        summarize_series(Series(query="q", times=times, values=v), (t0, times[63]), (times[63], times[65]))
        for v in leak
    ]
    # A leak ten minutes old: dated minutes before the window (where it stood clear of the baseline's spread).
    assert began[0].onset is not None and began[0].onset.timestamp() <= times[63] - 5 * 60
    assert began[1].onset is not None and began[1].onset.timestamp() == times[63]  # with the window


def _found(service: str, kind: str, onset_minutes_before_alert: float) -> Hypothesis:
    return Hypothesis(
        id=f"h-{service}",
        service=service,
        kind=kind,  # type: ignore[arg-type]
        statement="s",
        status="validated",
        confidence=0.6,
        onset=NOW - timedelta(minutes=onset_minutes_before_alert),
        evidence=[_metric("cpu" if kind == "cpu_saturation" else "memory", 1.0, 2.0, 1.0)],
    )


def test_of_two_equal_stories_the_one_that_began_with_the_alert_is_named() -> None:
    c = ctx(web=load(1.0), checkout=load(1.0), payments=load(1.0))
    fresh = _found("checkout", "cpu_saturation", 1.5)
    leak = _found("payments", "memory_pressure", 12)
    for order in ([fresh, leak], [leak, fresh]):
        out = OfflineConcluder().conclude(ConcludeInput(investigation_id="i", context=c, hypotheses=order))
        assert out.verdict == "root_cause_found" and out.root_cause is not None
        assert out.root_cause.service == "checkout", out.summary
        assert "Not payments (memory pressure), as well supported" in out.summary
    # both began with the alert: timing cannot tell them apart, and we say so
    both = [fresh, _found("payments", "memory_pressure", 2)]
    out = OfflineConcluder().conclude(ConcludeInput(investigation_id="i", context=c, hypotheses=both))
    assert out.verdict == "inconclusive"


def test_of_two_equal_stories_the_callee_whose_answers_the_other_gives_up_on_is_named() -> None:
    """checkout's CPU and own time rose as payments began to throw: checkout's requests now end right
    after calling payments. Its trouble is how it meets payments' failure, not a second cause."""
    c = ctx(web=load(1.0), checkout=load(1.0), payments=load(1.0))
    c.span_summary = SpanSummary(query="env:test", edges=[gave_up("checkout", "payments", 0.4)])
    busy = [_metric("cpu", 55.0, 135.0, 1.0), _metric("self_latency", 37.0, 342.0, 1.0)]
    caller = _found("checkout", "cpu_saturation", 2).model_copy(
        update={"evidence": [e.model_copy(update={"supports": True}) for e in busy]}
    )
    ends = _metric("ends_callers", 0.0, 0.4, 1.0).model_copy(update={"source": "spans", "supports": True})
    callee = _found("payments", "code_error", 2).model_copy(update={"evidence": [ends]})
    for order in ([caller, callee], [callee, caller]):
        out = OfflineConcluder().conclude(ConcludeInput(investigation_id="i", context=c, hypotheses=order))
        assert out.verdict == "root_cause_found" and out.root_cause is not None, out.summary
        assert out.root_cause.service == "payments", out.summary
        assert "its requests give up on payments's answers" in out.summary
    # as few requests giving up as chance allows: two stories, and we say so
    c.span_summary = SpanSummary(query="env:test", edges=[gave_up("checkout", "payments", 0.02)])
    out = OfflineConcluder().conclude(
        ConcludeInput(investigation_id="i", context=c, hypotheses=[caller, callee])
    )
    assert out.verdict == "inconclusive"


def test_own_code_many_times_slower_with_any_clear_cpu_rise_is_saturation() -> None:
    """Contention takes the CPU the service would use: pod CPU +33 % (z 2.3) while its own time per
    request went ×6.8 is saturation; the same CPU with own time ×2 is not, nor ×6.8 with CPU flat."""
    slow = [_metric("self_latency", 34.6, 235.2, 1.0), _metric("latency", 0.18, 0.285, 0.96)]
    faint_cpu = _metric("cpu", 52.6, 70.0, 0.09)
    assert kind_scores("plan", [*slow, faint_cpu])["cpu_saturation"] >= 0.5
    twice = [_metric("self_latency", 34.6, 75.0, 1.0), slow[1], faint_cpu]
    assert kind_scores("plan", twice)["cpu_saturation"] < 0.2
    flat = _metric("cpu", 52.6, 53.0, 0.0)
    assert kind_scores("plan", [*slow, flat])["cpu_saturation"] == 0.0


def test_own_code_many_times_slower_is_not_ruled_out_by_a_cpu_rise_its_noisy_baseline_hides() -> None:
    """Own time ×14 (16 → 234 ms) while pod CPU rose 32 % at z 1.6 (the fleet's fell with the traffic):
    saturation stays a ranked candidate, not ruled out. A rise under a quarter, or own time ×2, is not
    enough."""
    slow = [_metric("self_latency", 16.4, 233.9, 1.0), _metric("latency", 0.0217, 0.0824, 1.0)]
    hidden = _metric("cpu", 104.3, 137.7, 0.0)
    assert kind_scores("order", [*slow, hidden])["cpu_saturation"] >= 0.5
    assert kind_scores("order", [*slow, _metric("cpu", 104.3, 120.0, 0.0)])["cpu_saturation"] == 0.0
    twice = [_metric("self_latency", 16.4, 33.0, 1.0), slow[1], hidden]
    assert kind_scores("order", twice)["cpu_saturation"] < 0.2


def test_two_findings_held_to_the_same_cap_are_told_apart_by_their_support() -> None:
    # One source each caps both at 0.6: a wire delay seen ×20 by every caller, and a memory doubling
    # that slowed nothing. They are not equally supported.
    c = ctx(web=load(1.0), checkout=load(1.0), payments=load(1.0))
    wire = Evidence(
        source="spans", query="q", observation="wire", signal="edge_latency_in", strength=1.0, supports=True
    )
    delay = _found("checkout", "network", 2).model_copy(
        update={"evidence": [wire, wire.model_copy(update={"signal": "latency"})]}
    )
    memory = _found("payments", "memory_pressure", 2).model_copy(
        update={"confidence": 0.565, "evidence": [_metric("memory", 35.6, 72.7, 0.94)]}
    )
    out = OfflineConcluder().conclude(
        ConcludeInput(investigation_id="i", context=c, hypotheses=[memory, delay])
    )
    assert out.verdict == "root_cause_found" and out.root_cause is not None, out.summary
    assert out.root_cause.service == "checkout"


def _wire(service: str, times: float) -> Hypothesis:
    slow = Evidence(
        source="spans",
        query=f"spans edges of {service}",
        observation=f"time on the wire into {service} ×{times}",
        signal="edge_latency_in",
        strength=1.0,
        supports=True,
        baseline=1.0,
        current=times,
    )
    return Hypothesis(
        id=f"h-{service}",
        service=service,
        kind="network",
        statement=f"{service} is the root cause",
        status="validated",
        confidence=0.6,
        evidence=[slow],
    )


def test_of_equal_wire_delays_the_wire_that_slowed_far_more_is_named() -> None:
    """checkout's calls to payments take ×46 their time on the wire, its calls to email ×16: both are
    full-strength findings held to the same cap, but a delay slows the wire into its own service most."""
    c = ctx(web=load(1.0), checkout=load(1.0), payments=load(1.0), email=load(1.0), catalog=load(1.0))
    for order in (
        [_wire("email", 15.7), _wire("payments", 46.5)],
        [_wire("payments", 46.5), _wire("email", 15.7)],
    ):
        out = OfflineConcluder().conclude(ConcludeInput(investigation_id="i", context=c, hypotheses=order))
        assert out.verdict == "root_cause_found" and out.root_cause is not None, out.summary
        assert out.root_cause.service == "payments", out.summary
        assert "Not email (network), as well supported: the wire into payments slowed far more" in out.summary
    # named whichever place the ranking gave it among three
    three = [_wire("catalog", 10.0), _wire("email", 15.7), _wire("payments", 46.5)]
    for order in (three, three[::-1], [three[1], three[2], three[0]]):
        out = OfflineConcluder().conclude(ConcludeInput(investigation_id="i", context=c, hypotheses=order))
        assert out.root_cause is not None and out.root_cause.service == "payments", out.summary
        assert out.ranked_causes[0].service == "payments"
    # not clearly more (×20 against ×16), or one of the tied is no wire delay: two stories, we say so
    close = [_wire("email", 15.7), _wire("payments", 20.0)]
    out = OfflineConcluder().conclude(ConcludeInput(investigation_id="i", context=c, hypotheses=close))
    assert out.verdict == "inconclusive"
    starved = [_metric("cpu", 55.0, 135.0, 1.0), _metric("self_latency", 37.0, 342.0, 1.0)]
    busy = _found("checkout", "cpu_saturation", 2).model_copy(
        update={"evidence": [e.model_copy(update={"supports": True}) for e in starved]}
    )
    third = [_wire("email", 15.7), _wire("payments", 46.5), busy]
    out = OfflineConcluder().conclude(ConcludeInput(investigation_id="i", context=c, hypotheses=third))
    assert out.verdict == "inconclusive"
    # the evidence carries how many times its baseline the wire time is
    e = edge_evidence(SpanSummary(query="q", edges=[_edge("web", "email", 1.0, 16.0)]), "email", set())
    into = next(x for x in e if x.signal == "edge_latency_in")
    assert into.baseline == 1.0 and into.current is not None and into.current > 4
