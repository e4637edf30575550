"""Rank causes by evidence and decide the verdict. Prefers `inconclusive` to a guess.

A service whose trouble is explained by something it calls is a symptom, not a cause: its rank is
discounted when a service downstream of it has its own validated finding.
"""

from __future__ import annotations

from collections import defaultdict

from sleuth.agents.cut_short import GAVE_UP
from sleuth.agents.give_ups import cut_strength
from sleuth.agents.judge import SPECIFICITY, kind_scores, strongest, times_baseline
from sleuth.agents.signals import service_role
from sleuth.agents.topology import call_map, reachable
from sleuth.agents.traffic import quiet_callees
from sleuth.models.investigation import (
    Hypothesis,
    InvestigationContext,
    ProposedAction,
    RankedCause,
    RootCause,
)
from sleuth.models.requests import ConcludeInput, Conclusion

FOUND_AT = 0.5
# Two different services this close in score are two stories, and we do not pick one for the human.
AMBIGUOUS_RATIO = 0.9
SYMPTOM_DISCOUNT = 0.5
UNRELATED_DISCOUNT = 0.25
CLEARLY_SLOWER = 1.5  # a wire slowed half again as many times as another's is the one delayed
UNSURE_CAP = 0.45  # below FOUND_AT: ranked for the human, never named the root cause
ACTIONS = {
    "deployment": ("rollback", "roll back the latest deploy of {s}"),
    "config_change": ("revert_config", "revert the latest config change of {s}"),
    "traffic_surge": ("scale_out", "scale out {s}"),
    "memory_pressure": ("restart", "restart the pods of {s} and raise its memory limit"),
    "cpu_saturation": ("scale_out", "scale out {s} or raise its CPU limit"),
}


class OfflineConcluder:
    def conclude(self, inp: ConcludeInput) -> Conclusion:
        ranked = rank(inp.hypotheses, inp.context)
        top = ranked[0] if ranked else None
        if top is None or top.confidence < FOUND_AT:
            return self._inconclusive(ranked, inp, "no hypothesis was validated by its evidence")
        rival = next((r for r in ranked[1:] if r.service != top.service), None)
        note = ""
        if rival is not None and _as_well_supported(rival, top, inp):
            broken = _tie_break(top, rival, ranked, inp)
            if broken is None:
                return self._inconclusive(
                    ranked, inp, f"{top.service} and {rival.service} are equally supported"
                )
            named, note = broken
            if named is not top:
                ranked = [named, *(r for r in ranked if r is not named)]
                top = named
        tie = _change_tie(top.service, inp.hypotheses)
        if tie:
            return self._inconclusive(ranked, inp, tie)
        root = RootCause(service=top.service, kind=top.kind, summary=top.summary, confidence=top.confidence)
        return Conclusion(
            verdict="root_cause_found",
            root_cause=root,
            ranked_causes=ranked[:5],
            summary=_summary(root, ranked, inp, note),
            action=_action(root),
        )

    def _inconclusive(self, ranked: list[RankedCause], inp: ConcludeInput, why: str) -> Conclusion:
        return Conclusion(
            verdict="inconclusive", ranked_causes=ranked[:5], summary=_summary(None, ranked, inp, why)
        )


def _tie_break(
    top: RankedCause, rival: RankedCause, ranked: list[RankedCause], inp: ConcludeInput
) -> tuple[RankedCause, str] | None:
    """Of equally supported stories, the one to name and why not the others (None: nothing tells
    them apart). Asked in turn, first answer wins: whose trouble began with the alert, whose answers
    the other's requests give up on, whose wire slowed far more."""
    fresh = _began_with_the_alert(top, rival, inp)
    if fresh is not None:
        older = rival if fresh is top else top
        return fresh, (
            f"Not {older.service} ({older.kind.replace('_', ' ')}), as well supported: its trouble "
            "was already underway before the alert's window opened"
        )
    given_up_on = _given_up_on(top, rival, inp.context)
    if given_up_on is not None:
        caller = rival if given_up_on is top else top
        return given_up_on, (
            f"Not {caller.service} ({caller.kind.replace('_', ' ')}), as well supported: its requests "
            f"give up on {given_up_on.service}'s answers, and its trouble is how it meets that failure"
        )
    tied = [top, *(r for r in ranked[1:] if r.service != top.service and _as_well_supported(r, top, inp))]
    slowest = _slowest_wire(tied, inp)
    if slowest is not None:
        return slowest, (
            f"Not {', '.join(r.service for r in tied if r is not slowest)} (network), as well supported: "
            f"the wire into {slowest.service} slowed far more"
        )
    return None


def _finding(c: RankedCause, inp: ConcludeInput) -> Hypothesis | None:
    return max(
        (x for x in inp.hypotheses if x.service == c.service and x.kind == c.kind),
        key=lambda x: x.confidence,
        default=None,
    )


def _support(c: RankedCause, inp: ConcludeInput) -> float:
    h = _finding(c, inp)
    return support(c, h, inp.context) if h is not None else 0.0


def support(c: RankedCause, h: Hypothesis, ctx: InvestigationContext) -> float:
    """How strongly its evidence backs a ranked finding before confidence is capped by how many sources
    saw it (two findings held to the same cap by one source each are not thereby equally supported),
    with the rank's own discounts (symptom, unrelated) applied as to its score."""
    raw = kind_scores(h.service, h.evidence, service_role(h.service, ctx.span_summary)).get(h.kind, 0.0)
    return round(raw * c.score / max(h.confidence, 1e-9), 3)


def _as_well_supported(rival: RankedCause, top: RankedCause, inp: ConcludeInput) -> bool:
    return (
        rival.confidence >= FOUND_AT
        and rival.score >= AMBIGUOUS_RATIO * top.score
        and _support(rival, inp) >= AMBIGUOUS_RATIO * _support(top, inp)
    )


def _slowest_wire(tied: list[RankedCause], inp: ConcludeInput) -> RankedCause | None:
    """Of equally supported wire delays, the one whose wire time grew clearly more times than every
    other's: a delay slows the wire into its own service most; the others slowed by less are the
    same requests' tail, or chance. None unless all are wire delays and one stands out."""
    ratios: list[tuple[float, RankedCause]] = []
    for c in tied:
        h = _finding(c, inp)
        r = times_baseline(h.evidence, "edge_latency_in") if h is not None and c.kind == "network" else None
        if r is None:
            return None
        ratios.append((r, c))
    ratios.sort(key=lambda x: -x[0])
    (first, named), (second, _) = ratios[0], ratios[1]
    return named if first >= CLEARLY_SLOWER * second else None


def _began_with_the_alert(a: RankedCause, b: RankedCause, inp: ConcludeInput) -> RankedCause | None:
    """Of two equally supported stories, the one whose trouble began with the alert's window, when the
    other was already underway before it opened (while the alerting signal was still normal): that one
    is an older problem the alert did not fire for. None when timing does not tell them apart.
    Changes are left out: a deploy is meant to come before the trouble it causes."""
    ctx = inp.context

    def older(c: RankedCause) -> bool | None:
        h = _finding(c, inp)
        if h is None or h.onset is None or c.kind in ("deployment", "config_change"):
            return None
        return h.onset < ctx.window_start

    old_a, old_b = older(a), older(b)
    if old_a is None or old_b is None or old_a == old_b:
        return None
    return b if old_a else a


def _given_up_on(a: RankedCause, b: RankedCause, ctx: InvestigationContext) -> RankedCause | None:
    """Of two equally supported stories, the callee whose answers the other's requests now give up on:
    the caller's own trouble (slow code retrying, CPU spent handling the failure) is how it meets the
    callee's failure, not a second cause. None when neither gives up on the other."""
    if ctx.span_summary is None:
        return None
    clear = {
        (e.caller, e.callee)
        for e in ctx.span_summary.edges
        if {e.caller, e.callee} == {a.service, b.service} and cut_strength(e) >= GAVE_UP
    }
    if len(clear) != 1:
        return None
    ((_, callee),) = clear
    return a if callee == a.service else b


def _change_tie(service: str, hypotheses: list[Hypothesis]) -> str | None:
    """A deploy and a config change of the same service, both fitting the symptoms equally, and no
    error naming either: the service is clear, the cause is not, and we say so."""
    fits = {
        h.kind: h
        for h in hypotheses
        if h.service == service and h.status == "validated" and h.kind in ("deployment", "config_change")
    }
    if len(fits) < 2:
        return None
    signal = {"deployment": "deployment_in_errors", "config_change": "config_in_errors"}
    named = {k for k, h in fits.items() if strongest(h.evidence).get(signal[k], 0.0) >= 0.5}
    dep, cfg = fits["deployment"], fits["config_change"]
    if len(named) == 1 or abs(dep.confidence - cfg.confidence) > 0.15:
        return None
    return f"{service} broke right after both a deploy and a config change, and nothing tells them apart"


def _preference(h: Hypothesis, role: str) -> tuple[bool, int, float]:
    """Validated first; among confident findings, the sharper mechanism; then confidence. On a
    database, "database" is the mechanism: its CPU or locks are how a database breaks."""
    sharp = SPECIFICITY.get(h.kind, 0) if h.status == "validated" and h.confidence >= FOUND_AT else 0
    if sharp and role == "database" and h.kind == "database":
        sharp = 3
    if sharp and h.kind == "traffic_surge":
        sharp = 3  # more load than it was built for explains its own saturation
    return (h.status == "validated", sharp, h.confidence)


def rank(hypotheses: list[Hypothesis], ctx: InvestigationContext) -> list[RankedCause]:
    best: dict[str, Hypothesis] = {}
    ids: dict[str, list[str]] = defaultdict(list)
    for h in hypotheses:
        ids[h.service].append(h.id)
        if h.status == "invalidated" or h.kind == "unknown":
            continue
        cur = best.get(h.service)
        role = service_role(h.service, ctx.span_summary)
        if cur is None or _preference(h, role) > _preference(cur, role):
            best[h.service] = h
    # A change of this service that fits equally well wins the tie: it explains how the mechanism started.
    for service, h in list(best.items()):
        change = next(
            (
                x
                for x in hypotheses
                if x.service == service
                and x.status == "validated"
                and x.kind in ("deployment", "config_change")
                and x.confidence >= h.confidence - 0.1
            ),
            None,
        )
        if change is not None:
            best[service] = change
    validated = {s for s, h in best.items() if h.status == "validated"}
    callees = call_map(ctx.edges)
    surged = {h.service for h in hypotheses if h.status == "validated" and h.kind == "traffic_surge"}
    # Everything downstream of a surge got more work than usual: its saturation is the surge's doing.
    loaded = {d for s in surged for d in reachable(s, callees)}

    # A callee that went quiet because a validated caller stopped reaching it only echoes that caller.
    # Not one whose own answers make its callers give up: it went quiet because they stopped early.
    quiet = {
        callee: caller
        for caller in validated
        for strength, callee in quiet_callees(ctx, caller)
        if strength >= 0.5
        and strongest(best[callee].evidence if callee in best else []).get("ends_callers", 0.0) < 0.5
    }

    # A sampled call graph cannot show that nothing connects a service to the alert: only a whole one can.
    related = _related_to_alert(ctx.service, callees) if ctx.call_graph_complete else set()

    out: list[RankedCause] = []
    for service, h in best.items():
        score = h.confidence * (1.0 if h.status == "validated" else 0.6)
        confidence = h.confidence if h.status == "validated" else min(h.confidence, UNSURE_CAP)
        if related and service not in related:
            # Nothing connects it to the alerting service in the observed call graph: whatever is
            # wrong with it, it does not explain this alert through the calls we can see.
            score *= UNRELATED_DISCOUNT
            confidence = min(confidence, UNSURE_CAP)
        downstream = reachable(service, callees) & validated - {c for c, s in quiet.items() if s == service}
        if downstream and _own_trouble(h) < 0.5:
            score *= SYMPTOM_DISCOUNT
        if service in loaded or service in quiet:
            score *= SYMPTOM_DISCOUNT
        out.append(
            RankedCause(
                service=service,
                kind=h.kind,
                score=round(score, 4),
                confidence=round(confidence, 3),
                summary=_cause_summary(h),
                hypothesis_ids=ids[service],
            )
        )

    # Ties (confidence caps flatten scores): the finding its evidence backs more strongly first, then
    # the one more of the telemetry agrees with, then the earlier onset (causes precede symptoms).
    out.sort(
        key=lambda r: (
            -r.score,
            -support(r, best[r.service], ctx),
            -_breadth(best[r.service]),
            _onset_key(best[r.service]),
            r.service,
        )
    )
    return out


def _own_trouble(h: Hypothesis) -> float:
    s = strongest(h.evidence)
    resource = max(
        s.get(k, 0.0)
        for k in (
            "cpu",
            "memory",
            "disk",
            "restarts",
            "net_errors",
            "edge_latency_in",
            "deployment_event",
            "config_event",
            "db_latency",
            "db_locks",
            "db_connections",
        )
    )
    own = max(s.get("self_latency", 0.0), s.get("originated_errors", 0.0), s.get("ends_callers", 0.0))
    # Nothing a service calls sends it more requests: a surge of its own load is its own.
    surge = s.get("hits", 0.0) if h.kind == "traffic_surge" else 0.0
    return max(resource, own, surge)


def _related_to_alert(alerted: str | None, callees: dict[str, set[str]]) -> set[str]:
    """The alerting service, what it calls (directly or not) and what calls it: the services whose
    trouble can reach it through calls. Empty when the call graph does not know it."""
    if alerted is None or (alerted not in callees and not any(alerted in cs for cs in callees.values())):
        return set()
    callers: dict[str, set[str]] = defaultdict(set)
    for caller, cs in callees.items():
        for c in cs:
            callers[c].add(caller)
    return {alerted} | reachable(alerted, callees) | reachable(alerted, callers)


def _breadth(h: Hypothesis) -> float:
    """How much of the telemetry supports it: the strongest reading of each supporting signal, summed."""
    return round(sum(strongest([e for e in h.evidence if e.supports]).values()), 3)


def _onset_key(h: Hypothesis) -> float:
    return h.onset.timestamp() if h.onset else float("inf")


def _cause_summary(h: Hypothesis) -> str:
    key = sorted((e for e in h.evidence if e.supports), key=lambda e: -e.strength)[:3]
    seen = "; ".join(e.observation for e in key) or "no supporting evidence"
    return f"{h.kind.replace('_', ' ')} in {h.service}: {seen}"


def _action(root: RootCause) -> ProposedAction | None:
    template = ACTIONS.get(root.kind)
    if template is None or root.confidence < 0.6:
        return None
    kind, text = template
    return ProposedAction(
        id=f"{kind}-{root.service}", kind=kind, service=root.service, description=text.format(s=root.service)
    )  # type: ignore[arg-type]


def _summary(root: RootCause | None, ranked: list[RankedCause], inp: ConcludeInput, why: str) -> str:
    tested = len(inp.hypotheses)
    validated = sum(1 for h in inp.hypotheses if h.status == "validated")
    head = (
        f"Root cause: {root.kind.replace('_', ' ')} in {root.service} (confidence {root.confidence:.0%})."
        if root
        else f"Inconclusive: {why}."
    )
    aside = f" {why}." if root and why else ""
    return f"{head}{aside} {tested} hypotheses tested, {validated} validated."
