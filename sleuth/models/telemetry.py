"""Bounded summaries of what Datadog returned: the only telemetry that crosses into workflow history."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from sleuth.models.common import TelemetrySource


class EvidenceGap(BaseModel):
    """Something the investigator wanted to know and could not: named, never an exception."""

    source: TelemetrySource
    query: str
    reason: str  # e.g. "logs unavailable: 403 from /api/v2/logs/events/search"
    # The query got no answer (it failed, or the budget kept it from being sent): what it would have
    # said is unknown. False when Datadog answered that there is no such data.
    unread: bool = False


class MonitorInfo(BaseModel):
    id: str
    name: str = ""
    type: str = ""
    query: str = ""
    message: str = ""
    tags: list[str] = Field(default_factory=list)
    overall_state: str | None = None


class ChangeEvent(BaseModel):
    """A deploy, a config change or another change event, as found through the Events API."""

    id: str
    title: str
    timestamp: datetime
    kind: Literal["deployment", "config_change", "other"] = "other"
    service: str | None = None
    tags: list[str] = Field(default_factory=list)
    text: str = ""


class Edge(BaseModel):
    """caller → callee, seen in spans (parent span's service → child span's service)."""

    caller: str
    callee: str
    calls: int = 0


class SeriesSummary(BaseModel):
    """A time series reduced to what a judgement needs: baseline vs alert window, and when it moved."""

    query: str
    scope: str = ""  # the group ("service:checkout") this series belongs to, when grouped
    points: int = 0
    baseline_points: int = 0
    baseline_mean: float | None = None
    baseline_std: float | None = None
    window_mean: float | None = None
    window_max: float | None = None
    change_score: float = 0.0  # robust z of the window against the baseline (signed)
    relative_change: float | None = None  # window_mean / baseline_mean - 1
    onset: datetime | None = None  # first sustained departure from the baseline, if any
    climb: float = 0.0  # robust z of the window's late steps over the baseline's (stats.climb): a leak's ramp
    sparkline: list[float] = Field(default_factory=list)  # a few resampled points, for humans and notebooks


class LogPattern(BaseModel):
    pattern: str
    count: int
    baseline_count: int = 0
    service: str | None = None
    status: str | None = None
    sample: str = ""
    first_seen: datetime | None = None


class LogSummary(BaseModel):
    query: str
    window_count: int = 0
    baseline_count: int = 0
    error_count: int = 0
    baseline_error_count: int = 0
    patterns: list[LogPattern] = Field(default_factory=list)
    new_patterns: list[LogPattern] = Field(default_factory=list)


class EdgeStats(BaseModel):
    """Latency and errors along one caller→callee edge, baseline vs alert window."""

    caller: str
    callee: str
    baseline_calls: int = 0
    window_calls: int = 0
    baseline_p50_ms: float | None = None
    window_p50_ms: float | None = None
    baseline_error_rate: float = 0.0
    window_error_rate: float = 0.0
    # How callers' exit spans describe the callee: span type (sql, redis, queue, http...) and host.
    callee_type: str = ""
    callee_host: str = ""
    # Caller-side time not spent inside the callee (network, queueing, connection setup).
    baseline_gap_ms: float | None = None
    window_gap_ms: float | None = None
    # Share of the caller's requests (of those that would call this callee) that gave up on its answer:
    # ended early right after calling it, or called it again.
    baseline_ended_after: float = 0.0
    window_ended_after: float = 0.0
    caller_baseline_requests: int = 0
    caller_window_requests: int = 0
    # Of the caller's requests that called it (0: not counted, read as all of them), the share that
    # called it again: a retry, the first answer rejected.
    baseline_retried: float = 0.0
    window_retried: float = 0.0
    caller_baseline_calling: int = 0
    caller_window_calling: int = 0
    # Callers whose requests to this edge's caller always end with this call: its answer becomes theirs.
    last_call_for: list[str] = Field(default_factory=list)


class ServiceSpanStats(BaseModel):
    """A service's own contribution: self time (its duration minus its children's) and errors it originates."""

    service: str
    instrumented: bool = True  # reports its own spans; False for peers seen only through callers' exit spans
    baseline_spans: int = 0
    window_spans: int = 0
    baseline_self_ms: float | None = None
    window_self_ms: float | None = None
    baseline_error_rate: float = 0.0
    window_error_rate: float = 0.0
    window_originated_errors: int = 0  # errors on spans none of whose children errored
    baseline_originated_errors: int = 0
    top_error_messages: list[str] = Field(default_factory=list)


class SpanSummary(BaseModel):
    query: str
    baseline_spans: int = 0
    window_spans: int = 0
    services: list[ServiceSpanStats] = Field(default_factory=list)
    edges: list[EdgeStats] = Field(default_factory=list)


class ServiceHealth(BaseModel):
    """One service's complete (unsampled) APM and resource metrics, alert window vs baseline."""

    service: str
    hits_ratio: float | None = None  # window load / baseline load
    error_rate_before: float = 0.0
    error_rate_now: float = 0.0
    error_z: float = 0.0
    latency_z: float = 0.0
    latency_ratio: float | None = None
    cpu_z: float = 0.0
    memory_z: float = 0.0
    memory_climb: float = 0.0  # stats.climb of its memory: a leak grows every minute before it is large
    onset_epoch: float | None = None  # when its latency first left the baseline
    seen_by_callers: bool = False  # no tracer of its own: errors and latency are its callers' client spans
    error_logs: int = 0  # error-status logs in the alert window
    error_logs_expected: float = 0.0  # what its baseline rate predicts for the window
