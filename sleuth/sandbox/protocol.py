"""The seam between the HTTP layer and whatever produces telemetry.

The HTTP layer speaks Datadog's API and owns every bit of query semantics (search syntax, tag
filters, grouping, space aggregation, formulas, pagination). A telemetry world only answers
"what exists in this time range": monitor, metric contexts with their values, logs, spans and
events. The simulator is one implementation; a replay of recorded incident data is another.
Times are epoch seconds (float) throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

MetricKind = Literal["gauge", "count", "rate", "distribution"]

# Space aggregators a distribution context can answer directly, on top of avg/sum/min/max.
PERCENTILES: dict[str, float] = {"p50": 0.50, "p75": 0.75, "p90": 0.90, "p95": 0.95, "p99": 0.99}

TagMatcher = Callable[[Sequence[str]], bool]


def time_buckets(start: float, end: float, interval: float) -> np.ndarray:
    """The bucket starts a metric query over [start, end) answers with: aligned to the interval,
    as Datadog aligns them, and at least one."""
    b0 = np.floor(start / interval) * interval
    return b0 + np.arange(max(1, int(np.ceil((end - b0) / interval)))) * interval


@dataclass
class RawSeries:
    """One metric context (a unique tag set) over a bucketed time range.

    `values` are already time-aggregated per bucket the way Datadog rolls the metric type up:
    the mean for gauges, the total per bucket for counts. `percentiles` only exist for
    distributions (p50..p99 per bucket); `weights` tell how much traffic each bucket carried so
    that a group of contexts can be combined (hits for latency distributions).
    NaN marks a bucket where the context reported nothing.
    """

    metric: str
    tags: tuple[str, ...]
    kind: MetricKind
    values: np.ndarray
    unit: str | None = None
    percentiles: dict[str, np.ndarray] | None = None
    weights: np.ndarray | None = None


@dataclass
class MonitorDef:
    id: int
    name: str
    type: str
    query: str
    message: str
    tags: list[str]
    priority: int | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    created: float = 0.0
    creator_email: str = "sre@example.com"
    creator_name: str = "SRE"


@dataclass
class LogRecord:
    id: str
    timestamp: float
    service: str
    status: str  # info | warn | error | debug
    message: str
    host: str
    tags: list[str]
    attributes: dict[str, Any]


@dataclass
class SpanRecord:
    id: str
    trace_id: str
    span_id: str
    parent_id: str  # "0" for a root span
    service: str
    operation_name: str
    resource_name: str
    type: str  # web | rpc | sql | cache | queue | http | worker
    start: float
    end: float
    env: str
    host: str
    tags: list[str]
    custom: dict[str, Any]  # nested, as Datadog returns span attributes: duration (ns), error{...}, http{...}


@dataclass
class EventRecord:
    id: str
    timestamp: float
    title: str
    text: str
    tags: list[str]
    source: str  # source_type_name, lower case ("github", "kubernetes", "launchdarkly", ...)
    status: str = "info"  # error | warning | info | success
    priority: str = "normal"
    service: str | None = None
    host: str | None = None
    aggregation_key: str | None = None
    category: str | None = None  # "change" for change-tracking events, None for classic events
    extra: dict[str, Any] = field(
        default_factory=dict
    )  # category-specific attributes (changed_resource, ...)


@runtime_checkable
class TelemetryWorld(Protocol):
    """What a Datadog stand-in needs from a world of telemetry. Implementations must be thread-safe."""

    name: str
    env: str

    def monitor(self) -> MonitorDef: ...

    def metric_names(self, start: float, end: float, match: TagMatcher | None = None) -> list[str]:
        """Names of metrics with at least one context matching `match` that reported in [start, end]."""
        ...

    def metric_series(
        self, metric: str, start: float, end: float, interval: float, match: TagMatcher | None = None
    ) -> tuple[np.ndarray, list[RawSeries]]:
        """Bucket start times (epoch s, step `interval`, covering [start, end)) and every context of
        `metric` whose tags satisfy `match` (the filter is a hint: callers filter again)."""
        ...

    def logs(self, start: float, end: float, services: frozenset[str] | None = None) -> list[LogRecord]:
        """Logs in [start, end), oldest first. `services`, when given, is a hint that only those
        services' logs can match; callers still apply the full query."""
        ...

    def spans(self, start: float, end: float) -> list[SpanRecord]:
        """Spans starting in [start, end), oldest first."""
        ...

    def events(self, start: float, end: float) -> list[EventRecord]:
        """Events in [start, end), oldest first."""
        ...
