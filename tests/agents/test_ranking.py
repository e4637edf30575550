"""Small rules of judging and ranking: what a noisy doubling of CPU may not rule out, which resource a
service's hypothesis starts from, and how findings that the confidence caps leave tied are ordered."""

from __future__ import annotations

from sleuth.agents.concluder import OfflineConcluder, rank
from sleuth.agents.judge import judge
from sleuth.agents.planner import guess_kind
from sleuth.gateway.errors import DatadogNotFound, DatadogUnavailable
from sleuth.models.investigation import Evidence, Hypothesis
from sleuth.models.requests import ConcludeInput
from sleuth.models.telemetry import EdgeStats, EvidenceGap, SpanSummary
from tests.agents.test_traffic import _ev, ctx, judged, load


def _cpu(before: float, now: float, strength: float) -> Evidence:
    e = _ev("metrics", "cpu", strength)
    return e.model_copy(update={"baseline": before, "current": now})


def test_a_doubling_of_cpu_with_a_noisy_baseline_leaves_saturation_open() -> None:
    c = ctx(web=load(1.0))
    own_time = _ev("spans", "self_latency", 1.0)
    doubled = judged("h1", "web", "cpu_saturation", c, _cpu(4.8e6, 10.1e6, 0.0), own_time)
    assert doubled.status == "inconclusive"
    mild = judged("h2", "web", "cpu_saturation", c, _cpu(4.8e6, 6.0e6, 0.0), own_time)
    assert mild.status == "invalidated"
    # a doubling never validates on its own: it only keeps the question open
    assert doubled.confidence < 0.5


def test_a_service_whose_memory_moved_far_more_than_its_cpu_starts_as_memory_pressure() -> None:
    c = ctx(
        web=load(1.0),
        checkout=load(1.0, memory_z=4.4, cpu_z=0.8),
        payments=load(1.0, cpu_z=2.5, memory_z=2.9),
        email=load(1.0),
        catalog=load(1.0),
    )
    assert guess_kind("checkout", c) == "memory_pressure"
    assert guess_kind("payments", c) == "cpu_saturation"  # memory within noise: CPU stays the default
    assert guess_kind("email", c) == "cpu_saturation"


def test_a_service_its_callers_wait_longer_on_while_it_answers_as_fast_starts_as_network() -> None:
    slower_call = EdgeStats(caller="web", callee="catalog", baseline_p50_ms=5.0, window_p50_ms=7.5)
    c = ctx(web=load(1.0), catalog=load(1.0, latency_ratio=0.9), checkout=load(1.0, latency_ratio=1.6))
    c = c.model_copy(update={"span_summary": SpanSummary(query="*", edges=[slower_call])})
    assert guess_kind("catalog", c) == "network"
    # with no measurement of how fast it answers (too little history), nothing says the wire
    unmeasured = c.model_copy(update={"health": [load(1.0).model_copy(update={"service": "catalog"})]})
    assert guess_kind("catalog", unmeasured) == "cpu_saturation"
    # the same wait, but the callee itself answers slower: its own trouble, not the wire's
    slow_itself = c.model_copy(
        update={
            "edges": c.edges,
            "span_summary": SpanSummary(
                query="*", edges=[slower_call.model_copy(update={"callee": "checkout"})]
            ),
        }
    )
    assert guess_kind("checkout", slow_itself) == "cpu_saturation"


def test_findings_tied_by_their_caps_are_ordered_by_how_much_telemetry_agrees() -> None:
    c = ctx(web=load(1.0), checkout=load(1.0), payments=load(1.0), email=load(1.0), catalog=load(1.0))
    wire = _ev("spans", "edge_latency_in", 1.0)
    narrow = judged("h1", "email", "network", c, wire)
    broad = judged("h2", "payments", "network", c, wire, _ev("spans", "self_latency", 1.0))
    assert narrow.confidence == broad.confidence  # both capped by their single source
    assert [r.service for r in rank([narrow, broad], c)][:2] == ["payments", "email"]


def test_a_span_sample_cannot_rule_out_errors_its_own_logs_show_while_metrics_are_unreadable() -> None:
    """Every metrics query failed; route's error logs rose, its sampled spans show no new errors. The
    sample alone cannot rule code errors out. It can when the metrics answered, or the logs are quiet."""
    c = ctx(web=load(1.0))
    sample = [_ev("spans", "originated_errors", 0.1), _ev("spans", "self_latency", 1.0)]
    outage = DatadogUnavailable("503", "/api/v2/query/timeseries").gap("metrics", "q")
    answered = DatadogNotFound("404", "/api/v2/query/timeseries").gap("metrics", "q")
    assert outage.unread and not answered.unread

    def tried(*evidence: Evidence, gaps: list[EvidenceGap]) -> str:
        h = Hypothesis(
            id="h", service="route", kind="code_error", statement="s", evidence=list(evidence), gaps=gaps
        )
        return judge(h, c).status

    logged = _ev("logs", "log_errors", 1.0)
    assert tried(*sample, logged, gaps=[outage]) == "inconclusive"
    assert tried(*sample, logged, gaps=[answered]) == "invalidated"
    assert tried(*sample, logged, gaps=[]) == "invalidated"
    assert tried(*sample, _ev("logs", "log_errors", 0.0), gaps=[outage]) == "invalidated"
    # the complete error counts were read (from another query): the sample is not alone
    assert tried(*sample, logged, _ev("metrics", "errors", 0.0), gaps=[outage]) == "invalidated"


def test_a_surge_that_slowed_and_failed_nothing_does_not_rival_a_climbing_leak() -> None:
    """catalog's traffic nearly tripled (and its CPU with it) but it answered as fast and failed
    nothing; email's memory climbed every minute. More requests are a cause only where they hurt."""
    c = ctx(web=load(1.0), checkout=load(1.0), payments=load(1.0), email=load(1.0), catalog=load(2.8))
    hits = _ev("metrics", "hits", 0.64)
    absorbed = judged("h1", "catalog", "traffic_surge", c, hits, _ev("metrics", "cpu", 0.69))
    leak = judged("h2", "email", "memory_pressure", c, _ev("metrics", "memory", 1.0))
    assert leak.status == "validated"
    assert absorbed.confidence < leak.confidence
    out = OfflineConcluder().conclude(
        ConcludeInput(investigation_id="i", context=c, hypotheses=[absorbed, leak])
    )
    assert out.verdict == "root_cause_found" and out.root_cause is not None, out.summary
    assert out.root_cause.service == "email"
    # the same surge, now slowing the service it arrives at: the surge is a finding again
    slowed = judged(
        "h3", "catalog", "traffic_surge", c, hits, _ev("metrics", "cpu", 0.69), _ev("metrics", "latency", 1.0)
    )
    assert slowed.status == "validated" and slowed.confidence >= absorbed.confidence + 0.1


def test_a_service_given_up_on_whose_own_errors_blame_a_callee_is_passing_that_failure_on() -> None:
    """checkout's callers give up on its answers, and its new error lines say payments answered wrong
    (`Response validation failed: payments returned ...`); payments' own telemetry is quiet, but the
    error lines of its callers name it. The wrong answer is payments', passed on by checkout."""
    c = ctx(web=load(1.0), checkout=load(1.0), payments=load(1.0), email=load(1.0), catalog=load(1.0))
    given_up = _ev("spans", "ends_callers", 0.82)
    blamed = _ev("logs", "downstream_log_errors", 0.76).model_copy(update={"points_to": "payments"})
    relay = judged("h1", "checkout", "code_error", c, given_up, blamed, _ev("logs", "log_errors", 1.0))
    named = judged("h2", "payments", "code_error", c, _ev("logs", "named_in_errors", 1.0))
    assert named.status == "validated"
    assert relay.confidence < named.confidence
    out = OfflineConcluder().conclude(
        ConcludeInput(investigation_id="i", context=c, hypotheses=[relay, named])
    )
    assert out.root_cause is not None and out.root_cause.service == "payments", out.summary
    # the same give-ups with nothing in its own logs blaming another: they are checkout's own
    own = judged("h3", "checkout", "code_error", c, given_up, _ev("logs", "log_errors", 1.0))
    assert own.status == "validated" and own.confidence > named.confidence
