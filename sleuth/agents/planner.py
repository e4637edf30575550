"""Form hypotheses: first from the alert, the topology and what changed; then from the leads that
the previous round's evidence produced, and from humans' hints.
"""

from __future__ import annotations

import re

from sleuth.agents import stats
from sleuth.agents.evidence import ratio_strength
from sleuth.agents.signals import CACHE_QUEUE_WORDS, DATABASE_WORDS
from sleuth.models.common import RootCauseKind
from sleuth.models.investigation import Hint, Hypothesis, InvestigationContext
from sleuth.models.requests import PlanInput, PlanResult

FIRST_ROUND_SERVICES = 6


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
                    f"its own time per span rose from {row.baseline_self_ms:.1f} to {row.window_self_ms:.1f} ms",
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
            if e.baseline_gap_ms is not None and e.window_gap_ms is not None:
                bump(
                    e.callee,
                    ratio_strength(e.window_gap_ms / max(e.baseline_gap_ms, 0.5), 1.5, 4.0),
                    "time on the wire into it rose",
                )
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
    if DATABASE_WORDS.search(service):
        return "database"
    if CACHE_QUEUE_WORDS.search(service):
        return "dependency_failure"
    own = {r.service for r in ctx.span_summary.services} if ctx.span_summary else set()
    if own and service not in own and any(e.callee == service for e in ctx.edges):
        return "external_dependency"
    row = (
        next((r for r in ctx.span_summary.services if r.service == service), None)
        if ctx.span_summary
        else None
    )
    if row is not None and row.window_originated_errors > max(2, 2 * row.baseline_originated_errors):
        return "code_error"
    return "cpu_saturation"


def _hint_service(hint: Hint, ctx: InvestigationContext) -> str | None:
    if hint.service:
        return hint.service
    words = set(re.findall(r"[\w.-]+", hint.text.lower()))
    named = [s for s in ctx.services if s.lower() in words]
    if named:
        return named[0]
    return ctx.service
