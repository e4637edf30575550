"""Whose answer made the callers give up: evidence about a service from requests that end right
after calling it, or call it again, though no span is flagged as an error.
"""

from __future__ import annotations

from typing import NamedTuple

from sleuth.agents.give_ups import Shared, cut_strength, edge_shares, retried_of, shared_give_ups
from sleuth.agents.topology import call_map, reachable
from sleuth.models.investigation import Evidence
from sleuth.models.telemetry import EdgeStats, SpanSummary

GAVE_UP = 0.3  # a give-up this clear supports a finding, and leads to the callee given up on


def cut_short_evidence(summary: SpanSummary, service: str) -> Evidence | None:
    """Evidence that callers give up on `service`'s answers (None: no caller to judge by). Not when
    requests of its own, or beneath it, give up as clearly on some callee: then it passes on a failure
    from further down."""
    inbound = [e for e in summary.edges if e.caller != service and e.callee == service]
    if not inbound:
        return None
    e = max(inbound, key=cut_strength)
    shared = shared_give_ups(inbound)
    spread = answers_given_up(summary, service)
    again = False  # the evidence is requests calling it again
    if spread is not None and spread.strength > max(cut_strength(e), shared.strength if shared else 0.0):
        cut, before, now = spread.strength, spread.sh.baseline, spread.sh.window
        observation = (
            f"{now:.1%} of the {spread.sh.window_requests} sampled requests that get {service}'s answer, "
            f"from its callers or passed on by them, now give up on it, though none of its callers "
            f"accounts for it alone (was {before:.1%})"
        )
    elif shared is not None and shared.strength > cut_strength(e):
        cut, before, now = shared.strength, shared.sh.baseline, shared.sh.window
        observation = (
            f"{now:.1%} of the {shared.sh.window_requests} sampled requests of {shared.callers} callers, "
            f"taken together, now give up on {service}'s answers: they end right after calling it or call "
            f"it again (was {before:.1%})"
        )
    else:
        cut, before, now = cut_strength(e), e.baseline_ended_after, e.window_ended_after
        observation = (
            f"{e.window_ended_after:.0%} of {e.caller}'s {e.caller_window_requests} sampled requests now give "
            f"up on {service}'s answers: they end right after calling it or call it again "
            f"(was {e.baseline_ended_after:.0%})"
        )
        again = e.window_retried > e.baseline_retried
        if again:
            observation += (
                f"; of the {retried_of(e)} that called it, {e.window_retried:.0%} called it again "
                f"(was {e.baseline_retried:.0%})"
            )
    strength = cut
    # A give-up beneath is weighed against how much the share ending on its answers rose; not against
    # requests calling it again, a share of other requests.
    onward = not_its_own(summary, service, given_up=0.0 if again else now - before)
    if onward is not None:
        strength = round(cut * (1.0 - onward.strength), 3)
        observation += onward.why
    return Evidence(
        source="spans",
        query=f"spans {summary.query} callers of {service}",
        observation=observation,
        signal="ends_callers",
        strength=strength,
        supports=strength >= GAVE_UP,
        baseline=before,
        current=now,
    )


class NotItsOwn(NamedTuple):
    """How clearly a failure given up on at a service is passed on from beneath it (0..1), and why."""

    strength: float
    why: str  # to append to what was observed of the service


def accounted_for(strength: float, rise: float, given_up: float) -> float:
    """How much of a give-up at a service one beneath it accounts for (0..1): as clearly as it is
    new, or, once it is new at all, as much as its rise covers of the rise at the service. A few
    requests giving up beneath a service are faint evidence by themselves, but when they are as many,
    for their share, as those giving up on the service, they are the same requests."""
    if strength <= 0.0 or given_up <= 0.0:
        return strength
    return round(max(strength, min(1.0, rise / given_up)), 3)


def not_its_own(summary: SpanSummary, service: str, given_up: float = 0.0) -> NotItsOwn | None:
    """How clearly `service` passes on a failure from beneath it (None: nothing says so): requests of
    its own, or beneath it, give up on some callee; or the answer its callers give up on is a callee's,
    rejected along that callee's other paths too. The clearer of the two speaks. `given_up`: how much
    the share of requests giving up on `service` rose (0: judge by clarity alone)."""
    beneath = passed_on(summary, service)
    onward = accounted_for(beneath.strength, beneath.rise, given_up) if beneath is not None else 0.0
    relay = relayed_to(summary, service)
    relayed = (
        accounted_for(
            relay.given_up.strength, relay.given_up.sh.window - relay.given_up.sh.baseline, given_up
        )
        if relay is not None
        else 0.0
    )
    if relay is not None and relayed > onward:
        return NotItsOwn(
            relayed,
            f"; but its answers are {relay.callee}'s, passed on, and {relay.given_up.sh.window:.1%} of the "
            f"other requests that get {relay.callee}'s answer give up on it too",
        )
    if beneath is not None and onward > 0:
        return NotItsOwn(
            onward, f"; but {beneath.share:.0%} of {beneath.whose} now give up on {beneath.callee}'s"
        )
    return None


class Onward(NamedTuple):
    """The callee that requests beneath a service give up on most clearly: how clearly, and whose."""

    strength: float
    callee: str
    share: float  # of the requests that would call it, in the alert window
    whose: str
    rise: float  # of that share over the baseline's


def passed_on(summary: SpanSummary, service: str) -> Onward | None:
    """The callee that `service`'s own requests, or requests anywhere beneath it, give up on most
    clearly, one caller's or its callers' taken together (None: it calls nobody). A service reaching a
    failing one through others that each call the next one last shows no give-up of its own, yet
    passes the failure on all the same."""
    below = {service} | reachable(service, call_map(summary.edges))
    outbound = [e for e in summary.edges if e.caller in below and e.callee != service]
    found = [
        (
            cut_strength(e),
            e.caller == service,
            e.callee,
            e.window_ended_after,
            "its own" if e.caller == service else f"{e.caller}'s beneath it",
            e.window_ended_after - e.baseline_ended_after,
        )
        for e in outbound
    ]
    for callee in sorted({e.callee for e in outbound}):
        shared = shared_give_ups([e for e in summary.edges if e.callee == callee and e.caller != callee])
        if shared is not None:
            found.append(
                (
                    shared.strength,
                    False,
                    callee,
                    shared.sh.window,
                    f"{shared.callers} callers' requests beneath it, taken together,",
                    shared.sh.window - shared.sh.baseline,
                )
            )
    if not found:
        return None
    strength, _, callee, share, whose, rise = max(found)
    return Onward(strength, callee, share, whose, rise)


def _answer_paths(summary: SpanSummary, service: str) -> dict[str, list[EdgeStats]]:
    """Per caller of `service`, the edges whose requests get its answer: the caller's own, and those of
    the caller's callers whose requests to it always end with a call to `service` (it passes the
    answer on, so giving up on it is giving up on `service`'s)."""
    edges = {(e.caller, e.callee): e for e in summary.edges}
    paths: dict[str, list[EdgeStats]] = {}
    for e in summary.edges:
        if e.callee != service or e.caller == service:
            continue
        upper = (edges.get((c, e.caller)) for c in e.last_call_for if c != service)
        paths[e.caller] = [e, *(u for u in upper if u is not None)]
    return paths


def answers_given_up(summary: SpanSummary, service: str, without: str | None = None) -> Shared | None:
    """The requests that get `service`'s answer, from its callers or passed on by them, pooled; with
    the path through the caller that gives up most clearly left out (or through `without`), so that
    the one path that would carry it alone does not: an answer rejected beyond it says it is
    `service`'s own (None: fewer than two of the remaining edges give up more than before). Where
    another path's requests give up on it too, however few, that path no longer carries it alone: all
    paths are pooled."""
    paths = _answer_paths(summary, service)
    if without is not None:
        return shared_give_ups([x for c, p in paths.items() if c != without for x in p])
    if not paths:
        return None
    alone = max(sorted(paths), key=lambda c: max(cut_strength(x) for x in paths[c]))
    rest = [x for c, p in paths.items() if c != alone for x in p]
    found = [shared_give_ups(rest)]
    if any(cut_strength(x) > 0 for x in rest):
        found.append(shared_give_ups([x for p in paths.values() for x in p]))
    return max((f for f in found if f is not None), key=lambda f: f.strength, default=None)


class Relayed(NamedTuple):
    """A callee whose answer a service passes on, rejected along the callee's other paths too."""

    callee: str
    given_up: Shared


def relayed_to(summary: SpanSummary, service: str) -> Relayed | None:
    """The callee whose answer all of `service`'s given-up requests end with, when the requests that
    get that callee's answer by other paths give up on it as well: `service` only passed it on."""
    rising = {
        e.caller for e in summary.edges if e.callee == service and e.caller != service and cut_strength(e) > 0
    }
    best: Relayed | None = None
    for e in summary.edges:
        if e.caller != service or e.callee == service or not rising or not rising <= set(e.last_call_for):
            continue
        other = answers_given_up(summary, e.callee, without=service) or _one_other_path(
            summary, e.callee, without=service
        )
        if other is not None and (best is None or other.strength > best.given_up.strength):
            best = Relayed(e.callee, other)
    return best


def _one_other_path(summary: SpanSummary, service: str, without: str) -> Shared | None:
    """The one edge, on a path to `service`'s answer that does not pass through `without`, whose
    requests give up on it most clearly (None: none does). One caller rejecting the same answer
    elsewhere says as much as several pooled: the answer was wrong before `without` passed it on."""
    paths = _answer_paths(summary, service)
    rising = [x for c, p in paths.items() if c != without for x in p if cut_strength(x) > 0]
    if not rising:
        return None
    e = max(rising, key=lambda x: (cut_strength(x), x.caller, x.callee))
    return Shared(edge_shares(e), 1, cut_strength(e))


RELAYED = 0.45  # below VALIDATE_AT: a wrong answer passed on is a lead to follow, never a finding
ONE_HOP_FURTHER = 0.8  # each service further down the answer came through is a little less likely


def passed_on_answer(summary: SpanSummary, service: str) -> Evidence | None:
    """Evidence that callers give up on answers that end with `service`'s (None: nobody does). A service
    whose requests always end with a call to `service` answers with what `service` answered it: when
    its callers reject that, the wrong value may be `service`'s, passed on, and nothing in the spans
    tells the two apart. The service they gave up on stays the likelier one."""
    edges = {(e.caller, e.callee): e for e in summary.edges}
    best: tuple[float, str, str] = (0.0, "", "")
    for e in summary.edges:
        if e.callee != service or e.caller == service:
            continue
        for caller in e.last_call_for:
            rejected = _rejected(edges, caller, e.caller, frozenset({service}))
            best = max(best, (rejected, caller, e.caller))
    rejected, caller, relay = best
    if rejected <= 0.0:
        return None
    strength = round(RELAYED * rejected, 3)
    return Evidence(
        source="spans",
        query=f"spans {summary.query} requests ending with {service}",
        observation=(
            f"{relay}'s requests from {caller} always end with a call to {service}, and its answers are "
            f"given up on ({rejected:.2f}): the wrong answer may be {service}'s, passed on"
        ),
        signal="answer_passed_on",
        strength=strength,
        supports=rejected >= GAVE_UP,
    )


def rejected_answers(summary: SpanSummary, caller: str, callee: str) -> float:
    """How clearly `callee`'s answers to `caller` are given up on, by `caller` or by whoever `caller`
    passes them on to (0..1)."""
    return _rejected({(e.caller, e.callee): e for e in summary.edges}, caller, callee, frozenset())


def _rejected(
    edges: dict[tuple[str, str], EdgeStats], caller: str, callee: str, seen: frozenset[str]
) -> float:
    """How clearly `callee`'s answers to `caller` are given up on: by `caller`, or by whoever `caller`
    passes them on to."""
    e = edges.get((caller, callee))
    if e is None:
        return 0.0
    out = cut_strength(e)
    if caller not in seen:
        for upper in e.last_call_for:
            out = max(out, ONE_HOP_FURTHER * _rejected(edges, upper, caller, seen | {callee}))
    return out
