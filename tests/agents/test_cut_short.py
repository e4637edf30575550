"""Requests cut short right after one call point at the callee whose answer made the caller give up."""

from __future__ import annotations

from sleuth.agents.cut_short import ONE_HOP_FURTHER, RELAYED, cut_short_evidence, passed_on_answer
from sleuth.agents.give_ups import MIN_HABIT, MIN_PATTERN, Shares, cut_strength, give_ups
from sleuth.agents.judge import VALIDATE_AT, judge
from sleuth.agents.summaries import summarize_spans
from sleuth.gateway.records import SpanRecord
from sleuth.models.investigation import Hypothesis
from sleuth.models.telemetry import EdgeStats, SpanSummary
from tests.agents.test_traffic import ctx

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


def pay(tid: str, t: float, caller: str, calls: list[str]) -> list[SpanRecord]:
    """A request to payments' `pay` from `caller`, calling `calls` in turn."""
    client = SpanRecord(
        trace_id=tid,
        span_id=f"{tid}-c",
        parent_id="0",
        service=caller,
        operation="http",
        start=t,
        duration_ms=9,
    )
    spans_ = request(tid, t, calls)
    root = spans_[0].model_copy(
        update={"service": "payments", "operation": "pay", "parent_id": client.span_id}
    )
    return [client, root, *spans_[1:]]


def test_requests_ending_right_after_one_callee_implicate_it() -> None:
    baseline, window = spans(100, 0.0), spans(100, 1000.0, cut_after="catalog")
    shares = give_ups(baseline, window).shares
    assert shares[("web", "catalog")] == Shares(
        baseline=0.0,
        baseline_requests=100,
        window=1.0,
        window_requests=100,
        baseline_calling=100,
        window_calling=100,
    )
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
    # a handful ending early now and then, as they did before, is background, not a finding
    habit = spans(100, 0.0, cut_after="catalog", every=10)
    some = summarize_spans("env:test", habit, spans(100, 1000.0, cut_after="catalog", every=10))
    ev = cut_short_evidence(some, "catalog")
    assert ev is not None and not ev.supports
    # nor is one more request in a hundred than before
    more = summarize_spans("env:test", habit, spans(100, 1000.0, cut_after="catalog", every=9))
    ev = cut_short_evidence(more, "catalog")
    assert ev is not None and ev.strength == 0.0


def test_a_pattern_the_baseline_never_had_counts_in_an_eighth_of_requests() -> None:
    """One request in eight now giving up on a callee, where none ever did, is not chance (a wrong
    value returned now and then looks like this); the same share where it was usual is the mix."""
    new = summarize_spans("env:test", spans(100, 0.0), spans(100, 1000.0, cut_after="catalog", every=8))
    ev = cut_short_evidence(new, "catalog")
    assert ev is not None and ev.supports
    # one in twenty, new or not, is not what an alert is about
    rare = summarize_spans("env:test", spans(100, 0.0), spans(100, 1000.0, cut_after="catalog", every=20))
    ev = cut_short_evidence(rare, "catalog")
    assert ev is not None and ev.strength == 0.0


def test_a_retry_in_a_few_requests_is_a_pattern_where_ending_early_is_not() -> None:
    """A request that ends after a call may have failed in its own code next; one that calls the same
    callee again rejected its first answer. One in thirty retrying, where none did, is a finding."""
    again = ["currency", "catalog", "catalog", "cart", "ads", "shipping"]

    def window(calls: list[str]) -> list[SpanRecord]:
        out: list[SpanRecord] = []
        for i in range(600):
            out += request(f"w-{i}", 2000.0 + i, calls if i % 30 == 0 else CALLS)
        return out

    baseline = spans(600, 0.0)
    retried = cut_short_evidence(summarize_spans("env:test", baseline, window(again)), "catalog")
    assert retried is not None and retried.supports
    ended = cut_short_evidence(summarize_spans("env:test", baseline, window(CALLS[:2])), "catalog")
    assert ended is not None and ended.strength == 0.0


def test_a_router_s_retries_of_one_backend_count_among_the_requests_that_reached_it() -> None:
    """A gateway's one operation sends each request to one of sixty backends. All ten of its requests
    that reached `execute` now call it again: among the requests that called it, that is all of them;
    counted over the gateway's six hundred, it would be under two in a hundred, below notice. Ending
    right after a backend stays a share of all six hundred: a router's own failing code ends its
    requests after whichever backend they called."""
    backends = [f"b{i}" for i in range(59)] + ["execute"]

    def routed(n: int, t0: float, retried: bool) -> list[SpanRecord]:
        out: list[SpanRecord] = []
        for i in range(n):
            backend = backends[i % len(backends)]
            calls = [backend, backend] if retried and backend == "execute" else [backend]
            out += request(f"{t0}-{i}", t0 + i, calls)
        return out

    baseline, window = routed(600, 0.0, retried=False), routed(600, 1000.0, retried=True)
    shares = give_ups(baseline, window).shares
    assert shares[("web", "execute")] == Shares(0.0, 600, 10 / 600, 600, 0.0, 1.0, 10, 10)
    # a backend nobody retried is counted over its own requests too, none calling it again
    assert shares[("web", "b3")] == Shares(0.0, 600, 0.0, 600, 0.0, 0.0, 10, 10)
    ev = cut_short_evidence(summarize_spans("env:test", baseline, window), "execute")
    assert ev is not None and ev.supports and ev.strength == 1.0
    assert "of the 10 that called it, 100% called it again (was 0%)" in ev.observation


def test_retrying_the_call_that_fails_still_ends_the_request_short() -> None:
    """A caller that retries its failing callee makes as many calls as usual, but not to its usual
    callees: counted by distinct callees, its requests still end right after that callee."""
    retried = ["currency", "catalog", "catalog", "catalog", "catalog"]
    window: list[SpanRecord] = []
    for i in range(60):
        window += request(f"w-{i}", 2000.0 + i, retried if i % 2 == 0 else CALLS)
    shares = give_ups(spans(60, 1000.0), window).shares
    assert shares[("web", "catalog")] == Shares(
        0.0, 60, 0.5, 60, 0.0, 0.5, baseline_calling=60, window_calling=60
    )


def test_calling_the_same_callee_again_is_giving_up_on_its_first_answer() -> None:
    """A retry that succeeds leaves the request whole, but the first answer was rejected."""
    again = ["currency", "catalog", "catalog", "cart", "ads", "shipping"]
    window: list[SpanRecord] = []
    for i in range(60):
        window += request(f"w-{i}", 2000.0 + i, again if i % 2 == 0 else CALLS)
    shares = give_ups(spans(60, 1000.0), window).shares
    assert shares[("web", "catalog")] == Shares(
        0.0, 60, 0.5, 60, 0.0, 0.5, baseline_calling=60, window_calling=60
    )
    # every callee the caller would call is counted, the ones nobody gave up on included
    assert shares[("web", "cart")] == Shares(0.0, 60, 0.0, 60, baseline_calling=60, window_calling=60)


def test_a_request_that_skips_the_call_it_always_makes_next_was_cut_short() -> None:
    """Stopping one call early is not "half its usual calls", but a call it always made is missing."""
    window = spans(60, 1000.0, cut_after="ads")  # four of five calls: shipping, always last, is gone
    shares = give_ups(spans(60, 0.0), window).shares
    assert shares[("web", "ads")] == Shares(0.0, 60, 1.0, 60, baseline_calling=60, window_calling=60)
    # too few requests before make no habit to break
    assert give_ups(spans(MIN_HABIT - 1, 0.0), window).shares[("web", "ads")].window == 0.0


def test_one_endpoint_serving_two_callers_is_judged_per_caller() -> None:
    """`pay` from the UI calls ledger then notify; from refunds it calls only ledger. Requests from
    the UI that stop after ledger gave up on it; those from refunds always stopped there."""

    def mix(n: int, t0: float, cut: bool) -> list[SpanRecord]:
        out: list[SpanRecord] = []
        for i in range(n):
            ui = ["ledger"] if cut and i % 3 == 0 else ["ledger", "notify"]
            out += pay(f"{t0}-u{i}", t0 + i, "ui", ui) + pay(f"{t0}-r{i}", t0 + i, "refunds", ["ledger"])
        return out

    shares = give_ups(mix(60, 0.0, cut=False), mix(60, 1000.0, cut=True)).shares
    assert shares[("payments", "ledger")] == Shares(
        0.0, 60, 20 / 60, 60, baseline_calling=60, window_calling=60
    )


def test_the_callee_a_service_always_calls_last_is_known_per_caller() -> None:
    """payments' requests from the UI always end with notify; those from refunds with ledger."""
    baseline: list[SpanRecord] = []
    for i in range(MIN_HABIT):
        baseline += pay(f"u{i}", i, "ui", ["ledger", "notify"]) + pay(f"r{i}", i, "refunds", ["ledger"])
    assert give_ups(baseline, []).last == {
        ("payments", "notify"): ("ui",),
        ("payments", "ledger"): ("refunds",),
    }
    # a request served at the top of the call graph has nobody to pass its answer to
    assert ("web", "shipping") not in give_ups(spans(MIN_HABIT, 0.0), []).last
    # too few requests make no habit
    few: list[SpanRecord] = []
    for i in range(MIN_HABIT - 1):
        few += pay(f"u{i}", i, "ui", ["ledger", "notify"])
    assert give_ups(few, []).last == {}


def edge(caller: str, callee: str, gave_up: float = 0.0, last_for: list[str] | None = None) -> EdgeStats:
    return EdgeStats(
        caller=caller,
        callee=callee,
        caller_baseline_requests=60,
        window_ended_after=gave_up,
        caller_window_requests=60,
        last_call_for=last_for or [],
    )


def test_a_wrong_answer_passed_on_leads_to_the_callee_it_came_from_as_a_guess() -> None:
    """ui gives up on payments' answers; payments answers ui with what ledger answered it, and ledger
    answers with bank's: the wrong value may be any of theirs. payments stays the likeliest, ledger
    and bank follow, never strongly enough to be named."""
    summary = SpanSummary(
        query="env:test",
        edges=[
            edge("ui", "payments", gave_up=0.5),
            edge("payments", "ledger", last_for=["ui"]),
            edge("ledger", "bank", last_for=["payments"]),
            edge("payments", "audit"),  # called, but not last: its answer is not what ui got
        ],
    )
    given_up = cut_short_evidence(summary, "payments")
    assert given_up is not None and given_up.strength == 1.0
    ledger = passed_on_answer(summary, "ledger")
    assert ledger is not None and ledger.supports and ledger.signal == "answer_passed_on"
    assert ledger.strength == RELAYED < VALIDATE_AT
    assert "payments's requests from ui always end with a call to ledger" in ledger.observation
    bank = passed_on_answer(summary, "bank")
    assert bank is not None and bank.supports and bank.strength == round(RELAYED * ONE_HOP_FURTHER, 3)
    assert passed_on_answer(summary, "audit") is None
    # the hypothesis about payments leads on to ledger, as a code error to test
    c = ctx().model_copy(update={"span_summary": summary})
    h = Hypothesis(id="h1", service="payments", kind="code_error", statement="payments is the root cause")
    leads = judge(h.model_copy(update={"evidence": [given_up]}), c).leads
    assert [(x.service, x.kind, x.strength) for x in leads if x.service == "ledger"] == [
        ("ledger", "code_error", RELAYED)
    ]
    # answers nobody gives up on lead nowhere
    calm = SpanSummary(query="env:test", edges=[edge("ui", "payments"), *summary.edges[1:]])
    assert passed_on_answer(calm, "ledger") is None


def test_several_callers_each_giving_up_a_little_on_one_callee_implicate_it_together() -> None:
    """A wrong answer in one request in ten makes a few of each caller's requests give up, too few for
    any one caller to say so; three callers at once, where none ever did, have only seat in common."""
    callers = ["preserve", "rebook", "booking"]
    summary = SpanSummary(
        query="env:test",
        edges=[edge(c, "seat", gave_up=3 / 60) for c in callers] + [edge("travel", "seat")],
    )
    alone = SpanSummary(query="env:test", edges=[edge("preserve", "seat", gave_up=3 / 60)])
    single = cut_short_evidence(alone, "seat")
    assert single is not None and single.strength == 0.0
    together = cut_short_evidence(summary, "seat")
    assert together is not None and together.supports
    assert "3.8% of the 240 sampled requests of 3 callers, taken together" in together.observation
    # one caller's give-ups are not pooled with its neighbours' calm requests
    one = SpanSummary(
        query="env:test", edges=[alone.edges[0], edge("rebook", "seat"), edge("booking", "seat")]
    )
    ev = cut_short_evidence(one, "seat")
    assert ev is not None and ev.strength == 0.0
    # fewer give-ups in all than a pattern needs
    faint = SpanSummary(query="env:test", edges=[edge(c, "seat", gave_up=1 / 60) for c in callers])
    ev = cut_short_evidence(faint, "seat")
    assert MIN_PATTERN > 3 and ev is not None and not ev.supports
    # the same shares where callers always gave up that often are the mix, not news
    usual = [e.model_copy(update={"baseline_ended_after": 3 / 60}) for e in summary.edges[:3]]
    ev = cut_short_evidence(SpanSummary(query="env:test", edges=usual), "seat")
    assert ev is not None and ev.strength == 0.0


def test_a_service_above_a_callee_its_callers_give_up_on_together_passes_the_failure_on() -> None:
    """orders' callers give up on its answers, but orders calls seat last, and seat's callers, taken
    together, give up on seat: orders passes seat's wrong answer on."""
    callers = ["preserve", "rebook", "booking"]
    seat = [edge(c, "seat", gave_up=4 / 60) for c in callers]
    summary = SpanSummary(
        query="env:test",
        edges=[edge("ui", "orders", gave_up=0.2), edge("orders", "seat", last_for=["ui"]), *seat],
    )
    orders = cut_short_evidence(summary, "orders")
    assert orders is not None and not orders.supports
    # seat's other callers' requests (4 in 60 each) give up on it, more clearly than all its callers'
    assert "but its answers are seat's, passed on, and 6.7% of the other requests" in orders.observation
    calm = SpanSummary(query="env:test", edges=summary.edges[:2])
    orders = cut_short_evidence(calm, "orders")
    assert orders is not None and orders.supports


def test_an_answer_rejected_along_several_paths_is_the_callee_s_not_the_relay_s() -> None:
    """security's callers give up on its answers, and security answers them with what order-other
    answered it. Requests that get order-other's answer by other paths give up on it too: execute's
    own, and admin's through admin-order, which passes it on. Then order-other's is the wrong answer,
    and security only passed it on. Without those other paths, security stays the one named."""
    relay = [
        edge("preserve", "security", gave_up=10 / 60),
        edge("preserve-other", "security", gave_up=7 / 60),
        edge("security", "order-other", last_for=["preserve", "preserve-other"]),
    ]
    others = [
        edge("execute", "order-other", gave_up=5 / 60),
        edge("admin-order", "order-other", last_for=["admin"]),
        edge("admin", "admin-order", gave_up=5 / 60),
        edge("seat", "order-other"),
    ]
    summary = SpanSummary(query="env:test", edges=[*relay, *others])
    source = cut_short_evidence(summary, "order-other")
    passer = cut_short_evidence(summary, "security")
    assert source is not None and passer is not None
    assert source.supports and source.strength > passer.strength
    assert "passed on by them" in source.observation
    assert "its answers are order-other's, passed on" in passer.observation
    # one other path giving up, less often than one caller's give-ups need to count, is not enough
    # to move the answer off security
    one = SpanSummary(query="env:test", edges=[*relay, *others[:2], edge("admin", "admin-order"), others[3]])
    source, passer = cut_short_evidence(one, "order-other"), cut_short_evidence(one, "security")
    assert source is not None and passer is not None
    assert passer.supports and passer.strength == 1.0 and not source.supports
    # ...but one that clearly does says the answer was wrong before security passed it on
    clear = SpanSummary(
        query="env:test",
        edges=[
            *relay,
            edge("execute", "order-other", gave_up=12 / 60),
            *others[1:3],
            edge("admin", "admin-order"),
        ],
    )
    passer = cut_short_evidence(clear, "security")
    assert passer is not None and passer.strength < 0.5
    assert "its answers are order-other's, passed on, and 20.0% of the other requests" in passer.observation
    # ...nor are other paths giving up on order-other when security's callers' requests do not all
    # end with it: then security's own code may have failed them
    mixed = [relay[0], relay[1], edge("security", "order-other", last_for=["preserve"]), *others]
    passer = cut_short_evidence(SpanSummary(query="env:test", edges=mixed), "security")
    assert passer is not None and passer.strength == 1.0


def counted(
    caller: str, callee: str, gave_up: int, of: int, before: int, last_for: list[str] | None = None
) -> EdgeStats:
    """An edge as sampled: `gave_up` of the caller's `of` window requests gave up on the callee, none of
    its `before` baseline requests did."""
    return EdgeStats(
        caller=caller,
        callee=callee,
        caller_baseline_requests=before,
        window_ended_after=gave_up / of,
        caller_window_requests=of,
        last_call_for=last_for or [],
    )


def test_an_answer_given_up_on_along_two_paths_is_the_common_callee_s() -> None:
    """price answers two paths: basic passes its answer on to travel, and admin-info calls it amid its
    own calls. travel gives up on basic (7 of 44), admin-info's requests give up right after price
    (5 of 31), and admin-info's caller gives up on admin-info as often. A handful on the second path is
    faint alone, but it is exactly as many as the give-up above admin-info, and beside the first path it
    leaves one service both have in common: price's answer is wrong, and both only pass it on."""
    summary = SpanSummary(
        query="env:test",
        edges=[
            counted("travel", "basic", 7, 44, 67),
            counted("basic", "price", 0, 86, 112, last_for=["travel"]),
            counted("admin-travel", "admin-info", 5, 31, 41),
            counted("admin-info", "price", 5, 31, 41),
            counted("admin-info", "config", 0, 31, 41, last_for=["admin-travel"]),
        ],
    )
    price, basic, admin = (cut_short_evidence(summary, s) for s in ("price", "basic", "admin-info"))
    assert price is not None and basic is not None and admin is not None
    assert price.supports and price.strength == 1.0
    assert "passed on by them" in price.observation
    assert basic.strength == 0.0 and "its answers are price's, passed on" in basic.observation
    assert admin.strength == 0.0 and "but 16% of its own now give up on price's" in admin.observation
    # with the second path calm, travel's give-ups are basic's or price's: basic stays the likelier
    calm = SpanSummary(
        query="env:test",
        edges=[
            *summary.edges[:2],
            counted("admin-travel", "admin-info", 0, 31, 41),
            counted("admin-info", "price", 0, 31, 41),
        ],
    )
    price, basic = cut_short_evidence(calm, "price"), cut_short_evidence(calm, "basic")
    assert price is not None and basic is not None
    assert not price.supports and basic.supports


def test_a_give_up_beneath_that_accounts_for_little_discounts_a_service_only_by_its_clarity() -> None:
    """Half of ui's requests give up on orders; 8 in 60 of orders' own give up on stock. That is new,
    but it accounts for a quarter of ui's give-ups at most: orders is discounted by how clearly the
    give-up beneath is new, no more, and is still named."""
    beneath = counted("orders", "stock", 8, 60, 60)
    summary = SpanSummary(query="env:test", edges=[counted("ui", "orders", 30, 60, 60), beneath])
    orders = cut_short_evidence(summary, "orders")
    assert orders is not None and orders.supports
    assert 8 / 60 / 0.5 < cut_strength(beneath) < 1.0
    assert orders.strength == round(1.0 - cut_strength(beneath), 3)
    assert "but 13% of its own now give up on stock's" in orders.observation
