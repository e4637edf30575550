"""Learn the world from the alert: the monitor, the alerting scope, who calls whom, what changed.

Nothing here knows any particular environment: services come from spans and tags, changes from
the Events API, and the alerting service from the monitor's own query, scope and tags.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sleuth.agents.summaries import edges_from_spans, summarize_spans
from sleuth.gateway import DatadogError, DatadogGateway, SpanRecord
from sleuth.models.alert import Alert, scope_tags
from sleuth.models.investigation import InvestigationContext
from sleuth.models.telemetry import ChangeEvent, EvidenceGap, MonitorInfo

WINDOW = timedelta(minutes=15)  # the alert window: long enough to see a fault start before the alert
BASELINE = timedelta(minutes=60)  # what "normal" looked like just before
SPAN_BASELINE = timedelta(minutes=15)  # spans are voluminous: a shorter normal period suffices for them
CHANGE_LOOKBACK = timedelta(hours=3)
AFTER_ALERT = timedelta(minutes=2)

_QUERY_METRIC = re.compile(r"(?:^|[(:\s])(?:avg|sum|min|max|p\d\d|count):([A-Za-z0-9_.]+)\s*\{")
_QUERY_SCOPE = re.compile(r"\{([^}]*)\}")
_URL = re.compile(r"https?://[^\s)\]>\"']+")


def parse_monitor_query(query: str) -> tuple[str | None, list[str]]:
    """The metric a monitor watches and the tag filters of its scope."""
    metric = _QUERY_METRIC.search(query or "")
    scope = _QUERY_SCOPE.search(query or "")
    tags = [t.strip() for t in scope.group(1).split(",")] if scope else []
    return (metric.group(1) if metric else None), [t for t in tags if ":" in t and not t.startswith("!")]


def _tag(tags: list[str], key: str) -> str | None:
    for t in tags:
        k, sep, v = t.partition(":")
        if sep and k.strip() == key and v.strip() and "*" not in v:
            return v.strip()
    return None


def alert_time_of(alert: Alert, now: datetime) -> datetime:
    """The alert's own date when it is believable, else when Sleuth received it."""
    if alert.date is not None and now - timedelta(days=7) <= alert.date <= now + timedelta(minutes=5):
        return alert.date
    return now


def gather(gateway: DatadogGateway, alert: Alert, now: datetime) -> InvestigationContext:
    gaps: list[EvidenceGap] = []
    monitor: MonitorInfo | None = None
    if alert.monitor_id:
        try:
            monitor = gateway.get_monitor(alert.monitor_id)
        except DatadogError as err:
            gaps.append(err.gap("monitor", f"monitor {alert.monitor_id}"))

    query = (monitor.query if monitor else "") or (alert.query or "")
    metric, query_tags = parse_monitor_query(query)
    tag_sources = [*scope_tags(alert.scope), *query_tags, *alert.tags, *(monitor.tags if monitor else [])]
    service = _tag(tag_sources, "service")
    env = _tag(tag_sources, "env")

    at = alert_time_of(alert, now)
    window_start = at - WINDOW
    window_end = min(now, at + AFTER_ALERT) if now > at else at
    baseline_end = window_start
    baseline_start = baseline_end - BASELINE

    span_query = f"env:{env}" if env else "*"
    window_spans = _spans(gateway, span_query, window_start, window_end, gaps)
    baseline_spans = _spans(gateway, span_query, baseline_end - SPAN_BASELINE, baseline_end, gaps)
    edges = edges_from_spans([*baseline_spans, *window_spans])
    span_summary = summarize_spans(span_query, baseline_spans, window_spans) if window_spans else None

    changes: list[ChangeEvent] = []
    try:
        changes = gateway.search_events("", at - CHANGE_LOOKBACK, window_end)
    except DatadogError as err:
        gaps.append(err.gap("events", "change events"))

    services = sorted(
        {s.service for s in [*window_spans, *baseline_spans] if s.service}
        | {e.callee for e in edges}
        | ({service} if service else set())
    )
    if service is None and len(services) == 1:
        service = services[0]
    messages = " ".join([alert.message, monitor.message if monitor else ""])
    return InvestigationContext(
        alert=alert,
        monitor=monitor,
        service=service,
        env=env,
        alert_time=at,
        window_start=window_start,
        window_end=window_end,
        baseline_start=baseline_start,
        baseline_end=baseline_end,
        monitor_metric=metric,
        services=services,
        edges=edges,
        span_summary=span_summary,
        changes=sorted(changes, key=lambda c: c.timestamp)[-50:],
        runbook_links=sorted(set(_URL.findall(messages)))[:10],
        gaps=gaps,
    )


def _spans(
    gateway: DatadogGateway, query: str, start: datetime, end: datetime, gaps: list[EvidenceGap]
) -> list[SpanRecord]:
    try:
        return gateway.search_spans(query, start, end)
    except DatadogError as err:
        gaps.append(err.gap("spans", query))
        return []
