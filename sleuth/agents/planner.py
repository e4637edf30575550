"""Form hypotheses: first from the alert, the topology and what changed; then from the leads that
the previous round's evidence produced, and from humans' hints.
"""

from __future__ import annotations

import re

from sleuth.agents import stats
from sleuth.agents.cut_short import cut_short_evidence
from sleuth.agents.evidence import edge_evidence, fanout_evidence, ratio_strength
from sleuth.agents.health import error_logs_z, fleet_shifts
from sleuth.agents.signals import service_role
from sleuth.agents.topology import call_map
from sleuth.agents.traffic import starved_callees, stopped_on, unexplained_errors
from sleuth.models.common import RootCauseKind
from sleuth.models.investigation import Hint, Hypothesis, InvestigationContext
from sleuth.models.requests import PlanInput, PlanResult
from sleuth.models.telemetry import ServiceHealth

FIRST_ROUND_SERVICES = 6
CLEAR_CPU_RISE_Z = 5.0  # the service's CPU z, less the whole fleet's shift


class OfflinePlanner:
    def plan(self, inp: PlanInput) -> PlanResult:
        ctx = inp.context
        tested = {(h.service, h.kind) for h in inp.tested}
        drafts: list[tuple[str, RootCauseKind, str, str]] = []  # service, kind, statement, origin
        for hint in inp.hints:
            service = _hint_service(hint, ctx)
            if service is not None:
                kind = hint.kind or guess_kind(service, ctx)
                drafts.append((service, kind, f"human hint: {hint.text}", "human"))
        if inp.round == 1:
            for service, why in rank_suspects(ctx)[:FIRST_ROUND_SERVICES]:
                kind = guess_kind(service, ctx)
                drafts.append(
                    (
                        service,
                        kind,
                        f"{service} is the root cause ({kind.replace('_', ' ')}): {why}",
                        "planner",
                    )
                )
        else:
            leads = sorted((lead for h in inp.tested for lead in h.leads), key=lambda lead: -lead.strength)
            for lead in leads:
                kind = lead.kind if lead.kind != "unknown" else guess_kind(lead.service, ctx)
                drafts.append(
                    (
                        lead.service,
                        kind,
                        f"{lead.service} is the root cause ({kind.replace('_', ' ')}): {lead.reason}",
                        "drilldown",
                    )
                )

        out: list[Hypothesis] = []
        n = len(inp.tested)
        for service, kind, statement, origin in drafts:
            if (service, kind) in tested or len(out) >= inp.max_new:
                continue
            tested.add((service, kind))
            n += 1
            out.append(
                Hypothesis(
                    id=f"h{n}",
                    service=service,
                    kind=kind,
                    statement=statement,
                    origin=origin,  # type: ignore[arg-type]
                    round=inp.round,
                )
            )
        return PlanResult(hypotheses=out)


def rank_suspects(ctx: InvestigationContext) -> list[tuple[str, str]]:
    """Services worth a hypothesis, most suspicious first, with a short reason each."""
    scores: dict[str, tuple[float, str]] = {}

    def bump(service: str, score: float, why: str) -> None:
        if service and score > scores.get(service, (-1.0, ""))[0]:
            scores[service] = (score, why)

    summary = ctx.span_summary
    if summary is not None:
        for row in summary.services:
            if row.baseline_self_ms and row.window_self_ms is not None:
                s = ratio_strength(row.window_self_ms / max(row.baseline_self_ms, 0.05))
                bump(
                    row.service,
                    s,
                    f"its own time per request rose from {row.baseline_self_ms:.1f} to {row.window_self_ms:.1f} ms",
                )
            z = stats.proportion_z(
                row.window_originated_errors,
                row.window_spans,
                row.baseline_originated_errors,
                row.baseline_spans,
            )
            bump(
                row.service,
                stats.squash(z),
                f"it originates {row.window_originated_errors} errors in the alert window",
            )
        for row in summary.services:
            fan = fanout_evidence(summary, row.service)
            if fan is not None and fan.strength > 0:
                bump(row.service, fan.strength * 0.8, fan.observation)
        for e in summary.edges:
            err_up = e.window_error_rate - e.baseline_error_rate
            slow = (
                (e.window_p50_ms or 0.0) / max(e.baseline_p50_ms or 0.05, 0.05) if e.baseline_p50_ms else 1.0
            )
            bump(
                e.callee,
                min(1.0, max(err_up * 4, ratio_strength(slow))),
                f"calls into it from {e.caller} got slower or failed more",
            )
        for row in summary.services:
            cut = cut_short_evidence(summary, row.service)
            if cut is not None and cut.supports:
                bump(row.service, cut.strength, cut.observation)
        for row in summary.services:
            for ev in edge_evidence(summary, row.service, set(ctx.services)):
                if ev.signal in ("edge_latency_in", "edge_latency_out") and ev.strength > 0:
                    bump(row.service, ev.strength, ev.observation)
    anomalous: dict[str, float] = {}
    common = fleet_shifts(ctx.health)
    for h in ctx.health:
        err = stats.squash(h.error_z) if h.error_rate_now > h.error_rate_before else 0.0
        lat = stats.squash(h.latency_z)
        # A leak's memory climbs every minute long before it stands far above its baseline.
        res = 0.7 * stats.squash(max(*_own_resource_z(h, common), h.memory_climb))
        surge = ratio_strength(h.hits_ratio or 1.0, 1.5, 4.0)
        logged = stats.squash(error_logs_z(h))
        anomaly = max(err, lat, res, surge, logged)
        anomalous[h.service] = anomaly
        why = (
            f"it logged {h.error_logs} errors in the alert window (about {h.error_logs_expected:.0f} expected)"
            if logged > max(err, lat, res, surge)
            else f"its error rate rose from {h.error_rate_before:.2%} to {h.error_rate_now:.2%}"
            if err >= max(lat, res, surge)
            else f"its latency rose ×{h.latency_ratio or 1:.1f}"
            if lat >= max(res, surge)
            else f"its load rose ×{h.hits_ratio or 1:.1f}"
            if surge >= res
            else "its CPU or memory use moved"
        )
        bump(h.service, anomaly, why)
    # The deepest anomalous services are the likeliest causes: their callers' trouble is explained by
    # them, while nothing they call explains theirs.
    callees = call_map(ctx.edges)
    for svc, anomaly in anomalous.items():
        if anomaly >= 0.5 and not any(anomalous.get(c, 0.0) >= 0.5 for c in callees.get(svc, ())):
            score, why = scores[svc]
            scores[svc] = (min(1.0, score + 0.3), why + "; nothing it calls explains it")
    for svc in anomalous:
        starved = starved_callees(ctx, svc)
        if starved is not None and starved.supports:
            bump(svc, 0.8 * starved.strength, starved.observation)
    for svc in ctx.services:
        stopped = stopped_on(ctx, svc)
        if stopped is not None and stopped.supports:
            bump(svc, 0.8 * stopped.strength, stopped.observation)
    for c in ctx.changes:
        if c.service and c.kind != "other" and c.timestamp <= ctx.alert_time:
            recent = c.timestamp >= ctx.window_start
            bump(c.service, 0.6 if recent else 0.3, f'{c.kind.replace("_", " ")} "{c.title}"')
    if ctx.service:
        bump(ctx.service, 0.25, "the alert fired on it")
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1][0], kv[0]))
    out = [(svc, why) for svc, (score, why) in ranked if score > 0.05 or svc == ctx.service]
    if ctx.service and ctx.service not in {s for s, _ in out[:FIRST_ROUND_SERVICES]}:
        out.insert(FIRST_ROUND_SERVICES - 1, (ctx.service, "the alert fired on it"))
    return out


def guess_kind(service: str, ctx: InvestigationContext) -> RootCauseKind:
    """The most plausible kind before testing; testing corrects it through leads."""
    for c in reversed(ctx.changes):
        if (
            c.service == service
            and c.kind in ("deployment", "config_change")
            and c.timestamp <= ctx.alert_time
        ):
            return "deployment" if c.kind == "deployment" else "config_change"
    role = service_role(service, ctx.span_summary)
    if role == "database":
        return "database"
    if role in ("cache", "queue"):
        return "dependency_failure"
    if role == "external":
        return "external_dependency"
    health = next((h for h in ctx.health if h.service == service), None)
    cpu, memory = _own_resource_z(health, fleet_shifts(ctx.health)) if health is not None else (0.0, 0.0)
    # A starved CPU times requests out, so it errors too; a failing code path rarely burns far more
    # CPU. A clear CPU rise is tested as saturation first (errors alone still point at the code).
    if cpu >= CLEAR_CPU_RISE_Z and cpu >= memory:
        return "cpu_saturation"
    row = (
        next((r for r in ctx.span_summary.services if r.service == service), None)
        if ctx.span_summary
        else None
    )
    if row is not None and row.window_originated_errors > max(2, 2 * row.baseline_originated_errors):
        return "code_error"
    cut = cut_short_evidence(ctx.span_summary, service) if ctx.span_summary else None
    if cut is not None and _slower_to_answer(service, ctx):
        cut = None  # requests that give up after a call grown slow are timeouts, not wrong answers
    for seen in (
        starved_callees(ctx, service),
        stopped_on(ctx, service),
        unexplained_errors(ctx, service),
        cut,
    ):
        if seen is not None and seen.supports:
            return "code_error"
    if health is not None and _slower_only_on_the_wire(service, health.latency_ratio, ctx):
        return "network"
    # Memory that moved far more than CPU is the likelier resource; CPU stays the default.
    if memory >= 3.0 and memory > cpu:
        return "memory_pressure"
    return "cpu_saturation"


def _own_resource_z(h: ServiceHealth, common: dict[str, float]) -> tuple[float, float]:
    """The service's CPU and memory z, less what the whole fleet moved together."""
    return h.cpu_z - common.get("cpu", 0.0), h.memory_z - common.get("memory", 0.0)


def _slower_only_on_the_wire(service: str, own_ratio: float | None, ctx: InvestigationContext) -> bool:
    """Its callers wait much longer on it while it answers as fast as before: the time is on the wire."""
    if own_ratio is None or own_ratio >= 1.2:
        return False  # unmeasured is not "as fast as before"
    return _slower_to_answer(service, ctx, 1.4)


def _slower_to_answer(service: str, ctx: InvestigationContext, ratio: float = 1.5) -> bool:
    """Some caller waits on it clearly longer than before (its median call, ×`ratio` or more)."""
    if ctx.span_summary is None:
        return False
    return any(
        e.window_p50_ms / max(e.baseline_p50_ms, 0.05) >= ratio
        for e in ctx.span_summary.edges
        if e.callee == service and e.caller != service and e.baseline_p50_ms and e.window_p50_ms
    )


def _hint_service(hint: Hint, ctx: InvestigationContext) -> str | None:
    if hint.service:
        return hint.service
    words = set(re.findall(r"[\w.-]+", hint.text.lower()))
    named = [s for s in ctx.services if s.lower() in words]
    if named:
        return named[0]
    return ctx.service
