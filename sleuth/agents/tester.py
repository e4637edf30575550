"""Test one hypothesis against the service's own telemetry, then let the judge decide.

The tester measures a service's whole health profile (resources, APM, logs, spans, changes), not
only the signals the hypothesis names: what it finds for other kinds becomes a lead for the next
round, and what it finds downstream becomes a drill-down.
"""

from __future__ import annotations

import math

from sleuth.agents import judge, stats
from sleuth.agents.cut_short import cut_short_evidence, passed_on_answer
from sleuth.agents.evidence import (
    change_evidence,
    change_named_in_errors,
    edge_evidence,
    log_baseline,
    log_evidence,
    series_evidence,
    span_evidence,
)
from sleuth.agents.health import fleet_shifts
from sleuth.agents.peers import caller_log_evidence, peer_evidence
from sleuth.agents.signals import (
    KIND_SIGNALS,
    aggregator_for,
    classify_metric,
    count_floor,
    pick_metrics,
    service_role,
)
from sleuth.agents.summaries import summarize_logs, summarize_series
from sleuth.agents.traffic import starved_callees, stopped_on, unexplained_errors, where_errors_end
from sleuth.gateway import DatadogError, DatadogGateway
from sleuth.models.investigation import Evidence, Hypothesis, Usage
from sleuth.models.requests import TestInput, TestResult
from sleuth.models.telemetry import EvidenceGap, SeriesSummary

ALERT_STRENGTH = 0.6  # a threshold crossed: clear, but not how far beyond normal


class OfflineTester:
    """Statistics over telemetry; no model."""

    def test(self, inp: TestInput, gateway: DatadogGateway) -> TestResult:
        h = inp.hypothesis
        ctx = inp.context
        evidence: list[Evidence] = []
        gaps: list[EvidenceGap] = []

        series = self._metrics(gateway, h.service, inp, gaps)
        common = fleet_shifts(ctx.health)
        for summary in series:
            if " / " not in summary.query and summary.baseline_points < stats.MIN_BASELINE_POINTS:
                # Too little history to call anything normal or abnormal: not measured, not "normal".
                gaps.append(
                    EvidenceGap(
                        source="metrics",
                        query=summary.query,
                        reason=f"baseline too short: {summary.baseline_points} point(s) before the alert window",
                    )
                )
                continue
            ev = series_evidence(summary, common)
            if ev is not None:
                evidence.append(ev)
        external = service_role(h.service, ctx.span_summary) == "external"
        if external:
            evidence.extend(peer_evidence(gateway, ctx, h.service, gaps))
        complaints = caller_log_evidence(
            gateway, ctx, h.service, gaps, "external_errors" if external else "named_in_errors"
        )
        evidence.extend(self._logs(gateway, h.service, inp, gaps))
        if ctx.span_summary is not None:
            evidence.extend(span_evidence(ctx.span_summary, h.service))
            for cut in (
                cut_short_evidence(ctx.span_summary, h.service),
                passed_on_answer(ctx.span_summary, h.service),
            ):
                if cut is not None:
                    evidence.append(cut)
            evidence.extend(edge_evidence(ctx.span_summary, h.service, set(ctx.services)))
        evidence.extend(change_evidence(ctx.changes, h.service, ctx.window_start, ctx.alert_time))
        errors = max((e.strength for e in evidence if e.signal == "errors"), default=0.0)
        named = frozenset(
            e.points_to for e in evidence if e.signal == "downstream_log_errors" and e.points_to
        )
        for seen in (
            starved_callees(ctx, h.service),
            stopped_on(ctx, h.service),
            unexplained_errors(ctx, h.service, errors, named),
            where_errors_end(ctx, h.service),
        ):
            if seen is not None:
                evidence.append(seen)
        if complaints is not None and (external or judge.complaints_count(evidence)):
            evidence.append(complaints)
        evidence.extend(_alert_as_measurement(inp, evidence))
        evidence.extend(_human_pointer(h))

        missing = _missing_primary(h, evidence)
        if missing:
            gaps.append(missing)
        judged = judge.judge(h.model_copy(update={"evidence": evidence, "gaps": [*h.gaps, *gaps]}), ctx)
        return TestResult(
            hypothesis=judged,
            usage=Usage(datadog_calls=gateway.budget.used, datadog_errors=gateway.budget.errors),
        )

    def _metrics(
        self, gateway: DatadogGateway, service: str, inp: TestInput, gaps: list[EvidenceGap]
    ) -> list[SeriesSummary]:
        ctx = inp.context
        try:
            names = gateway.list_metrics(ctx.baseline_start, tag_filter=f"service:{service}")
        except DatadogError as err:
            gaps.append(err.gap("metrics", f"active metrics for service:{service}"))
            return []
        picked = pick_metrics(names)
        if not picked:
            gaps.append(
                EvidenceGap(
                    source="metrics",
                    query=f"service:{service}",
                    reason=f"metrics unavailable: none reported for service:{service}",
                )
            )
            return []
        scope = f"service:{service}" + (f",env:{ctx.env}" if ctx.env else "")
        queries = [
            f"{aggregator_for(sig)}:{name}{{{scope}}}" for sig, names_ in picked.items() for name in names_
        ]
        try:
            raw = gateway.query_metrics(queries, ctx.baseline_start, ctx.window_end, interval_seconds=60)
        except DatadogError as err:
            gaps.append(err.gap("metrics", "; ".join(queries)[:300]))
            return []
        baseline = (ctx.baseline_start.timestamp(), ctx.baseline_end.timestamp())
        window = (ctx.window_start.timestamp(), ctx.window_end.timestamp())
        returned = {s.query for s in raw if stats.clean(s.values)}
        for q in queries:
            if q not in returned:
                gaps.append(
                    EvidenceGap(
                        source="metrics", query=q, reason="metrics unavailable: no data points returned"
                    )
                )
        summaries = [
            summarize_series(s, baseline, window, abs_floor=count_floor(s.query))
            for s in raw
            if stats.clean(s.values)
        ]
        return _with_utilisation(summaries)

    def _logs(
        self, gateway: DatadogGateway, service: str, inp: TestInput, gaps: list[EvidenceGap]
    ) -> list[Evidence]:
        ctx = inp.context
        query = f"service:{service}" + (f" env:{ctx.env}" if ctx.env else "")
        log_baseline_start, _, scale = log_baseline(ctx)
        try:
            window_logs = gateway.search_logs(
                query, ctx.window_start, ctx.window_end, limit=1000, max_pages=2
            )
            baseline_logs = gateway.search_logs(
                query, log_baseline_start, ctx.baseline_end, limit=1000, max_pages=2
            )
        except DatadogError as err:
            gaps.append(err.gap("logs", query))
            return []
        summary = summarize_logs(
            query,
            [*baseline_logs, *window_logs],
            (log_baseline_start.timestamp(), ctx.baseline_end.timestamp()),
            (ctx.window_start.timestamp(), ctx.window_end.timestamp()),
        )
        texts = [p.sample for p in summary.new_patterns]
        if ctx.span_summary is not None:
            row = next((r for r in ctx.span_summary.services if r.service == service), None)
            texts += row.top_error_messages if row else []
        return [
            *log_evidence(summary, scale, service, set(ctx.services)),
            *change_named_in_errors(ctx.changes, service, texts),
        ]


def _missing_primary(h: Hypothesis, evidence: list[Evidence]) -> EvidenceGap | None:
    """Name the defining signal of the hypothesis' kind when no telemetry carried it."""
    needs = KIND_SIGNALS.get(h.kind, ())
    if not needs or any(e.signal == needs[0] for e in evidence):
        return None
    return EvidenceGap(
        source="metrics",
        query=f"service:{h.service} {needs[0]}",
        reason=f"metrics unavailable: no {needs[0].replace('_', ' ')} signal reported for service:{h.service}",
    )


def _with_utilisation(summaries: list[SeriesSummary]) -> list[SeriesSummary]:
    """usage / limit, when both are reported: saturation is about headroom, not absolute numbers."""
    out = list(summaries)
    for usage_word, limit_word in (("cpu.usage", "cpu.limits"), ("memory.usage", "memory.limits")):
        usage = next((s for s in summaries if usage_word in s.query), None)
        limit = next((s for s in summaries if limit_word in s.query), None)
        if usage is None or limit is None or not limit.window_mean or not usage.window_mean:
            continue
        # kubernetes.cpu.usage.total is in nanocores while limits are in cores.
        factor = 1e9 if usage_word == "cpu.usage" and usage.window_mean > 1e5 * limit.window_mean else 1.0
        util_now = usage.window_mean / (limit.window_mean * factor)
        util_base = (usage.baseline_mean or 0.0) / ((limit.baseline_mean or limit.window_mean) * factor)
        if math.isfinite(util_now):
            out.append(
                SeriesSummary(
                    query=f"{usage.query} / {limit.query}",
                    scope=usage.scope,
                    points=usage.points,
                    baseline_mean=round(util_base, 4),
                    window_mean=round(util_now, 4),
                    window_max=round((usage.window_max or 0.0) / (limit.window_mean * factor), 4),
                    change_score=usage.change_score,
                    relative_change=usage.relative_change,
                    onset=usage.onset,
                )
            )
    return out


def _alert_as_measurement(inp: TestInput, evidence: list[Evidence]) -> list[Evidence]:
    """The monitor that fired measured the alerted service's symptom. When our own queries could not
    (too little history, no data), that is the measurement of last resort, and only for that service."""
    ctx = inp.context
    if inp.hypothesis.service != ctx.service or not ctx.monitor_metric:
        return []
    rule = classify_metric(ctx.monitor_metric)
    signal = rule.signal if rule is not None and rule.signal in ("latency", "errors") else None
    if rule is None and ctx.monitor_metric.startswith("trace."):
        signal = "latency"  # `p90:trace.<operation>`: APM's latency distribution
    if signal is None or any(e.signal == signal for e in evidence):
        return []
    return [
        Evidence(
            source="monitor",
            query=ctx.monitor.query if ctx.monitor else ctx.monitor_metric,
            observation=f"the monitor on {ctx.service}'s {signal} crossed its threshold at {ctx.alert_time:%H:%M:%S}",
            signal=signal,
            strength=ALERT_STRENGTH,
            supports=True,
        )
    ]


def _human_pointer(h: Hypothesis) -> list[Evidence]:
    """A hint is recorded as what it is: a human's pointer, never as telemetry evidence."""
    if h.origin != "human":
        return []
    return [
        Evidence(
            source="human",
            query="hint",
            observation=f"a human suggested: {h.statement}",
            signal="human_hint",
            strength=0.0,
            supports=True,
        )
    ]
