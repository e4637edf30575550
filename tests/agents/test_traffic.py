"""What traffic between services says: quiet callees of a caller that kept serving, errors nothing
downstream explains, and how the concluder weighs them against a callee's own finding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sleuth.agents import stats
from sleuth.agents.concluder import rank
from sleuth.agents.cut_short import GAVE_UP, RELAYED, cut_short_evidence
from sleuth.agents.evidence import log_evidence
from sleuth.agents.give_ups import cut_strength
from sleuth.agents.judge import VALIDATE_AT, complaints_count, judge, kind_scores
from sleuth.agents.traffic import (
    quiet_callees,
    starved_callees,
    stopped_on,
    unexplained_errors,
    where_errors_end,
)
from sleuth.models.alert import Alert
from sleuth.models.investigation import Evidence, Hypothesis, InvestigationContext
from sleuth.models.telemetry import Edge, EdgeStats, LogPattern, LogSummary, ServiceHealth, SpanSummary

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# web → checkout → {payments, email}; web → catalog
EDGES = [
    Edge(caller="web", callee="checkout"),
    Edge(caller="checkout", callee="payments"),
    Edge(caller="checkout", callee="email"),
    Edge(caller="web", callee="catalog"),
]


def ctx(**health: ServiceHealth) -> InvestigationContext:
    return InvestigationContext(
        alert=Alert(monitor_id="1", title="High latency on web", status="Triggered"),
        service="web",
        alert_time=NOW,
        window_start=NOW - timedelta(minutes=3),
        window_end=NOW,
        baseline_start=NOW - timedelta(hours=1),
        baseline_end=NOW - timedelta(minutes=3),
        edges=EDGES,
        health=[h.model_copy(update={"service": name}) for name, h in health.items()],
    )


def load(ratio: float, **kw: float) -> ServiceHealth:
    return ServiceHealth(service="", hits_ratio=ratio, **kw)


def test_a_caller_that_keeps_serving_while_its_callees_go_quiet_stops_early() -> None:
    c = ctx(web=load(1.0), checkout=load(1.1), payments=load(0.0), email=load(0.05), catalog=load(1.0))
    assert [callee for _, callee in quiet_callees(c, "checkout")] == ["payments", "email"]
    ev = starved_callees(c, "checkout")
    assert ev is not None and ev.supports and ev.strength == 1.0
    assert ev.signal == "fanout_change" and "payments (0% of its usual calls)" in ev.observation
    # web's own callees kept their traffic: nothing to say about web
    assert starved_callees(c, "web") is None


def test_quiet_callees_of_a_caller_that_lost_its_own_load_say_nothing() -> None:
    """Less traffic arriving upstream explains less traffic downstream."""
    c = ctx(web=load(1.0), checkout=load(0.2), payments=load(0.0), email=load(0.0), catalog=load(1.0))
    assert quiet_callees(c, "checkout") == []
    assert starved_callees(c, "checkout") is None


def test_a_sole_callers_retried_load_is_what_its_callees_quiet_is_read_against() -> None:
    """checkout serves 174 % of its usual requests (its callers retry it) while payments and email, whose
    only caller it is, get 26 %: against the calls checkout's load would make, that is 15 %."""
    c = ctx(web=load(1.0), checkout=load(1.74), payments=load(0.26), email=load(0.26), catalog=load(1.0))
    against_load = quiet_callees(c, "checkout")
    assert [callee for _, callee in against_load] == ["payments", "email"]
    assert against_load[0][0] == pytest.approx(min(1.0, (0.4 - 0.26 / 1.74) / 0.3), abs=1e-3)
    assert against_load[0][0] > 0.8  # read against the usual load alone it was 0.47
    # a caller whose load fell makes fewer calls: 26 % of the usual while it serves 65 % is not quiet
    c = ctx(web=load(1.0), checkout=load(0.65), payments=load(0.26), email=load(0.26), catalog=load(1.0))
    assert quiet_callees(c, "checkout") == []


def test_errors_are_unexplained_only_when_every_callee_is_seen_and_healthy() -> None:
    healthy = dict(checkout=load(1.0), catalog=load(1.0))
    web = load(1.0, error_rate_before=0.0, error_rate_now=0.05, error_z=8.0)
    ev = unexplained_errors(ctx(web=web, **healthy), "web")
    assert ev is not None and ev.supports and ev.signal == "unexplained_errors"
    # a callee failing, or slow enough to time its callers out, explains them
    failing = load(1.0, error_rate_before=0.0, error_rate_now=0.3, error_z=9.0)
    assert unexplained_errors(ctx(web=web, checkout=failing, catalog=load(1.0)), "web") is None
    slow = load(1.0, latency_ratio=8.0, latency_z=10.0)
    assert unexplained_errors(ctx(web=web, checkout=slow, catalog=load(1.0)), "web") is None
    # a callee we cannot see at all might be the one failing
    assert unexplained_errors(ctx(web=web, checkout=load(1.0)), "web") is None
    # the error metric's own strength counts when the health scan's rate z is diluted
    weak = load(1.0, error_rate_before=0.0, error_rate_now=0.03, error_z=1.0)
    assert unexplained_errors(ctx(web=weak, **healthy), "web") is None
    assert unexplained_errors(ctx(web=weak, **healthy), "web", measured=0.9) is not None


def test_a_quiet_callee_is_the_callers_symptom_and_the_caller_is_not_the_callees() -> None:
    """checkout stopped reaching email; email's calls look slow on the wire from checkout's side.
    Both validate, but email only echoes checkout, so checkout ranks first."""
    c = ctx(web=load(1.0), checkout=load(1.2), payments=load(1.0), email=load(0.0), catalog=load(1.0))
    starved = starved_callees(c, "checkout")
    assert starved is not None
    checkout = judged("h1", "checkout", "code_error", c, starved, _ev("spans", "errors", 0.6))
    email = judged(
        "h2", "email", "network", c, _ev("spans", "edge_latency_in", 1.0), _ev("metrics", "latency", 0.5)
    )
    assert checkout.status == "validated" and email.status == "validated"
    ranked = rank([checkout, email], c)
    assert [r.service for r in ranked] == ["checkout", "email"]
    assert ranked[1].score < ranked[0].score


def test_unexplained_errors_of_a_caller_give_way_to_a_callees_own_finding() -> None:
    c = ctx(
        web=load(1.0, error_rate_now=0.05, error_z=8.0),
        checkout=load(1.0),
        payments=load(1.0),
        email=load(0.0),
        catalog=load(1.0),
    )
    web_errors = unexplained_errors(c, "web")
    assert web_errors is not None
    web = judged("h1", "web", "code_error", c, web_errors, _ev("spans", "errors", 0.6))
    starved = starved_callees(c, "checkout")
    assert starved is not None
    checkout = judged("h2", "checkout", "code_error", c, starved, _ev("spans", "latency", 0.4))
    assert web.status == checkout.status == "validated"
    assert rank([web, checkout], c)[0].service == "checkout"


def test_an_earlier_incident_in_the_baseline_does_not_hide_this_one() -> None:
    """Twenty quiet minutes, three of an earlier incident at ~47 % errors, then 4 %: clearly new."""
    baseline = [0.0] * 12 + [50.4, 44.6, 46.2] + [0.0] * 5
    window = [4.3, 2.3, 5.5]
    s = stats.shift(baseline, window, abs_floor=1.0)
    assert s is not None and s.z > 3
    # ... while sporadic small errors stay noise at the same floor
    noisy = stats.shift([0, 1, 0, 0, 2, 0, 1, 0, 0, 1, 0, 0], [1, 0, 1], abs_floor=1.0)
    assert noisy is not None and noisy.strength == 0.0


def judged(hid: str, service: str, kind: str, c: InvestigationContext, *evidence: Evidence) -> Hypothesis:
    h = Hypothesis(id=hid, service=service, kind=kind, statement="s", evidence=list(evidence))  # type: ignore[arg-type]
    return judge(h, c)


def _ev(source: str, signal: str, strength: float) -> Evidence:
    return Evidence(
        source=source,
        query="q",
        observation=signal,
        signal=signal,
        strength=strength,  # type: ignore[arg-type]
        supports=strength >= 0.3,
    )


def test_a_callee_whose_errors_carry_a_good_share_of_the_callers_rise_explains_them() -> None:
    """A small error rate moves little in z, yet 2 of web's 5 new points of errors come from checkout."""
    web = load(1.0, error_rate_before=0.0, error_rate_now=0.05, error_z=8.0)
    carrying = load(1.0, error_rate_before=0.001, error_rate_now=0.021, error_z=1.5)
    assert unexplained_errors(ctx(web=web, checkout=carrying, catalog=load(1.0)), "web") is None
    # a wobble far smaller than web's rise carries none of it
    wobble = load(1.0, error_rate_before=0.001, error_rate_now=0.003, error_z=0.5)
    assert unexplained_errors(ctx(web=web, checkout=wobble, catalog=load(1.0)), "web") is not None


def test_trouble_nothing_connects_to_the_alert_is_ranked_below_trouble_that_reaches_it() -> None:
    """A batch worker outside web's call graph, loudly unwell, against a modest validated finding in
    one of web's callees: the worker cannot explain web's alert through any call we saw."""
    c = ctx(web=load(1.0), checkout=load(1.0), payments=load(1.0), email=load(1.0), catalog=load(1.0))
    payments = judged("h1", "payments", "code_error", c, _ev("spans", "originated_errors", 0.6))
    worker = judged(
        "h2", "docs-worker", "memory_pressure", c, _ev("metrics", "memory", 1.0), _ev("logs", "oom_logs", 1.0)
    )
    assert payments.status == worker.status == "validated" and worker.confidence > payments.confidence
    ranked = rank([payments, worker], c)
    assert [r.service for r in ranked] == ["payments", "docs-worker"]
    assert ranked[1].confidence <= 0.45  # never named the root cause, only listed for the human
    # with no call graph at all, nothing is "unrelated"
    bare = c.model_copy(update={"edges": []})
    assert rank([payments, worker], bare)[0].service == "docs-worker"


def test_a_surge_at_the_entry_is_the_cause_of_the_saturation_it_sends_downstream() -> None:
    """web's load rose ×6 and everything it calls saturated: their CPU findings are as strong as web's
    surge, but nothing they do sends web more requests."""
    c = ctx(web=load(6.0), checkout=load(6.0), payments=load(6.0), email=load(1.0), catalog=load(5.0))
    surge = judged(
        "h1",
        "web",
        "traffic_surge",
        c,
        _ev("metrics", "hits", 1.0),
        _ev("metrics", "latency", 1.0),
        _ev("logs", "log_errors", 1.0),
    )
    saturated = [
        judged(f"h{i}", s, "cpu_saturation", c, _ev("metrics", "cpu", 1.0), _ev("spans", "self_latency", 1.0))
        for i, s in enumerate(("checkout", "payments", "catalog"), 2)
    ]
    assert surge.status == "validated" and all(h.status == "validated" for h in saturated)
    ranked = rank([surge, *saturated], c)
    assert ranked[0].service == "web" and ranked[0].score > ranked[1].score / 0.9


def test_sampled_spans_do_not_overrule_an_externals_complete_client_metrics() -> None:
    """A few traced calls to an external API took twice as long, but every call its callers made,
    counted by their client metrics, took as long as usual."""
    sampled = [_ev("spans", "self_latency", 0.7)]
    complete = [_ev("metrics", "external_latency", 0.0), _ev("metrics", "external_errors", 0.0)]
    assert kind_scores("bureau", sampled, "external")["external_dependency"] == 0.7
    assert kind_scores("bureau", sampled + complete, "external")["external_dependency"] == 0.0
    failing = [_ev("metrics", "external_latency", 0.9)]
    assert kind_scores("bureau", sampled + failing, "external")["external_dependency"] == 0.9


def test_errors_logged_downstream_explain_a_callers_errors() -> None:
    """Where spans and metrics carry no error of a callee (no error flag, no error metric), its own
    error logs may: the caller's errors then come from there, two calls down or one."""
    web = load(1.0, error_rate_before=0.0, error_rate_now=0.05, error_z=8.0)
    quiet = dict(checkout=load(1.0), catalog=load(1.0), payments=load(1.0), email=load(1.0))
    assert unexplained_errors(ctx(web=web, **quiet), "web") is not None
    logging = load(1.0, error_logs=40, error_logs_expected=0.5)
    assert unexplained_errors(ctx(web=web, **{**quiet, "payments": logging}), "web") is None
    # a few lines, or as many as usual, are not a failure
    few = load(1.0, error_logs=2, error_logs_expected=0.0)
    usual = load(1.0, error_logs=40, error_logs_expected=38.0)
    assert unexplained_errors(ctx(web=web, **{**quiet, "payments": few}), "web") is not None
    assert unexplained_errors(ctx(web=web, **{**quiet, "payments": usual}), "web") is not None
    # errors logged by an unrelated service (not downstream of web) explain nothing
    assert unexplained_errors(ctx(web=web, **quiet, worker=logging), "web") is not None


def test_errors_a_service_logs_with_no_error_span_and_nothing_beneath_are_its_own() -> None:
    """A handled exception answers sooner, not with an error span: the service's error rate stays
    flat while its error logs rise. With every callee seen and calm, those errors are its own."""
    calm = dict(payments=load(1.0), email=load(1.0))
    logging = load(1.6, error_logs=213, error_logs_expected=31.0)
    ev = unexplained_errors(ctx(web=load(1.0), checkout=logging, **calm), "checkout")
    assert ev is not None and ev.supports and ev.signal == "unexplained_errors" and ev.source == "logs"
    assert "checkout logged 213 errors (about 31 expected)" in ev.observation
    assert kind_scores("checkout", [ev])["code_error"] == ev.strength
    # as many lines as usual, or errors logged beneath it as well, say nothing about it
    usual = load(1.0, error_logs=40, error_logs_expected=38.0)
    assert unexplained_errors(ctx(web=load(1.0), checkout=usual, **calm), "checkout") is None
    below = {**calm, "payments": load(1.0, error_logs=40, error_logs_expected=0.5)}
    assert unexplained_errors(ctx(web=load(1.0), checkout=logging, **below), "checkout") is None


def test_error_lines_naming_a_callee_are_not_the_services_own() -> None:
    """ "Response validation failed [payments]": the callee answered wrongly, in a way its own health
    does not show. Lines naming a service beneath are its failure, not the caller's; lines naming a
    service elsewhere (its own caller) leave the reading as it was."""
    calm = dict(payments=load(1.0), email=load(1.0))
    logging = load(1.6, error_logs=213, error_logs_expected=31.0)
    world = ctx(web=load(1.0), checkout=logging, **calm)
    assert unexplained_errors(world, "checkout", named=frozenset({"payments"})) is None
    ev = unexplained_errors(world, "checkout", named=frozenset({"web"}))
    assert ev is not None and ev.supports


def test_a_sampled_call_graph_does_not_make_a_service_unrelated() -> None:
    """Only a whole call graph shows that nothing connects a service to the alert; when the span
    searches hit their cap the graph is a sample, and a service missing from it is unobserved."""
    c = ctx(web=load(1.0), checkout=load(1.0), payments=load(1.0), email=load(1.0), catalog=load(1.0))
    payments = judged("h1", "payments", "code_error", c, _ev("spans", "originated_errors", 0.6))
    worker = judged("h2", "docs-worker", "memory_pressure", c, _ev("metrics", "memory", 1.0))
    assert [r.service for r in rank([payments, worker], c)] == ["payments", "docs-worker"]
    sampled = c.model_copy(update={"call_graph_complete": False})
    ranked = rank([payments, worker], sampled)
    assert ranked[0].service == "docs-worker" and ranked[0].confidence > 0.45


def test_callers_rejecting_the_answers_of_a_healthy_looking_service_point_at_a_wrong_answer() -> None:
    named = _ev("logs", "named_in_errors", 0.9)
    healthy = [_ev("metrics", "cpu", 0.0), _ev("metrics", "memory", 0.0)]
    assert complaints_count([*healthy, named])
    assert kind_scores("orders", [*healthy, named])["code_error"] == pytest.approx(0.72)
    # unmeasured, a complaint names the service but not what is wrong with it
    assert not complaints_count([named])
    # erring itself, it passes someone else's failure on
    assert not complaints_count([*healthy, _ev("metrics", "errors", 0.9), named])
    assert not complaints_count([*healthy, _ev("logs", "downstream_log_errors", 0.8), named])


def gave_up(caller: str, callee: str, share: float, n: int = 60) -> EdgeStats:
    return EdgeStats(
        caller=caller,
        callee=callee,
        caller_baseline_requests=n,
        window_ended_after=share,
        caller_window_requests=n,
    )


def test_errors_end_where_the_requests_beneath_give_up_deepest() -> None:
    """web's errors rose and no service shows errors of its own; web's requests give up on checkout's
    answers, and checkout's on payments': the errors come from payments, and checkout passes them on."""
    web = load(1.0, error_rate_before=0.0, error_rate_now=0.05, error_z=8.0)
    healthy = {s: load(1.0) for s in ("checkout", "catalog", "payments", "email")}
    c = ctx(web=web, **healthy)
    c.span_summary = SpanSummary(
        query="env:test", edges=[gave_up("web", "checkout", 0.5), gave_up("checkout", "payments", 0.5)]
    )
    assert unexplained_errors(c, "web") is None, "what its requests give up on explains web's errors"
    ev = where_errors_end(c, "payments")
    assert ev is not None and ev.supports and ev.signal == "explains_errors"
    assert "checkout's requests give up on payments's answers" in ev.observation
    assert where_errors_end(c, "checkout") is None and where_errors_end(c, "web") is None
    through = cut_short_evidence(c.span_summary, "checkout")
    assert (
        through is not None
        and through.strength == 0.0
        and "of its own now give up on payments" in through.observation
    )
    origin = cut_short_evidence(c.span_summary, "payments")
    assert origin is not None and origin.supports
    # requests that give up no more than chance allows explain nothing
    c.span_summary = SpanSummary(query="env:test", edges=[gave_up("checkout", "payments", 0.02)])
    assert unexplained_errors(c, "web") is not None and where_errors_end(c, "payments") is None


def test_errors_end_at_the_callee_given_up_on_deepest_in_the_call_graph() -> None:
    """web → shop → plan → route → station, each calling the next one last, so neither plan nor route
    shows requests of its own giving up. shop's requests give up on plan's answers and route's on
    station's: plan reaches station, so the errors end at station and plan only passes them on."""
    web = load(1.0, error_rate_before=0.0, error_rate_now=0.05, error_z=8.0)
    healthy = {s: load(1.0) for s in ("shop", "plan", "route", "station", "catalog")}
    chain = [
        Edge(caller="web", callee="shop"),
        Edge(caller="shop", callee="plan"),
        Edge(caller="plan", callee="route"),
        Edge(caller="route", callee="station"),
        Edge(caller="web", callee="catalog"),
    ]
    c = ctx(web=web, **healthy).model_copy(update={"edges": chain})
    # plan's failing is the clearer of the two, and still not where the errors end
    c.span_summary = SpanSummary(
        query="env:test",
        edges=[gave_up("shop", "plan", 0.8), gave_up("plan", "route", 0.0), gave_up("route", "station", 0.5)],
    )
    ev = where_errors_end(c, "station")
    assert (
        ev is not None and ev.supports and "route's requests give up on station's answers" in ev.observation
    )
    assert where_errors_end(c, "plan") is None
    through = cut_short_evidence(c.span_summary, "plan")
    assert through is not None and not through.supports
    assert "of route's beneath it now give up on station's" in through.observation
    origin = cut_short_evidence(c.span_summary, "station")
    assert origin is not None and origin.supports
    # without the deeper give-up, plan is where they end
    c.span_summary = SpanSummary(query="env:test", edges=[gave_up("shop", "plan", 0.8)])
    assert where_errors_end(c, "plan") is not None
    assert (plan := cut_short_evidence(c.span_summary, "plan")) is not None and plan.supports


def retried(caller: str, callee: str, share: float, n: int = 16) -> EdgeStats:
    return gave_up(caller, callee, share, n).model_copy(update={"window_retried": share})


def test_a_caller_that_stops_early_after_calling_a_callee_again_stops_on_its_answer() -> None:
    """checkout stopped reaching email while its load held (complete metrics: most requests stop),
    and the few sampled requests that stop call payments again first: payments' answer is what they
    stop on, not checkout's own code."""
    c = ctx(web=load(1.0), checkout=load(1.0), payments=load(1.0), email=load(0.1), catalog=load(1.0))
    own = starved_callees(c, "checkout")
    assert own is not None and own.supports  # without the sample, checkout's own requests stop
    assert stopped_on(c, "payments") is None
    c.span_summary = SpanSummary(query="env:test", edges=[retried("checkout", "payments", 3 / 16)])
    ev = stopped_on(c, "payments")
    assert ev is not None and ev.supports and ev.signal == "ends_callers" and ev.strength == 1.0
    assert "checkout stopped reaching email" in ev.observation
    passed = starved_callees(c, "checkout")
    assert passed is not None and not passed.supports and "call payments again first" in passed.observation
    assert stopped_on(c, "email") is None  # the callee it stops before is the symptom
    # two requests are enough, whatever the rounding of their share
    c.span_summary = SpanSummary(
        query="env:test", edges=[retried("checkout", "payments", round(2 / 17, 4), 17)]
    )
    assert stopped_on(c, "payments") is not None
    # one request calling again may be a client's own retry policy: not enough to say where
    c.span_summary = SpanSummary(query="env:test", edges=[retried("checkout", "payments", 1 / 16)])
    assert stopped_on(c, "payments") is None
    assert (own := starved_callees(c, "checkout")) is not None and own.supports
    # nor does a rejected answer say anything where the caller's requests do not stop early
    c = ctx(web=load(1.0), checkout=load(1.0), payments=load(1.0), email=load(1.0), catalog=load(1.0))
    c.span_summary = SpanSummary(query="env:test", edges=[retried("checkout", "payments", 3 / 16)])
    assert stopped_on(c, "payments") is None


def test_a_callee_receiving_more_calls_than_its_callers_load_explains_is_called_again() -> None:
    """payments now receives half as many calls again as checkout's load explains (hit counts are
    never sampled: that many requests call it again), and the few sampled requests that call it
    again say which callee: callers reject payments' answers. Weighed per caller: web's share of the
    calls into payments kept its load, checkout's grew."""
    calls = [*EDGES, Edge(caller="web", callee="payments")]
    counted = [e.model_copy(update={"calls": 30 if e.caller == "checkout" else 10}) for e in calls]
    healthy = {s: load(1.0) for s in ("web", "email", "catalog")}
    c = ctx(checkout=load(1.0), payments=load(1.4), **healthy).model_copy(update={"edges": counted})
    assert stopped_on(c, "payments") is None  # without the sample, nothing says which callee
    c.span_summary = SpanSummary(query="env:test", edges=[retried("checkout", "payments", 3 / 16)])
    ev = stopped_on(c, "payments")
    assert ev is not None and ev.supports and ev.signal == "ends_callers"
    assert ev.strength == 0.8 and "payments receives ×1.40 the calls" in ev.observation
    # web's load fell to 0.6 and carries a quarter of the calls: 1.4 is ×1.56 of what is explained
    c.health = [h.model_copy(update={"hits_ratio": 0.6}) if h.service == "web" else h for h in c.health]
    ev = stopped_on(c, "payments")
    assert ev is not None and ev.strength == 1.0 and "×1.56" in ev.observation
    # a few percent more calls is a shift in what the callers' requests do, not calls made again
    c = ctx(checkout=load(1.0), payments=load(1.1), **healthy).model_copy(update={"edges": counted})
    c.span_summary = SpanSummary(query="env:test", edges=[retried("checkout", "payments", 3 / 16)])
    assert stopped_on(c, "payments") is None
    # a caller without hit counts leaves what is explained unknown
    c = ctx(payments=load(1.4), **healthy).model_copy(update={"edges": counted})
    c.span_summary = SpanSummary(query="env:test", edges=[retried("checkout", "payments", 3 / 16)])
    assert stopped_on(c, "payments") is None


def test_a_caller_whose_later_callees_lose_calls_stops_on_the_answer_its_requests_end_after() -> None:
    """email receives 30% fewer calls than checkout's load explains (complete metrics: that many of
    checkout's requests stop before calling it), and checkout's sampled requests now end right after
    calling payments: they stop on payments' answer. Not so for a few percent, which a shift in what
    the requests do explains, nor without the sample saying where."""
    counted = [e.model_copy(update={"calls": 40}) for e in EDGES]
    healthy = {s: load(1.0) for s in ("web", "checkout", "payments", "catalog")}
    c = ctx(email=load(0.7), **healthy).model_copy(update={"edges": counted})
    assert stopped_on(c, "payments") is None
    c.span_summary = SpanSummary(query="env:test", edges=[gave_up("checkout", "payments", 3 / 16, 16)])
    ev = stopped_on(c, "payments")
    assert ev is not None and ev.supports and ev.signal == "ends_callers" and ev.strength == 1.0
    assert (
        "email receives 30% fewer calls" in ev.observation
        and "end right after calling payments" in ev.observation
    )
    assert stopped_on(c, "email") is None  # the callee it stops before is the symptom
    # one request ending there may be chance: not enough to say where
    c.span_summary = SpanSummary(query="env:test", edges=[gave_up("checkout", "payments", 1 / 16, 16)])
    assert stopped_on(c, "payments") is None
    c = ctx(email=load(0.9), **healthy).model_copy(update={"edges": counted})
    c.span_summary = SpanSummary(query="env:test", edges=[gave_up("checkout", "payments", 3 / 16, 16)])
    assert stopped_on(c, "payments") is None
    # a callee seen in a handful of calls is too quiet for its hit counts to say a share went missing
    few = [e.model_copy(update={"calls": 8}) for e in EDGES]
    c = ctx(email=load(0.5), **healthy).model_copy(update={"edges": few})
    c.span_summary = SpanSummary(query="env:test", edges=[gave_up("checkout", "payments", 3 / 16, 16)])
    assert stopped_on(c, "payments") is None


def test_requests_that_stop_on_a_service_passing_a_failure_on_point_further_down() -> None:
    """web's requests end right after checkout and catalog lost calls, but checkout's own requests give
    up on payments: checkout passes payments' failure on, as with requests cut short."""
    counted = [e.model_copy(update={"calls": 40}) for e in EDGES]
    healthy = {s: load(1.0) for s in ("web", "checkout", "payments", "email")}
    c = ctx(catalog=load(0.7), **healthy).model_copy(update={"edges": counted})
    c.span_summary = SpanSummary(query="env:test", edges=[gave_up("web", "checkout", 3 / 16, 16)])
    alone = stopped_on(c, "checkout")
    assert alone is not None and alone.supports
    c.span_summary = SpanSummary(
        query="env:test",
        edges=[gave_up("web", "checkout", 3 / 16, 16), gave_up("checkout", "payments", 0.5)],
    )
    passed = stopped_on(c, "checkout")
    assert passed is not None and not passed.supports and passed.strength == 0.0
    assert "of its own now give up on payments" in passed.observation
    # a faint give-up beneath, as many for its share as web's give-ups on checkout, accounts for them
    faint = gave_up("checkout", "payments", 5 / 31, 31)
    assert 0 < cut_strength(faint) < 0.2
    c.span_summary = SpanSummary(query="env:test", edges=[gave_up("web", "checkout", 5 / 31, 31), faint])
    passed = stopped_on(c, "checkout")
    assert passed is not None and passed.strength == 0.0
    assert "16% of its own now give up on payments" in passed.observation


def test_errors_nothing_explains_lead_to_a_callee_given_up_on_faintly() -> None:
    """web's errors rose and nothing shows errors; 6 of 40 of checkout's requests give up on payments'
    answers, too few for a finding. The finding on web leads to payments as a wrong answer to test;
    a clear give-up is where_errors_end's business instead, and a service the alert is not on leads
    nowhere."""
    web = load(1.0, error_rate_before=0.0, error_rate_now=0.05, error_z=8.0)
    c = ctx(web=web, **{s: load(1.0) for s in ("checkout", "catalog", "payments", "email")})
    c.span_summary = SpanSummary(query="env:test", edges=[gave_up("checkout", "payments", 6 / 40, 40)])
    assert 0 < cut_strength(c.span_summary.edges[0]) < GAVE_UP
    errors = unexplained_errors(c, "web")
    assert errors is not None and errors.supports
    leads = judged("h1", "web", "code_error", c, errors, _ev("metrics", "errors", 0.9)).leads
    assert [(lead.service, lead.kind) for lead in leads] == [("payments", "code_error")]
    assert leads[0].strength == cut_strength(c.span_summary.edges[0])
    # the tested lead stays inconclusive: a faint give-up is never a finding
    lead = judged(
        "h2", "payments", "code_error", c, cut_evidence(c, "payments"), _ev("metrics", "errors", 0.0)
    )
    assert lead.status == "inconclusive" and lead.confidence == 0.0
    # not from a service the alert is not on
    assert judged("h3", "checkout", "code_error", c, errors).leads == []
    # too faint to be worth a test where others give up as often elsewhere
    c.span_summary = SpanSummary(
        query="env:test",
        edges=[gave_up("checkout", "payments", 3 / 40, 40), gave_up("checkout", "email", 3 / 40, 40)],
    )
    assert judged("h1", "web", "code_error", c, errors).leads == []


def test_errors_nothing_explains_end_where_the_only_requests_giving_up_do_however_few() -> None:
    """web's errors rose and nothing shows errors; 3 of 40 of checkout's requests give up on payments'
    answers, and nowhere else does any request give up: too few to count alone, yet the only place the
    errors can end. payments is a lead and an inconclusive finding, as is ledger, whose answer payments
    passes on to checkout; with a second place giving up as often, neither."""
    web = load(1.0, error_rate_before=0.0, error_rate_now=0.05, error_z=8.0)
    c = ctx(web=web, **{s: load(1.0) for s in ("checkout", "catalog", "payments", "email", "ledger")})
    lone = [gave_up("checkout", "payments", 3 / 40, 40), gave_up("payments", "ledger", 0.0)]
    lone[1].last_call_for = ["checkout"]
    c.span_summary = SpanSummary(query="env:test", edges=lone)
    assert cut_strength(lone[0]) == 0.0
    errors = unexplained_errors(c, "web")
    assert errors is not None and errors.supports
    leads = judged("h1", "web", "code_error", c, errors).leads
    assert [(lead.service, lead.kind) for lead in leads] == [
        ("payments", "code_error"),
        ("ledger", "code_error"),
    ]
    assert leads[0].strength > leads[1].strength
    payments, ledger = where_errors_end(c, "payments"), where_errors_end(c, "ledger")
    assert payments is not None and ledger is not None and where_errors_end(c, "email") is None
    assert "only checkout's requests give up on payments's answers: 3 of 40" in payments.observation
    assert payments.supports and ledger.strength < payments.strength <= RELAYED
    for service, ev in (("payments", payments), ("ledger", ledger)):
        found = judged("h2", service, "code_error", c, ev)
        assert found.status == "inconclusive" and 0.0 < found.confidence < VALIDATE_AT
    c.span_summary = SpanSummary(query="env:test", edges=[*lone, gave_up("checkout", "email", 3 / 40, 40)])
    assert where_errors_end(c, "payments") is None
    assert judged("h1", "web", "code_error", c, errors).leads == []


def test_a_few_new_error_lines_naming_a_callee_lead_to_it() -> None:
    """checkout logged five new error lines, each naming payments ("response validation failed
    [payments]"): too few to be a finding, and its own errors are payments' as checkout saw them. A
    wrong answer may leave nothing else behind, so the lead to payments is followed, however faint."""
    logs = LogSummary(
        query="service:checkout",
        error_count=5,
        new_patterns=[
            LogPattern(
                pattern="[getAll][Response validation failed] payments",
                count=5,
                status="error",
                sample="ERROR CheckoutImpl [getAll][Response validation failed] payments",
            )
        ],
    )
    evidence = log_evidence(logs, 1.0, "checkout", {"checkout", "payments", "web"})
    named = next(e for e in evidence if e.signal == "downstream_log_errors")
    assert named.points_to == "payments" and 0 < named.strength < 0.3 and not named.supports
    c = ctx(**{s: load(1.0) for s in ("web", "checkout", "catalog", "payments", "email")})
    leads = judged("h1", "checkout", "code_error", c, *evidence).leads
    assert [(x.service, x.kind, x.strength) for x in leads] == [("payments", "unknown", named.strength)]
    # two lines are the churn of any busy system: no lead
    logs.new_patterns[0].count = 2
    evidence = log_evidence(logs, 1.0, "checkout", {"checkout", "payments", "web"})
    assert judged("h1", "checkout", "code_error", c, *evidence).leads == []


def cut_evidence(c: InvestigationContext, service: str) -> Evidence:
    assert c.span_summary is not None
    ev = cut_short_evidence(c.span_summary, service)
    assert ev is not None and not ev.supports
    return ev
