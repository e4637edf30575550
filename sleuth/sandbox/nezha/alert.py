"""The alert: one rule, fixed in advance and identical for every case.

Signal: the entry service's p90 request latency (`PodServerLatencyP90(s)` of its pod; in
OnlineBoutique the frontend's, which is `front_service.csv`'s `LatencyP90(s)`), served as
`p90:trace.grpc.server{service:<entry>}`.
Threshold: the median of that signal over the hour before the injection plus K = 3 robust standard
deviations (1.4826 × MAD), rounded to 3 significant digits. The alert fires at the first minute
sample after the injection (and before the next one, at most 5 minutes later) that is above the
threshold; when none is, two minutes after the injection. The fault's type and location play no
part: only the injection time and the entry service's own latency do.

To keep one sample per minute bucket, the alert fires 2–60 s after the crossing sample, chosen so
that the time-shifted samples land near the middle of each minute.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from sleuth.sandbox.nezha.dataset import Frame
from sleuth.sandbox.protocol import MonitorDef

K = 3.0
HISTORY_S = 3600.0
HORIZON_S = 300.0
FALLBACK_S = 120.0
SIGNAL = "PodServerLatencyP90(s)"


@dataclass(frozen=True)
class AlertPlan:
    threshold: float
    median: float
    crossing: float | None  # original time of the first sample above the threshold, if any
    base: float  # crossing, or injection + 2 min


def plan(entry: Frame, inject: float, next_inject: float | None) -> AlertPlan:
    t, v = entry.t, entry.col(SIGNAL)
    hist = v[(t >= inject - HISTORY_S) & (t < inject) & np.isfinite(v)]
    if len(hist):
        med = float(np.median(hist))
        mad = 1.4826 * float(np.median(np.abs(hist - med)))
        threshold = float(f"{med + K * mad:.3g}")
    else:  # no history at all: never happens in this dataset, but stay defined
        med, threshold = math.nan, math.inf
    end = min(inject + HORIZON_S, next_inject if next_inject is not None else math.inf)
    above = np.flatnonzero((t >= inject) & (t < end) & np.isfinite(v) & (v > threshold))
    crossing = float(t[above[0]]) if len(above) else None
    return AlertPlan(threshold, med, crossing, crossing if crossing is not None else inject + FALLBACK_S)


def fire_time(p: AlertPlan, entry: Frame, anchor: float) -> float:
    """When (original time) the alert fires: 2–60 s after `base`, so that samples land mid-bucket once
    shifted by `anchor - fire_time`."""
    t = entry.t
    ref = float(t[np.argmin(np.abs(t - p.base))]) if len(t) else p.base  # a sample near base: the phase
    delta = (ref + anchor - p.base - 30.0) % 60.0  # shifted samples at :30 of their minute
    if delta < 2.0:
        delta += 2.0  # ... or at :28, so the crossing sample is strictly before the alert
    return p.base + delta


def monitor_id(anchor: datetime) -> int:
    """Each served world is its own Datadog org: its monitor id comes from its anchor, never from the case.
    (One shared id would make Sleuth's per-monitor rate limit fold every case into the first.)"""
    return (
        1_000_000
        + int.from_bytes(hashlib.blake2b(anchor.isoformat().encode(), digest_size=4).digest()) % 9_000_000
    )


def monitor(p: AlertPlan, service: str, env: str, anchor: datetime) -> MonitorDef:
    threshold = p.threshold if math.isfinite(p.threshold) else 1.0
    query = f"avg(last_1m):p90:trace.grpc.server{{service:{service},env:{env}}} > {threshold:g}"
    return MonitorDef(
        id=monitor_id(anchor),
        name=f"High p90 latency on {service}",
        type="query alert",
        query=query,
        message=(
            f"p90 latency of requests served by {service} is above {threshold:g}s, the top of its normal "
            "range (the previous hour's median plus three robust standard deviations). @sre-oncall"
        ),
        tags=[f"service:{service}", f"env:{env}"],
        priority=2,
        thresholds={"critical": threshold},
        created=anchor.timestamp() - 86400.0 * 120,
        creator_email="sre-oncall@example.com",
        creator_name="SRE On-call",
    )
