"""Code, not a prompt, decides a hypothesis' status and caps its confidence by its evidence.

Each kind has a score for a service, computed from that service's own evidence. A hypothesis is
validated only when its kind's score is clearly high, invalidated only when the signals it needs
were measured and are normal, and inconclusive otherwise: a guess is never promoted to a finding.
"""

from __future__ import annotations

from sleuth.agents.cut_short import GAVE_UP, ONE_HOP_FURTHER, RELAYED, rejected_answers
from sleuth.agents.evidence import SUPPORT_THRESHOLD, ratio_strength
from sleuth.agents.give_ups import cut_strength
from sleuth.agents.signals import KIND_SIGNALS, observed_only_from_outside, service_role
from sleuth.agents.traffic import FAINT, answered_by, faint_give_ups, gave_up_more, lone_give_up
from sleuth.models.common import RootCauseKind
from sleuth.models.investigation import Evidence, Hypothesis, InvestigationContext, Lead
from sleuth.models.telemetry import EdgeStats, SpanSummary

VALIDATE_AT = 0.5
INVALIDATE_BELOW = 0.2
LEAD_AT = 0.45
OWN_HEALTH = frozenset({"cpu", "cpu_throttle", "memory"})  # measured on its own pods
# Confidence may not exceed what the number of independent sources can carry.
SOURCE_CAP = {0: 0.0, 1: 0.6, 2: 0.8}
MAX_CONFIDENCE = 0.95
OUTSIDE_ONLY_CAP = 0.45  # no telemetry of its own: it fails, but the why is unknown
RESOURCE_LEVELS = ("cpu", "memory")
DOUBLED = 2.0

# A mechanism (what broke) is a sharper finding than a role (which component broke).
SPECIFICITY: dict[str, int] = {
    "deployment": 2,
    "config_change": 2,
    "cpu_saturation": 2,
    "memory_pressure": 2,
    "disk_pressure": 2,
    "network": 2,
    "traffic_surge": 2,
    "code_error": 1,
    "database": 1,
    "dependency_failure": 1,
    "external_dependency": 1,
    "unknown": 0,
}

SYMPTOMS = ("self_latency", "originated_errors", "new_log_patterns", "log_errors", "errors", "latency")


def strongest(evidence: list[Evidence]) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in evidence:
        out[e.signal] = max(out.get(e.signal, 0.0), e.strength)
    return out


def measured(evidence: list[Evidence]) -> set[str]:
    return {e.signal for e in evidence}


def complaints_count(evidence: list[Evidence]) -> bool:
    """Whether callers' error logs naming a service say something about it: only when its own pods
    were measured (unmeasured, a complaint names it but not what is wrong with it) and it shows no
    errors of its own (then it is passing someone else's failure on to its callers)."""
    s = strongest(evidence)
    errs = max(s.get(k, 0.0) for k in ("errors", "log_errors", "downstream_log_errors"))
    return bool(measured(evidence) & OWN_HEALTH) and errs < SUPPORT_THRESHOLD


def kind_scores(service: str, evidence: list[Evidence], role: str = "service") -> dict[RootCauseKind, float]:
    s = strongest(evidence)

    def g(*names: str) -> float:
        return max((s.get(n, 0.0) for n in names), default=0.0)

    own = g("self_latency", "originated_errors", "unexplained_errors", "new_log_patterns")
    symptom = max(own, g("errors", "latency", "log_errors") * 0.8)
    seen = measured(evidence)
    is_infra = role in ("cache", "queue") or bool(seen & {"queue_lag", "cache_health"})
    is_db = not is_infra and (role == "database" or bool(seen & {"db_latency", "db_connections", "db_locks"}))
    # CPU that grew no faster than the requests it serves is load, not starvation: its callers sent
    # more (a surge, or retries of answers that failed), and the service does no more work per request.
    # Not when it also got slower: then the extra load is what starves it.
    slower = g("latency", "self_latency")
    not_load = 1.0 - load_share(evidence) * (1.0 - slower)
    cpu = max(g("cpu") * not_load, g("cpu_throttle"))
    # Own code many times slower: then even a CPU rise its noisy baseline hides (a quarter or more)
    # says what it waits for.
    starved_cpu = (
        max(cpu, ratio_strength(times_baseline(evidence, "cpu") or 1.0) * not_load)
        if (times_baseline(evidence, "self_latency") or 0) >= STARVED
        else 0.0
    )
    resources = max(cpu, g("memory", "oom_logs"), g("disk", "disk_logs"))
    changed = max(g("deployment_event"), g("config_event"))
    scores: dict[RootCauseKind, float] = {
        # A starved service is slow in its own code and slow to issue its calls.
        # CPU that moved even moderately, in a service whose own code got much slower, is saturation.
        "cpu_saturation": _corroborated(
            max(
                cpu,
                0.8 * min(g("self_latency"), g("edge_latency_out")),
                min(g("self_latency"), cpu + 0.3) if cpu >= 0.3 else 0.0,
                # Contention takes the CPU the service would use: its own use barely rises while its
                # own code runs many times slower. Any rise then says what it waits for.
                min(g("self_latency"), starved_cpu + 0.5) if starved_cpu > 0 else 0.0,
            ),
            g("self_latency", "latency", "edge_latency_out"),
        ),
        # Restarts alone are routine (rollouts restart pods): memory pressure needs memory or OOM evidence.
        "memory_pressure": _corroborated(g("memory", "oom_logs"), max(g("restarts"), g("oom_logs"), symptom)),
        "disk_pressure": _corroborated(g("disk", "disk_logs", "disk_io"), symptom),
        # Slow wire time on every call a service makes is trouble at its own end of the wire.
        "network": _corroborated(
            max(g("net_errors", "net_latency", "edge_latency_in"), 0.8 * g("edge_latency_out")),
            g("latency", "errors", "edge_latency_in"),
        ),
        "database": (max(g("db_latency", "db_connections", "db_locks"), own) if is_db else 0.0),
        "dependency_failure": (max(own, g("queue_lag", "cache_health")) if is_infra else 0.0),
        # Errors the service itself originates; new log signatures alone could be echoes of a callee.
        "code_error": max(
            g("originated_errors", "unexplained_errors", "answer_passed_on"),
            # Its callers give up on its answers while its own new errors blame another service's:
            # the failure it answers with is passed on, in as far as its logs say so.
            g("ends_callers", "explains_errors") * (1.0 - g("downstream_log_errors")),
            0.7 * g("new_log_patterns"),
            0.8 * g("fanout_change"),
            # Its callers reject what it answers while its own telemetry looks fine: a wrong answer.
            0.8 * g("named_in_errors"),
        )
        * (1.0 - 0.6 * max(resources, changed)),
        "deployment": min(g("deployment_event"), symptom) if g("deployment_event") else 0.0,
        "config_change": min(g("config_event"), symptom) if g("config_event") else 0.0,
        # More requests than usual are a cause only where they hurt: a surge the service absorbed,
        # slowing and failing nothing, is a weaker finding, as a resource signal alone is.
        "traffic_surge": _corroborated(g("hits") * (1.0 if g("hits") >= 0.6 else 0.5), symptom),
        # The external peer is the cause; its callers only see it. They get a lead to it instead.
        "external_dependency": max(_external_own(s, seen), g("external_errors", "external_latency"))
        if role == "external"
        else 0.6 * g("external_errors", "external_latency"),
        "unknown": 0.0,
    }
    return scores


STARVED = 4.0  # own time per request this many times its baseline is no queueing blip
LOAD_RISE = 1.3  # fewer extra requests than this are the day's ordinary swing, not load


def times_baseline(evidence: list[Evidence], signal: str) -> float | None:
    """How many times its baseline a metric signal's window level is (the strongest reading of it)."""
    e = max((x for x in evidence if x.signal == signal), key=lambda x: x.strength, default=None)
    if e is None or not e.baseline or e.baseline <= 0 or e.current is None:
        return None
    return e.current / e.baseline


def load_share(evidence: list[Evidence]) -> float:
    """0..1: how much of a CPU rise more requests account for (1 when the work per request did not grow)."""
    cpu, hits = times_baseline(evidence, "cpu"), times_baseline(evidence, "hits")
    if cpu is None or hits is None or hits < LOAD_RISE or cpu <= 1.0:
        return 0.0
    return min(1.0, (hits - 1.0) / (cpu - 1.0))


def _external_own(s: dict[str, float], seen: set[str]) -> float:
    """What an external's own spans say, unless its callers' unsampled client metrics measured the same
    thing: its time per span is the time they wait on it, and its error spans are their failed calls;
    a handful of sampled spans does not overrule the complete count."""
    latency = 0.0 if "external_latency" in seen else s.get("self_latency", 0.0)
    errors = 0.0 if "external_errors" in seen else s.get("originated_errors", 0.0)
    return max(latency, errors, s.get("unexplained_errors", 0.0), s.get("new_log_patterns", 0.0))


def _corroborated(primary: float, secondary: float) -> float:
    """A resource signal alone is a weaker finding than one that also hurt the service's latency or errors."""
    return primary * (0.6 + 0.4 * secondary) if primary else 0.0


def confidence_cap(evidence: list[Evidence]) -> float:
    sources = {e.source for e in evidence if e.supports and e.source != "human"}
    return SOURCE_CAP.get(len(sources), MAX_CONFIDENCE)


def judge(h: Hypothesis, ctx: InvestigationContext | None = None) -> Hypothesis:
    role = service_role(h.service, ctx.span_summary) if ctx is not None else "service"
    scores = kind_scores(h.service, h.evidence, role)
    score = scores.get(h.kind, 0.0)
    seen = measured(h.evidence)
    supporting = [e for e in h.evidence if e.supports]
    cap = confidence_cap(supporting)
    own_sources = {e.source for e in supporting if e.source in ("metrics", "logs")}
    if (
        role == "service"
        and not own_sources
        and ctx is not None
        and observed_only_from_outside(h.service, ctx.span_summary)
    ):
        cap = min(cap, OUTSIDE_ONLY_CAP)
    confidence = round(min(score, cap, MAX_CONFIDENCE), 3)
    if score >= VALIDATE_AT and confidence >= VALIDATE_AT:
        status = "validated"
    elif (
        score < INVALIDATE_BELOW
        and _primary_measured(h.kind, seen)
        and not _doubled(h.kind, h.evidence)
        and not _logged_while_counts_unread(h)
    ):
        status = "invalidated"
    else:
        status = "inconclusive"
    onsets = [e.onset for e in supporting if e.onset is not None]
    return h.model_copy(
        update={
            "status": status,
            "confidence": confidence,
            "onset": min(onsets) if onsets else h.onset,
            "leads": _leads(h, scores, ctx),
        }
    )


def _relayed_lead(h: Hypothesis, e: EdgeStats, summary: SpanSummary) -> Lead | None:
    """`h.service` always ends its requests from some callers with a call to `e.callee`, and they give
    up on its answers: the wrong answer may be the callee's, passed on. A lead, never a finding."""
    rejected = max((rejected_answers(summary, c, h.service) for c in e.last_call_for), default=0.0)
    if rejected < GAVE_UP:
        return None
    return Lead(
        service=e.callee,
        kind="code_error",
        reason=f"{h.service}'s answers, given up on, end with {e.callee}'s: it may have passed a wrong one on",
        strength=round(RELAYED * rejected, 3),
    )


def _primary_measured(kind: RootCauseKind, seen: set[str]) -> bool:
    """Only a kind whose defining signal was actually measured can be ruled out: missing or
    unreadable telemetry leaves it open (inconclusive), never invalidated."""
    needs = KIND_SIGNALS.get(kind, ())
    return bool(needs) and needs[0] in seen


def _logged_while_counts_unread(h: Hypothesis) -> bool:
    """Its own error logs rose while its metrics could not be read: a sample of spans showing no new
    errors cannot then rule out a kind that errors define (the complete counts might show them)."""
    needs = KIND_SIGNALS.get(h.kind, ())
    return (
        bool(needs)
        and needs[0] == "originated_errors"
        and strongest(h.evidence).get("log_errors", 0.0) >= SUPPORT_THRESHOLD
        and "errors" not in measured(h.evidence)
        and any(g.unread and g.source == "metrics" for g in h.gaps)
    )


def _doubled(kind: RootCauseKind, evidence: list[Evidence]) -> bool:
    """CPU or memory use that at least doubled is not "normal", even when a noisy baseline keeps its z
    small: too weak to validate saturation, it still cannot rule it out."""
    needs = KIND_SIGNALS.get(kind, ())
    return (
        bool(needs)
        and needs[0] in RESOURCE_LEVELS
        and any(
            e.signal == needs[0]
            and e.baseline
            and e.current is not None
            and e.current >= DOUBLED * e.baseline
            for e in evidence
        )
    )


def _leads(h: Hypothesis, scores: dict[RootCauseKind, float], ctx: InvestigationContext | None) -> list[Lead]:
    leads: list[Lead] = []
    mine = scores.get(h.kind, 0.0)
    for kind, score in sorted(scores.items(), key=lambda kv: -kv[1]):
        sharper = SPECIFICITY.get(kind, 0) > SPECIFICITY.get(h.kind, 0)
        close = score >= mine - 0.15  # a near-equal alternative deserves its own test
        if kind != h.kind and score >= LEAD_AT and (score > mine or sharper or close):
            leads.append(
                Lead(
                    service=h.service,
                    kind=kind,
                    reason=f"{kind} signals in {h.service} ({score:.2f})",
                    strength=round(score, 3),
                )
            )
    for ev in h.evidence:
        # Error lines naming a callee point to it however few they are: a handful of them is all a
        # wrong answer may leave in its caller's logs.
        pointed = ev.supports or (ev.signal == "downstream_log_errors" and ev.strength > 0)
        if ev.points_to and pointed and ev.points_to != h.service:
            leads.append(
                Lead(
                    service=ev.points_to,
                    kind="unknown",
                    reason=f"{h.service}: {ev.observation[:120]}",
                    strength=ev.strength,
                )
            )
    if ctx is not None and ctx.span_summary is not None:
        for e in ctx.span_summary.edges:
            if e.caller != h.service or e.callee == h.service:
                continue
            err_up = e.window_error_rate - e.baseline_error_rate
            slow = (
                (e.window_p50_ms or 0.0) / max(e.baseline_p50_ms or 0.0, 0.05) if e.baseline_p50_ms else 1.0
            )
            cut = cut_strength(e)
            relayed = _relayed_lead(h, e, ctx.span_summary)
            if relayed is not None:
                leads.append(relayed)
            if cut >= GAVE_UP:
                # Its requests now stop right after this call: the answer it got is what it gave up on.
                leads.append(
                    Lead(
                        service=e.callee,
                        kind="unknown",
                        reason=f"{e.window_ended_after:.0%} of {h.service}'s requests now give up on {e.callee}'s answers (was {e.baseline_ended_after:.0%})",
                        strength=cut,
                    )
                )
            if err_up > 0.02 or slow > 1.4:
                strength = min(1.0, max(err_up * 5, (slow - 1.0) / 2))
                leads.append(
                    Lead(
                        service=e.callee,
                        kind="unknown",
                        reason=f"calls from {h.service} to {e.callee}: errors {e.window_error_rate:.1%} (was {e.baseline_error_rate:.1%}), latency ×{slow:.1f}",
                        strength=round(strength, 3),
                    )
                )
    if ctx is not None and h.service == ctx.service and _supported(h, "unexplained_errors"):
        # Errors nothing else explains may end where requests beneath give up, if faintly: worth a
        # test as a wrong answer, which faint evidence leaves inconclusive at best.
        for e in faint_give_ups(ctx, h.service):
            leads.append(
                Lead(
                    service=e.callee,
                    kind="code_error",
                    reason=f"{e.window_ended_after:.0%} of {e.caller}'s requests now give up on {e.callee}'s answers (was {e.baseline_ended_after:.0%})",
                    strength=cut_strength(e),
                )
            )
        lone = lone_give_up(ctx, h.service)
        if lone is not None and lone.callee not in {lead.service for lead in leads}:
            # ...or where the only requests that give up do, however few, and whose answer that was
            for hops, service in enumerate([lone.callee, *answered_by(ctx, lone.caller, lone.callee)]):
                leads.append(
                    Lead(
                        service=service,
                        kind="code_error",
                        reason=f"only {lone.caller}'s requests give up on {lone.callee}'s answers "
                        f"({gave_up_more(lone)} of {lone.caller_window_requests} sampled)",
                        strength=round(FAINT * ONE_HOP_FURTHER**hops, 3),
                    )
                )
    return leads[:6]


def _supported(h: Hypothesis, signal: str) -> bool:
    return any(e.signal == signal and e.supports for e in h.evidence)
