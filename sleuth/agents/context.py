"""Learn the world from the alert: the monitor, the alerting scope, who calls whom, what changed.

Nothing here knows any particular environment: services come from spans and tags, changes from
the Events API, and the alerting service from the monitor's own query, scope and tags.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from sleuth.agents import health, stats
from sleuth.agents.give_ups import give_ups
from sleuth.agents.summaries import edges_from_spans, summarize_spans
from sleuth.gateway import DatadogError, DatadogGateway, SpanRecord
from sleuth.models.alert import Alert, scope_tags
from sleuth.models.investigation import InvestigationContext
from sleuth.models.telemetry import ChangeEvent, EvidenceGap, MonitorInfo

MAX_WINDOW = timedelta(minutes=30)  # the longest a fault may have brewed before the alert
MIN_WINDOW = timedelta(minutes=3)
ONSET_MARGIN = timedelta(
    minutes=1
)  # start the window a little before the onset: faults precede their symptoms
BASELINE = timedelta(minutes=60)  # what "normal" looked like just before
SPAN_BASELINE = timedelta(minutes=15)  # spans are voluminous: a shorter normal period suffices for them
SPAN_SAMPLE = 5000  # spans per search, newest first: on a busy system, a window's latest seconds
# On a busy system one capped search holds only a period's last seconds, where a rarely taken path
# may not appear at all: more searches, each ending a slice earlier (or where the ones before began),
# sample the rest of the period; at most this many.
SPAN_SLICES = 6
SPAN_SAMPLED_BASELINE = timedelta(minutes=3)
# The spans' normal period ends this long before the window: an alert may fire minutes into a fault
# whose onset its own signal does not show, and the latest spans before a 3-minute window would then
# hold the fault's first minutes as "normal". Spans compare medians of a short sample; the metrics'
# hour is long enough not to need it.
SPAN_GUARD = timedelta(minutes=2)
LOG_COUNTS_GRACE = timedelta(seconds=1)  # how long the rest of the context waits for error-log counts
SIGNAL_HISTORY = timedelta(hours=2)
CHANGE_LOOKBACK = timedelta(hours=3)
AFTER_ALERT = timedelta(minutes=2)

_MONITOR_QUERY = re.compile(r"^\s*\w+\([^)]*\)\s*:\s*(.+?)\s*(?:[<>]=?|==)\s*-?[\d.]+\s*$")
_METRIC_TERM = re.compile(
    r"(?:avg|sum|min|max|count|p\d\d):[A-Za-z0-9_.]+\{[^}]*\}(?:\s*by\s*\{[^}]*\})?(?:\.as_(?:count|rate)\(\))?"
)
_QUERY_METRIC = re.compile(r"(?:^|[(:\s])(?:avg|sum|min|max|p\d\d|count):([A-Za-z0-9_.]+)\s*\{")
_QUERY_SCOPE = re.compile(r"\{([^}]*)\}")
T = TypeVar("T")
_URL = re.compile(r"https?://[^\s)\]>\"']+")


def parse_monitor_query(query: str) -> tuple[str | None, list[str]]:
    """The metric a monitor watches and the tag filters of its scope."""
    metric = _QUERY_METRIC.search(query or "")
    scope = _QUERY_SCOPE.search(query or "")
    tags = [t.strip() for t in scope.group(1).split(",")] if scope else []
    return (metric.group(1) if metric else None), [t for t in tags if ":" in t and not t.startswith("!")]


def signal_query(monitor_query: str) -> str | None:
    """The metric query a monitor evaluates, as the timeseries API takes it:
    `avg(last_5m):p95:trace.http.request{service:web} > 0.8` → `p95:trace.http.request{service:web}`.
    For a formula (errors / hits) the first term is the signal: it moves first and most."""
    m = _MONITOR_QUERY.match(monitor_query or "")
    body = m.group(1) if m else (monitor_query or "")
    term = _METRIC_TERM.search(body)
    return term.group(0) if term else None


def onset_of(values: list[tuple[float, float | None]], alert_at: float) -> float | None:
    """When the alerting signal left its normal range: the start of the run, reaching the alert, in
    which it stays past halfway between its normal level and its alerting level. Halfway rather than
    a few sigmas, so that a slow daily trend does not pass for the start of the incident."""
    history = [v for t, v in values if t < alert_at - MAX_WINDOW.total_seconds()]
    recent = [(t, v) for t, v in values if alert_at - MAX_WINDOW.total_seconds() <= t <= alert_at + 60]
    clean = stats.clean(history)
    if len(clean) < 5 or not recent:
        return None
    center, sigma = stats.median(clean), stats.robust_sigma(clean)
    peak = next((v for _, v in reversed(recent) if v is not None), None)
    if peak is None or abs(peak - center) < 3 * sigma:
        return None
    sign = 1 if peak > center else -1
    level = max(3 * sigma, 0.5 * abs(peak - center))
    onset = None
    gap = 0
    for t, v in reversed(recent):
        if v is not None and sign * (v - center) >= level:
            onset, gap = t, 0
        else:
            gap += 1  # one normal or missing minute inside a run is noise, two end it
            if gap > 1:
                break
    return onset


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
    window_end = min(now, at + AFTER_ALERT) if now > at else at
    onset = _signal_onset(gateway, query, at, window_end, gaps)
    window_start = max(at - MAX_WINDOW, min(at - MIN_WINDOW, (onset or at) - ONSET_MARGIN))
    baseline_end = window_start
    baseline_start = baseline_end - BASELINE

    span_query = f"env:{env}" if env else "*"
    periods = (baseline_start, baseline_end), (window_start, window_end)
    # Optional, so bounded: counted beside the rest, and left out if still unanswered when it is done.
    log_counts = Bounded(lambda: health.error_log_counts(gateway, env, *periods))
    # Two searches rather than one: results come newest first and are capped, and the baseline must not be crowded out.
    # Ending at the alert, not at "now": on a busy system the capped sample is the latest seconds, and
    # which seconds those are must not depend on how long after the alert the investigation started.
    # Latencies are read from the latest seconds, nearest the alert; the earlier slices add requests
    # for what only many show (which calls a rarely taken path gives up on), from the signal's onset
    # on in the window, and from the baseline's last minutes (further back, other trouble may have
    # been under way).
    trouble = max(window_start, min(onset or window_start, at))
    window = _spans(gateway, span_query, window_start, min(window_end, at), gaps, trouble)
    span_baseline_end = baseline_end - SPAN_GUARD
    baseline = _spans(
        gateway,
        span_query,
        span_baseline_end - SPAN_BASELINE,
        span_baseline_end,
        gaps,
        span_baseline_end - SPAN_SAMPLED_BASELINE,
    )
    window_spans, baseline_spans = window.latest, baseline.latest
    edges = edges_from_spans([*baseline.every, *window.every])
    span_summary = (
        summarize_spans(
            span_query,
            baseline_spans,
            window_spans,
            give_ups(baseline.every, window.every),
        )
        if window_spans
        else None
    )

    health_scan = health.scan(gateway, env, *periods, gaps)

    changes: list[ChangeEvent] = []
    try:
        changes = gateway.search_events("", at - CHANGE_LOOKBACK, window_end)
    except DatadogError as err:
        gaps.append(err.gap("events", "change events"))

    try:
        counts = log_counts.result(LOG_COUNTS_GRACE.total_seconds())
        if counts is not None:
            health.with_error_logs(health_scan, counts)
        else:
            gaps.append(
                EvidenceGap(
                    source="logs",
                    query="error logs by service",
                    reason=f"no answer within {LOG_COUNTS_GRACE.total_seconds():g} s of the rest of the context: left out",
                )
            )
    except DatadogError as err:
        gaps.append(err.gap("logs", "error logs by service"))

    services = sorted(
        {s.service for s in [*window_spans, *baseline_spans] if s.service}
        | {e.callee for e in edges}
        | {h.service for h in health_scan}
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
        call_graph_complete=window.whole and baseline.whole,
        span_summary=span_summary,
        health=health_scan,
        changes=sorted(changes, key=lambda c: c.timestamp)[-50:],
        runbook_links=sorted(set(_URL.findall(messages)))[:10],
        gaps=gaps,
    )


def _signal_onset(
    gateway: DatadogGateway, monitor_query: str, at: datetime, end: datetime, gaps: list[EvidenceGap]
) -> datetime | None:
    q = signal_query(monitor_query)
    if q is None:
        return None
    try:
        series = gateway.query_metrics([q], at - SIGNAL_HISTORY, end, interval_seconds=60)
    except DatadogError as err:
        gaps.append(err.gap("metrics", q))
        return None
    if not series:
        gaps.append(
            EvidenceGap(
                source="metrics",
                query=q,
                reason="metrics unavailable: the monitor's own signal returned no data",
            )
        )
        return None
    # Several groups: the one that moved most is the one that alerted.
    best: float | None = None
    for s in series:
        t = onset_of(list(zip(s.times, s.values, strict=False)), at.timestamp())
        if t is not None and (best is None or t < best):
            best = t
    return datetime.fromtimestamp(best, tz=at.tzinfo) if best is not None else None


@dataclass(frozen=True)
class SpanSample:
    latest: list[SpanRecord]  # one search's: the period's latest spans, newest first
    every: list[SpanRecord]  # with those of the earlier slices
    whole: bool  # nothing of the period was left out


def _spans(
    gateway: DatadogGateway,
    query: str,
    start: datetime,
    end: datetime,
    gaps: list[EvidenceGap],
    sample_from: datetime | None = None,
) -> SpanSample:
    """The period's spans. A search that comes back full holds only the period's latest seconds: then
    slices of the period from `sample_from` (its start by default) are sampled at their ends too, or
    where the searches before them began, whichever is earlier: the sample reaches back without
    holding the same seconds twice."""
    latest: list[SpanRecord] = []
    every: dict[str, SpanRecord] = {}
    whole = True
    first = sample_from or start
    step = (end - first) / SPAN_SLICES
    held_from = end
    for k in range(SPAN_SLICES, 0, -1):
        upto = min(first + step * k, held_from)
        if upto <= first:
            break  # the sample reaches back past where it was meant to start
        try:
            found = gateway.search_spans(query, start, upto, limit=SPAN_SAMPLE)
        except DatadogError as err:
            gaps.append(err.gap("spans", query))
            break
        latest = latest or found
        every.update((s.span_id, s) for s in found)
        if len(found) < SPAN_SAMPLE:
            break  # everything up to this slice's end is in hand
        whole = False
        held_from = datetime.fromtimestamp(min(s.start for s in found), UTC)
    return SpanSample(latest, list(every.values()), whole)


class Bounded(Generic[T]):
    """A call run beside the caller's own work, whose answer is awaited only so long: a slow optional
    source must not hold up, or time out, what does not need it. An abandoned call finishes on its own
    (the gateway's timeouts bound it) and is ignored."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name="sleuth-bounded", daemon=True).start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as err:  # handed to whoever awaits the result
            self._error = err
        finally:
            self._done.set()

    def result(self, seconds: float) -> T | None:
        """The answer, None if none came within `seconds`; the call's own error is raised."""
        if not self._done.wait(seconds):
            return None
        if self._error is not None:
            raise self._error
        return self._value
