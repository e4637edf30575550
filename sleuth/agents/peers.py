"""An external API has no telemetry of its own: its callers' client-side APM metrics, tagged
`peer.service`, are how it is seen. They are never sampled, so they show an external failing even
when only a handful of its calls were traced. Its callers' error logs that name it are the second,
independent view.
"""

from __future__ import annotations

from sleuth.agents import stats
from sleuth.agents.evidence import SUPPORT_THRESHOLD, log_baseline, series_evidence
from sleuth.agents.signals import aggregator_for, count_floor, pick_metrics
from sleuth.agents.summaries import summarize_series
from sleuth.gateway import DatadogError, DatadogGateway
from sleuth.models.investigation import Evidence, InvestigationContext
from sleuth.models.telemetry import EvidenceGap, SeriesSummary

AS_SEEN = {"errors": "external_errors", "latency": "external_latency"}


def peer_evidence(
    gateway: DatadogGateway, ctx: InvestigationContext, service: str, gaps: list[EvidenceGap]
) -> list[Evidence]:
    """Errors and latency of the calls every caller makes to `service`, baseline vs alert window."""
    scope = f"peer.service:{service}" + (f",env:{ctx.env}" if ctx.env else "")
    try:
        names = gateway.list_metrics(ctx.baseline_start, tag_filter=f"peer.service:{service}")
        picked = pick_metrics(names)
        queries = [
            f"{aggregator_for(sig)}:{name}{{{scope}}}"
            for sig in ("hits", *AS_SEEN)
            for name in picked.get(sig, [])[:1]
        ]
        raw = gateway.query_metrics(queries, ctx.baseline_start, ctx.window_end) if queries else []
    except DatadogError as err:
        gaps.append(err.gap("metrics", scope))
        return []
    baseline = (ctx.baseline_start.timestamp(), ctx.baseline_end.timestamp())
    window = (ctx.window_start.timestamp(), ctx.window_end.timestamp())
    summaries = {
        s.query: summarize_series(s, baseline, window, abs_floor=count_floor(s.query))
        for s in raw
        if stats.clean(s.values)
    }
    load = _relative(next((v for q, v in summaries.items() if q.endswith(f".hits{{{scope}}}")), None))
    out: list[Evidence] = []
    for summary in summaries.values():
        ev = series_evidence(summary)
        if ev is None or ev.signal not in AS_SEEN:
            continue
        strength = ev.strength
        if ev.signal == "errors" and _relative(summary) <= load:
            strength = 0.0  # more calls, proportionally more errors: the rate did not move
        out.append(
            ev.model_copy(
                update={
                    "signal": AS_SEEN[ev.signal],
                    "observation": f"as its callers see it: {ev.observation}",
                    "strength": strength,
                    "supports": strength >= SUPPORT_THRESHOLD,
                }
            )
        )
    return out


def caller_log_evidence(
    gateway: DatadogGateway,
    ctx: InvestigationContext,
    service: str,
    gaps: list[EvidenceGap],
    signal: str = "external_errors",
) -> Evidence | None:
    """Error logs, from anyone, that name `service`: how often its callers complain about it, baseline
    rate vs the alert window's. For a service with telemetry of its own (`signal="named_in_errors"`)
    this is how an answer that is wrong but looks fine to the service itself shows."""
    # Its own lines name it too (logger names, messages): a complaint is what others log.
    query = f'status:error "{service}" -service:{service}' + (f" env:{ctx.env}" if ctx.env else "")
    base_start, base_end, scale = log_baseline(ctx)
    try:
        now = len(gateway.search_logs(query, ctx.window_start, ctx.window_end, limit=1000, max_pages=1))
        before = len(gateway.search_logs(query, base_start, base_end, limit=1000, max_pages=1))
    except DatadogError as err:
        gaps.append(err.gap("logs", query))
        return None
    expected = before * scale
    strength = round(stats.squash(stats.count_z(now, expected)), 3)
    return Evidence(
        source="logs",
        query=query,
        observation=f"as its callers see it: {now} error logs name {service} in the alert window (about {expected:.0f} expected)",
        signal=signal,
        strength=strength,
        supports=strength >= SUPPORT_THRESHOLD,
        baseline=round(expected, 2),
        current=float(now),
    )


def _relative(summary: SeriesSummary | None) -> float:
    if summary is None or summary.relative_change is None:
        return 0.0
    return summary.relative_change
