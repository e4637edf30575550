"""A health scan of every service at once, from metrics that are never sampled.

Spans are sampled and may miss a failing service entirely; APM trace metrics and Kubernetes
metrics are complete. A handful of `by {service}` queries give each service's error rate,
latency, load and resource use before and during the alert, in two or three API calls.
Databases, caches and queues have no tracer: their callers' client spans, `by {peer.service}`,
are how their errors and latency are seen. Error logs are counted per service too (two aggregate
calls, `error_log_counts`): where spans carry no error flag, logs may be the only place a failure shows.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sleuth.agents import stats
from sleuth.gateway import DatadogError, DatadogGateway, Series
from sleuth.models.telemetry import EvidenceGap, ServiceHealth

_TRACE_METRIC = re.compile(r"^trace\.(?P<op>[\w.]+)\.(?P<part>hits|errors|duration)$")
_CLIENT_OP = re.compile(r"client|query|command|produce|publish")
MAX_OPERATIONS = 6
QUERIES_PER_CALL = 12
ERROR_RATE_FLOOR = 0.01  # one percentage point: smaller error-rate wobbles are not a spread
FLEET_MIN_SERVICES = 5  # fewer services are not a fleet: their median is one of them
RESOURCES = {"cpu": "kubernetes.cpu.usage.total", "memory": "kubernetes.memory.usage"}
LOG_BASELINE = timedelta(minutes=30)  # logs are heavy: the last half hour is their normal
MIN_ERROR_LOGS = 3  # fewer error lines are not a pattern


def scan(
    gateway: DatadogGateway,
    env: str | None,
    baseline: tuple[datetime, datetime],
    window: tuple[datetime, datetime],
    gaps: list[EvidenceGap],
) -> list[ServiceHealth]:
    scope = f"env:{env}" if env else "*"
    try:
        names = gateway.list_metrics(baseline[0], tag_filter=scope if env else None)
    except DatadogError as err:
        gaps.append(err.gap("metrics", f"active metrics for {scope}"))
        return []
    ops = _operations(names)
    queries: list[tuple[str, str, str]] = []  # (query, part, operation)
    for op in ops:
        queries.append((f"sum:trace.{op}.hits{{{scope}}} by {{service}}.as_count()", "hits", op))
        queries.append((f"sum:trace.{op}.errors{{{scope}}} by {{service}}.as_count()", "errors", op))
        queries.append((f"avg:trace.{op}.duration{{{scope}}} by {{service}}", "duration", op))
    for part, metric in RESOURCES.items():
        if metric in names:
            queries.append((f"avg:{metric}{{{scope}}} by {{service}}", part, ""))
    for op in _client_operations(names):
        queries.append(
            (f"sum:trace.{op}.hits{{{scope}}} by {{peer.service}}.as_count()", "hits", f"peer:{op}")
        )
        queries.append(
            (f"sum:trace.{op}.errors{{{scope}}} by {{peer.service}}.as_count()", "errors", f"peer:{op}")
        )
        queries.append((f"avg:trace.{op}.duration{{{scope}}} by {{peer.service}}", "duration", f"peer:{op}"))
    series: list[tuple[Series, str, str]] = []
    for i in range(0, len(queries), QUERIES_PER_CALL):
        chunk = queries[i : i + QUERIES_PER_CALL]
        try:
            got = gateway.query_metrics([q for q, _, _ in chunk], baseline[0], window[1], interval_seconds=60)
        except DatadogError as err:
            gaps.append(err.gap("metrics", "service health scan"))
            continue
        meta = {q: (part, op) for q, part, op in chunk}
        series += [(s, *meta[s.query]) for s in got if s.query in meta]
    return _health(series, baseline, window)


@dataclass(frozen=True)
class ErrorLogCounts:
    query: str
    window: dict[str, int]  # service → error logs in the alert window
    expected: dict[str, float]  # service → what its baseline rate predicts for the window


def error_log_counts(
    gateway: DatadogGateway,
    env: str | None,
    baseline: tuple[datetime, datetime],
    window: tuple[datetime, datetime],
) -> ErrorLogCounts:
    """Error logs per service, alert window vs the last half hour before it (raises DatadogError)."""
    start = max(baseline[0], baseline[1] - LOG_BASELINE)
    query = f"status:error env:{env}" if env else "status:error"
    now = gateway.count_logs(query, window[0], window[1])
    before = gateway.count_logs(query, start, baseline[1]) if now else {}
    scale = (window[1] - window[0]).total_seconds() / max(1.0, (baseline[1] - start).total_seconds())
    return ErrorLogCounts(query, now, {svc: round(n * scale, 2) for svc, n in before.items()})


def with_error_logs(health: list[ServiceHealth], counts: ErrorLogCounts) -> list[ServiceHealth]:
    for h in health:
        h.error_logs = counts.window.get(h.service, 0)
        h.error_logs_expected = counts.expected.get(h.service, 0.0)
    return health


def error_logs_z(h: ServiceHealth) -> float:
    """How far a service's error logs rose above what its baseline predicts (0 for a few lines)."""
    return stats.count_z(h.error_logs, h.error_logs_expected) if h.error_logs >= MIN_ERROR_LOGS else 0.0


def _traced_operations(names: list[str]) -> set[str]:
    return {m.group("op") for n in names if (m := _TRACE_METRIC.match(n)) and m.group("part") == "hits"}


def _operations(names: list[str]) -> list[str]:
    """Trace operations that report hits, servers before clients (a client span is a caller's view)."""
    return sorted(_traced_operations(names), key=lambda op: (bool(_CLIENT_OP.search(op)), op))[
        :MAX_OPERATIONS
    ]


def _client_operations(names: list[str]) -> list[str]:
    return sorted(op for op in _traced_operations(names) if _CLIENT_OP.search(op))[:MAX_OPERATIONS]


def _tag_of(scope: str, key: str) -> str | None:
    for tag in scope.split(","):
        k, _, v = tag.partition(":")
        if k.strip() == key and v.strip():
            return v.strip()
    return None


def _health(
    series: list[tuple[Series, str, str]],
    baseline: tuple[datetime, datetime],
    window: tuple[datetime, datetime],
) -> list[ServiceHealth]:
    b0, b1 = baseline[0].timestamp(), baseline[1].timestamp()
    w0, w1 = window[0].timestamp(), window[1].timestamp()
    by: dict[tuple[str, str], dict[str, Series]] = defaultdict(dict)
    peers: dict[tuple[str, str], dict[str, Series]] = defaultdict(dict)
    resources: dict[str, dict[str, Series]] = defaultdict(dict)
    for s, part, op in series:
        if op.startswith("peer:"):
            if (peer := _tag_of(s.scope, "peer.service")) is not None:
                peers[(peer, op)][part] = s
        elif (svc := _tag_of(s.scope, "service")) is not None:
            if op:
                by[(svc, op)][part] = s
            else:
                resources[svc][part] = s
    out: dict[str, ServiceHealth] = {}
    for svc, parts in resources.items():
        h = out.setdefault(svc, ServiceHealth(service=svc))
        for part, s in parts.items():
            sh = _shift(s, b0, b1, w0, w1)
            if sh is None:
                continue
            if part == "cpu":
                h.cpu_z = round(sh.z, 2)
            else:
                h.memory_z = round(sh.z, 2)
                h.memory_climb = round(stats.climb(*_parts(s, b0, b1, w0, w1)), 2)
    traced = {svc for svc, _ in by}
    # A service with a tracer speaks for itself; one without, that runs here (it has resource
    # metrics), is seen through its callers. External APIs are left to `peers`.
    seen = {k: v for k, v in peers.items() if k[0] in out and k[0] not in traced}
    for svc, _ in seen:
        out[svc].seen_by_callers = True
    for (svc, _op), parts in [*by.items(), *seen.items()]:
        h = out.setdefault(svc, ServiceHealth(service=svc))
        hits, errors, duration = parts.get("hits"), parts.get("errors"), parts.get("duration")
        if hits is not None:
            sh = _shift(hits, b0, b1, w0, w1)
            if sh is not None and sh.relative is not None:
                h.hits_ratio = max(h.hits_ratio or 0.0, round(1.0 + sh.relative, 3))
            if errors is not None:
                rate = _ratio(errors, hits)
                sr = _shift(rate, b0, b1, w0, w1, abs_floor=ERROR_RATE_FLOOR)
                if sr is not None:
                    h.error_rate_before = round(sr.baseline, 5)
                    h.error_rate_now = max(h.error_rate_now, round(sr.current, 5))
                    h.error_z = max(h.error_z, round(sr.z, 2))
        if duration is not None:
            sd = _shift(duration, b0, b1, w0, w1)
            if sd is not None:
                h.latency_z = max(h.latency_z, round(sd.z, 2))
                if sd.relative is not None:
                    h.latency_ratio = max(h.latency_ratio or 0.0, round(1.0 + sd.relative, 3))
                if sd.onset_index is not None:
                    h.onset_epoch = _first(h.onset_epoch, _time_at(duration, w0, sd.onset_index))
    return sorted(out.values(), key=lambda h: h.service)


def _shift(
    s: Series, b0: float, b1: float, w0: float, w1: float, abs_floor: float = 0.0
) -> stats.Shift | None:
    return stats.shift(*_parts(s, b0, b1, w0, w1), abs_floor)


def _parts(
    s: Series, b0: float, b1: float, w0: float, w1: float
) -> tuple[list[float | None], list[float | None]]:
    """The series' baseline and window values."""
    base = [v for t, v in zip(s.times, s.values, strict=False) if b0 <= t < b1]
    win = [v for t, v in zip(s.times, s.values, strict=False) if w0 <= t <= w1]
    return base, win


def _ratio(num: Series, den: Series) -> Series:
    d = dict(zip(den.times, den.values, strict=False))
    times, values = [], []
    for t, v in zip(num.times, num.values, strict=False):
        h = d.get(t)
        times.append(t)
        values.append((v or 0.0) / h if h else None)
    return Series(query=num.query, scope=num.scope, times=times, values=values)


def _time_at(s: Series, w0: float, index: int) -> float | None:
    ts = [t for t in s.times if t >= w0]
    return ts[index] if index < len(ts) else None


def _first(a: float | None, b: float | None) -> float | None:
    vals = [x for x in (a, b) if x is not None and math.isfinite(x)]
    return min(vals) if vals else None


def fleet_shifts(health: list[ServiceHealth]) -> dict[str, float]:
    """How far the whole fleet's CPU and memory moved together, as a z to discount from each service's.

    When most services' usage rose at once (a node-wide change, a shared load wave), one service's rise
    says nothing about that service. The median of the fleet is the common part; only its excess over
    one sigma is discounted, so that an ordinary fleet leaves each service's own signal whole."""
    if len(health) < FLEET_MIN_SERVICES:
        return {}
    return {
        "cpu": max(0.0, stats.median([h.cpu_z for h in health]) - 1.0),
        "memory": max(0.0, stats.median([h.memory_z for h in health]) - 1.0),
    }
