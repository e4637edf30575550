"""What traffic between services says about one of them, from APM metrics that are never sampled:
callees that stopped receiving calls while the caller kept serving, and errors nothing downstream explains.

Code that throws, or returns something its caller cannot use, ends the request before the calls
that would have followed. The callees it no longer reaches go quiet, although the load arriving at
the caller did not change. APM hit counts are never sampled, so this shows even when traces are
missing; the topology comes from the spans seen before the alert.
"""

from __future__ import annotations

from collections import defaultdict

from sleuth.agents.cut_short import GAVE_UP, ONE_HOP_FURTHER, not_its_own
from sleuth.agents.give_ups import MATERIAL, MATERIAL_RETRIED, cut_strength, retried_of
from sleuth.agents.health import error_logs_z
from sleuth.agents.stats import squash
from sleuth.agents.topology import call_map, reachable
from sleuth.models.investigation import Evidence, InvestigationContext
from sleuth.models.telemetry import EdgeStats, ServiceHealth

HELD = 0.6  # the caller still serves at least this share of its baseline load
QUIET = 0.4  # a callee receiving less than this share of its baseline calls has gone quiet
TIMEOUT_RATIO = 5.0  # a callee this many times slower may be timing its callers out
SHARE_OF_RISE = 0.3  # a callee whose error rate rose by this share of its caller's rise may carry it
LOGGED_Z = 5.0  # error logs this far above their baseline are clear (stats.squash: 0.63)
# The alerting service's errors: the alert is about them, so any rise counts at least this clearly
# (a rise of a few percent from nothing reads as small against the error-rate floor).
ALERTED = 0.3
FAINT = GAVE_UP / 2  # a give-up this clear is a lead for errors nothing else explains, never a finding
MIN_REJECTED = 2  # sampled requests calling a callee again: one may be a client's own retry policy
LONE = 0.5  # the only requests giving up, however few: as clear as a lead (cut_short.RELAYED, with 0.9)
MAX_HOPS = 3  # an answer passed on further than this says nothing of where it came from
# A callee receiving this many times the calls its callers' load explains is being called again (a
# shift in what the callers' requests do moves it by a few percent); at AGAIN_FULL above one, clearly.
AGAIN = 1.2
AGAIN_FULL = 0.5
# Likewise a callee receiving this share fewer calls than its callers' load explains was not called by
# that many requests; at FEWER_FULL, clearly.
FEWER = 0.15
FEWER_FULL = 0.3
# A service seen in fewer calls than this is too quiet for a ratio of its hit counts to say that a share
# of the requests went missing or came twice: a handful of requests a minute moves it by half.
MIN_SEEN_CALLS = 30


def quiet_callees(ctx: InvestigationContext, service: str) -> list[tuple[float, str]]:
    """(strength, callee) for each callee that went quiet while `service` kept serving, strongest first."""
    ratios = _hit_ratios(ctx)
    mine = ratios.get(service)
    if mine is None or mine < HELD:
        return []
    callers: dict[str, set[str]] = defaultdict(set)
    for e in ctx.edges:
        if e.caller != e.callee:
            callers[e.callee].add(e.caller)
    quiet: list[tuple[float, str]] = []
    for callee, who in callers.items():
        ratio = ratios.get(callee)
        if service not in who or ratio is None or ratio >= QUIET:
            continue
        if who == {service}:
            ratio /= mine  # its only caller's load moved: so would the calls it receives
            if ratio >= QUIET:
                continue
        # With other callers whose load also held, the silence is shared out between them.
        held = [c for c in who if (ratios.get(c) or 0.0) >= HELD]
        quiet.append((round(min(1.0, (QUIET - ratio) / 0.3) / max(1, len(held)), 3), callee))
    return sorted(quiet, reverse=True)


def starved_callees(ctx: InvestigationContext, service: str) -> Evidence | None:
    """Evidence that `service` stops before calling what it used to call (None: nothing to say). Not
    its own failure when its sampled requests call one callee again before they stop: they rejected
    that callee's answer (`stopped_on`)."""
    quiet = quiet_callees(ctx, service)
    if not quiet:
        return None
    ratios = _hit_ratios(ctx)
    strength = quiet[0][0]
    names = ", ".join(f"{c} ({ratios[c]:.0%} of its usual calls)" for _, c in quiet[:3])
    observation = (
        f"{service} kept serving {ratios[service]:.0%} of its usual load but stopped reaching {names}: "
        "its requests end before those calls"
    )
    refused = rejected_callee(ctx, service)
    if refused is not None:
        observation += (
            f"; but its sampled requests call {refused.callee} again first: they stop on its answer"
        )
        strength = 0.0
    return Evidence(
        source="metrics",
        query=f"sum:trace.*.hits{{env:{ctx.env or '*'}}} by {{service}}",
        observation=observation,
        signal="fanout_change",
        strength=strength,
        supports=strength >= 0.3,
        baseline=1.0,
        current=round(ratios[service], 3),
    )


def stopped_on(ctx: InvestigationContext, service: str) -> Evidence | None:
    """Evidence that a caller's requests stop on `service`'s answers: complete metrics say that many
    requests stop, the sample says on which callee's answer. Either the caller's sampled requests call
    `service` again, and the caller stopped reaching callees it used to or `service` now receives more
    calls than its callers' load explains; or they end right after calling `service`, and the caller's
    other callees receive fewer calls than its load explains. None: no such caller."""
    # (strength, what was seen, how much the share of requests ending on its answers rose: 0 where
    # they call it again instead, a share of other requests)
    found: list[tuple[float, str, float]] = []
    extra = _extra_calls(ctx, service)
    again = f"sampled requests call {service} again before they stop: they reject its answers"
    for caller in sorted({e.caller for e in ctx.edges if e.callee == service and e.caller != service}):
        refused = rejected_callee(ctx, caller)
        if refused is not None and refused.callee == service:
            quiet = quiet_callees(ctx, caller)
            if quiet:
                names = ", ".join(c for _, c in quiet[:3])
                found.append(
                    (quiet[0][0], f"{caller} stopped reaching {names} while its load held, and {again}", 0.0)
                )
            if extra >= AGAIN:
                strength = round(min(1.0, (extra - 1.0) / AGAIN_FULL), 3)
                found.append(
                    (
                        strength,
                        f"{service} receives ×{extra:.2f} the calls its callers' load explains, and {again}",
                        0.0,
                    )
                )
        ended = rejected_callee(ctx, caller, retried=False)
        if ended is not None and ended.callee == service:
            missing, callee = max(
                ((1.0 - x, c) for c in _callees(ctx, caller) - {service} if (x := _extra_calls(ctx, c)) > 0),
                default=(0.0, ""),
            )
            if missing >= FEWER:
                found.append(
                    (
                        round(min(1.0, missing / FEWER_FULL), 3),
                        f"{callee} receives {missing:.0%} fewer calls than its callers' load explains, and "
                        f"{ended.window_ended_after:.0%} of {caller}'s sampled requests end right after calling "
                        f"{service} (was {ended.baseline_ended_after:.0%}): they stop on its answers",
                        ended.window_ended_after - ended.baseline_ended_after,
                    )
                )
    if not found:
        return None
    strength, observation, given_up = max(found)
    # As with requests cut short: a service whose own requests, or those beneath it, give up on a
    # callee of theirs may only be passing that callee's failure on.
    onward = not_its_own(ctx.span_summary, service, given_up) if ctx.span_summary is not None else None
    if onward is not None:
        strength = round(strength * (1.0 - onward.strength), 3)
        observation += onward.why
    return Evidence(
        source="metrics",
        query=f"sum:trace.*.hits{{env:{ctx.env or '*'}}} by {{service}}",
        observation=observation,
        signal="ends_callers",
        strength=strength,
        supports=strength >= GAVE_UP,
    )


def _callees(ctx: InvestigationContext, service: str) -> set[str]:
    return {e.callee for e in ctx.edges if e.caller == service and e.callee != service}


def _extra_calls(ctx: InvestigationContext, service: str) -> float:
    """How many times the calls its callers' load explains `service` now receives (hit counts, never
    sampled; each caller weighed by its share of the calls seen in spans). 0.0: not measurable, or
    seen in too few calls to say."""
    ratios = _hit_ratios(ctx)
    mine = ratios.get(service)
    inbound = [
        (e.calls, ratios.get(e.caller)) for e in ctx.edges if e.callee == service and e.caller != service
    ]
    total = sum(n for n, _ in inbound)
    if mine is None or total < MIN_SEEN_CALLS or any(r is None for _, r in inbound):
        return 0.0
    expected = sum(n * (r or 0.0) for n, r in inbound) / total
    return mine / expected if expected > 0 else 0.0


def rejected_callee(ctx: InvestigationContext, service: str, retried: bool = True) -> EdgeStats | None:
    """The callee whose answers `service`'s sampled requests now reject more than before, in a few
    requests at least (None: none): by calling it again, or (`retried` False) by ending right after
    calling it. A handful is enough to say where requests stop once the metrics have said that many do."""
    if ctx.span_summary is None:
        return None

    def rise(e: EdgeStats) -> tuple[float, float, int]:
        """The window's share, its rise, and of how many requests."""
        if retried:
            return e.window_retried, e.window_retried - e.baseline_retried, retried_of(e)
        return e.window_ended_after, e.window_ended_after - e.baseline_ended_after, e.caller_window_requests

    material = MATERIAL_RETRIED if retried else MATERIAL
    rejected = [
        e
        for e in ctx.span_summary.edges
        if e.caller == service
        and e.callee != service
        and rise(e)[1] >= material
        # shares arrive rounded: 2 of 17 is 0.1176, which times 17 falls just short of 2
        and round(rise(e)[0] * rise(e)[2]) >= MIN_REJECTED
    ]
    return max(rejected, key=lambda e: (rise(e)[1], e.callee), default=None)


def _hit_ratios(ctx: InvestigationContext) -> dict[str, float]:
    return {h.service: h.hits_ratio for h in ctx.health if h.hits_ratio is not None}


def unexplained_errors(
    ctx: InvestigationContext, service: str, measured: float = 0.0, named: frozenset[str] = frozenset()
) -> Evidence | None:
    """Errors that rose in `service` while nothing it calls shows errors or timeout-sized slowness:
    the service likely originates them. Weaker than an error span with no erroring child: a callee
    that breaks in a way its metrics do not show (a wrong answer) explains them too.
    `measured` is how strongly the service's own error metric moved, when it was queried; `named`, the
    services its new error lines name, when its logs were read."""
    # Error lines that name a service beneath it ("response validation failed [callee]") are that
    # callee's failure as this service saw it, however calm the callee's own health looks.
    own_logs = not (named & _downstream(ctx, service))
    strength = _errors_nothing_shows(ctx, service, measured, own_logs)
    # Nor where requests beneath it now give up on some callee's answer: that is where they fail.
    if strength is None or _given_up_beneath(ctx, service):
        return None
    why = f"while none of the {len(_callees(ctx, service))} services it calls shows errors or timeouts"
    me = next(h for h in ctx.health if h.service == service)
    if me.error_rate_now > me.error_rate_before:
        return _error_rate_evidence(ctx, service, "unexplained_errors", why, strength)
    # Its spans carry no error (a handled exception answers normally, only sooner), its logs do.
    return Evidence(
        source="logs",
        query=f"service:{service} status:error",
        observation=f"{service} logged {me.error_logs} errors (about {me.error_logs_expected:.0f} expected) {why}",
        signal="unexplained_errors",
        strength=round(0.9 * strength, 3),
        supports=0.9 * strength >= 0.3,
        baseline=me.error_logs_expected,
        current=float(me.error_logs),
    )


def where_errors_end(ctx: InvestigationContext, service: str) -> Evidence | None:
    """The alerting service's errors, which no service's own errors, slowness or logs explain, end
    where the requests beneath it give up: on `service`'s answers (None: they end elsewhere, or the
    alert's errors need no explaining)."""
    entry = ctx.service
    if entry is None or entry == service:
        return None
    given_up = _given_up_beneath(ctx, entry)
    if _errors_nothing_shows(ctx, entry, measured=ALERTED) is None:
        return None
    if not given_up:
        return _where_a_few_end(ctx, entry, service)
    # Where requests at or beneath a callee give up on a callee of theirs, its failures come from
    # further down.
    callees = call_map(ctx.edges)
    deepest = [e for e in given_up if not _passes_on(e, given_up, callees)] or given_up
    best = max(deepest, key=lambda e: (cut_strength(e), e.caller, e.callee))
    if best.callee != service:
        return None
    # As clear as the giving up is: it is what ties the errors to this service.
    return _error_rate_evidence(
        ctx,
        entry,
        "explains_errors",
        f"while no service shows errors of its own; beneath it, {best.caller}'s requests give up on {service}'s answers",
        cut_strength(best),
    )


def _where_a_few_end(ctx: InvestigationContext, entry: str, service: str) -> Evidence | None:
    """The alerting service's unexplained errors, where no request beneath it clearly gives up, but
    a few of one caller's do, on one callee, and nowhere else: there they may end. A wrong answer on a
    path few requests take leaves only a handful in a sample. Never more than a lead's strength: a
    handful is also what chance leaves. The callee's answer may be one it passed on, a little less
    likely with each hop."""
    lone = lone_give_up(ctx, entry)
    if lone is None:
        return None
    chain = [lone.callee, *answered_by(ctx, lone.caller, lone.callee)]
    if service not in chain:
        return None
    hops = chain.index(service)
    n, of = gave_up_more(lone), lone.caller_window_requests
    passed = f", answers that end with {service}'s" if hops else ""
    return _error_rate_evidence(
        ctx,
        entry,
        "explains_errors",
        f"while no service shows errors of its own; beneath it, only {lone.caller}'s requests give up on "
        f"{lone.callee}'s answers{passed}: {n} of {of} sampled (was {lone.baseline_ended_after:.0%})",
        LONE * ONE_HOP_FURTHER**hops,
    )


def gave_up_more(e: EdgeStats) -> int:
    """How many more of the caller's sampled window requests gave up on the callee than its baseline
    share explains."""
    # shares arrive rounded: 2 of 17 is 0.1176, which times 17 falls just short of 2
    return round((e.window_ended_after - e.baseline_ended_after) * e.caller_window_requests)


def lone_give_up(ctx: InvestigationContext, service: str) -> EdgeStats | None:
    """The one place beneath `service` where a few more requests than before give up on a callee's
    answer, however few (None: nowhere, or in more than one place once those passing a failure on
    from beneath are set aside)."""
    if ctx.span_summary is None:
        return None
    beneath = _downstream(ctx, service)
    few = [
        e
        for e in ctx.span_summary.edges
        if e.caller in beneath and e.caller != e.callee and gave_up_more(e) >= MIN_REJECTED
    ]
    callees = call_map(ctx.edges)
    deepest = [e for e in few if not _passes_on(e, few, callees)] or few
    if len({e.callee for e in deepest}) != 1:
        return None
    return max(deepest, key=lambda e: (gave_up_more(e), e.caller))


def answered_by(ctx: InvestigationContext, caller: str, callee: str) -> list[str]:
    """The services whose answer `callee`'s answer to `caller` is, passed on: the call its requests
    from `caller` always end with, and so on down (nearest first)."""
    if ctx.span_summary is None:
        return []
    out: list[str] = []
    while len(out) < MAX_HOPS:
        nxt = sorted(
            e.callee
            for e in ctx.span_summary.edges
            if e.caller == callee and caller in e.last_call_for and e.callee not in (caller, callee, *out)
        )
        if not nxt:
            break
        caller, callee = callee, nxt[0]
        out.append(callee)
    return out


def faint_give_ups(ctx: InvestigationContext, service: str) -> list[EdgeStats]:
    """Edges beneath `service` whose callers give up on the callee's answer, though less clearly than
    a finding needs: where `service`'s errors, which nothing else explains, may end. Strongest first."""
    if ctx.span_summary is None:
        return []
    beneath = _downstream(ctx, service)
    faint = [e for e in ctx.span_summary.edges if e.caller in beneath and FAINT <= cut_strength(e) < GAVE_UP]
    return sorted(faint, key=lambda e: (-cut_strength(e), e.caller, e.callee))


def _passes_on(e: EdgeStats, given_up: list[EdgeStats], callees: dict[str, set[str]]) -> bool:
    """Whether requests at or beneath `e`'s callee give up on a callee of theirs."""
    below = {e.callee} | reachable(e.callee, callees)
    return any(g.caller in below and g.callee != e.callee for g in given_up if g is not e)


def _error_rate_evidence(
    ctx: InvestigationContext, service: str, signal: str, why: str, strength: float
) -> Evidence:
    me = next(h for h in ctx.health if h.service == service)
    return Evidence(
        source="metrics",
        query=f"sum:trace.*.errors{{service:{service}}} / sum:trace.*.hits{{service:{service}}}",
        observation=f"{service}'s error rate rose from {me.error_rate_before:.2%} to {me.error_rate_now:.2%} {why}",
        signal=signal,
        strength=round(0.9 * strength, 3),
        supports=0.9 * strength >= 0.3,
        baseline=me.error_rate_before,
        current=me.error_rate_now,
    )


def _errors_nothing_shows(
    ctx: InvestigationContext, service: str, measured: float = 0.0, own_logs: bool = True
) -> float | None:
    """How clearly `service`'s errors rose, in its error rate or (`own_logs`: its error lines are its
    own) in the errors it logs, while no callee shows errors or timeout-sized slowness and nothing
    downstream logs errors (None: they did not rise, or something does)."""
    health = {h.service: h for h in ctx.health}
    me = health.get(service)
    if me is None:
        return None
    rate = max(squash(me.error_z), measured) if me.error_rate_now > me.error_rate_before else 0.0
    logged = squash(z) if own_logs and (z := error_logs_z(me)) >= LOGGED_Z else 0.0
    strength = max(rate, logged)
    if strength < 0.3:
        return None
    callees = _callees(ctx, service)
    # A callee we cannot see (no health of its own, e.g. an external API) may be the one failing.
    if any(c not in health for c in callees):
        return None
    if any(_explains(health[c], me) for c in callees):
        return None
    # Where spans and metrics carry no error of a callee, its own error logs may: errors logged
    # downstream are where the caller's errors come from.
    if any(error_logs_z(health[d]) >= LOGGED_Z for d in _downstream(ctx, service) if d in health):
        return None
    return strength


def _given_up_beneath(ctx: InvestigationContext, service: str) -> list[EdgeStats]:
    """Edges beneath `service` whose callers now clearly give up on the callee's answer. Not its own
    requests giving up on a callee: that is its failing, seen in its spans, and as likely its own
    code as the answer it got."""
    if ctx.span_summary is None:
        return []
    beneath = _downstream(ctx, service)
    return [e for e in ctx.span_summary.edges if e.caller in beneath and cut_strength(e) >= GAVE_UP]


def _downstream(ctx: InvestigationContext, service: str) -> set[str]:
    return reachable(service, call_map(ctx.edges))


def _explains(callee: ServiceHealth, caller: ServiceHealth) -> bool:
    """A callee whose errors rose clearly, or by a good share of what the caller's rose (a small
    rate can move little in z yet carry the caller's whole rise), or that slowed to timeouts."""
    rise = callee.error_rate_now - callee.error_rate_before
    comparable = (
        rise > 0
        and rise >= SHARE_OF_RISE * (caller.error_rate_now - caller.error_rate_before)
        and callee.error_rate_now >= 1.5 * callee.error_rate_before
    )
    return (callee.error_z >= 3 and rise > 0) or comparable or (callee.latency_ratio or 1.0) >= TIMEOUT_RATIO
