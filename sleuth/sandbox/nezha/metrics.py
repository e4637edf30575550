"""Per-pod minute metrics → Datadog's Kubernetes and APM trace metrics, as `RawSeries` contexts.

Each CSV row is sampled at the end of the minute it summarises and is served at that instant
(time-shifted). Mapping (name, type, unit ← source column):

- `kubernetes.cpu.usage.total` gauge nanocores ← `CpuUsage(m)` × 1e6
- `kubernetes.cpu.limits` gauge cores ← the day's median of `CpuUsage(m)` / `CpuUsageRate(%)` × 100 / 1000
- `kubernetes.memory.usage` gauge bytes ← `MemoryUsage(Mi)` × 2^20
- `kubernetes.memory.limits` gauge bytes ← the day's median of `MemoryUsage(Mi)` / `MemoryUsageRate(%)` × 100
- `kubernetes.memory.usage_pct` gauge fraction ← `MemoryUsageRate(%)` / 100
- `kubernetes.network.rx_bytes` / `tx_bytes` gauge bytes (per second) ← `NetworkReceive/TransmitBytes`
- `trace.grpc.server.hits` count ← `PodWorkload(Ops)` (requests/s) × 60
- `trace.grpc.server` distribution seconds: p90/p95/p99 ← `PodServerLatencyP90/95/99(s)`; p50 ←
  `front_service.csv`'s `LatencyP50(s)` for the entry service (frontend), else the mean over callers
  of the edge medians into the service (`destination_50.csv`); weights ← hits.
- `trace.grpc.server.duration` gauge seconds, and the distribution's average: an *estimate* of the
  mean — the mean of a piecewise-linear quantile function through (0, p50/2), (.5, p50), (.9, p90),
  (.95, p95), (.99, p99), (1, p99) — since the data has no mean (on this dataset's own spans the
  estimate's median log error is +2 %, mean absolute 10 %).
- `trace.grpc.server.errors` count, the entry service only ← hits × (1 − `SuccessRate(%)`/100) from
  `front_service.csv`. `PodSuccessRate(%)` is 0 in every row of every pod on both days (a broken
  collector, not a success rate), so no other service has an error signal and none is invented.

Not served: syscalls (no public Datadog metric counts them), node-level columns (host metrics
named differently), and client-side latency (`PodClientLatency*`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from sleuth.sandbox.nezha.dataset import DayMetrics, Frame
from sleuth.sandbox.protocol import MetricKind, RawSeries, TagMatcher, time_buckets

MIB = 2.0**20
APM = "trace.grpc.server"


@dataclass
class Context:
    metric: str
    tags: tuple[str, ...]
    kind: MetricKind
    unit: str | None
    t: np.ndarray  # served (shifted) sample times
    values: np.ndarray
    pct: dict[str, np.ndarray] | None = None
    weights: np.ndarray | None = None


def mean_estimate(p50: np.ndarray, p90: np.ndarray, p95: np.ndarray, p99: np.ndarray) -> np.ndarray:
    return 0.575 * p50 + 0.225 * p90 + 0.045 * p95 + 0.03 * p99


def _ratio_limit(usage: np.ndarray, rate: np.ndarray) -> float:
    ok = np.isfinite(usage) & np.isfinite(rate) & (rate > 0) & (usage > 0)
    return float(np.median(usage[ok] / rate[ok] * 100.0)) if ok.any() else float("nan")


def _nearest(src: Frame, t: np.ndarray, values: np.ndarray, tolerance: float = 30.0) -> np.ndarray:
    """Values of another per-minute table at the samples nearest to `t` (NaN when none within tolerance)."""
    n = len(src.t)
    if n == 0:
        return np.full(len(t), np.nan)
    right = np.clip(np.searchsorted(src.t, t), 0, n - 1)
    left = np.clip(right - 1, 0, n - 1)
    i = np.where(np.abs(src.t[left] - t) <= np.abs(src.t[right] - t), left, right)
    out = values[i].astype(np.float64)
    out[np.abs(src.t[i] - t) > tolerance] = np.nan
    return out


def _nanmean(stack: np.ndarray) -> np.ndarray:
    ok = np.isfinite(stack)
    n = ok.sum(axis=0)
    return np.where(n > 0, np.where(ok, stack, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)


def _p50(day: DayMetrics, service: str, entry: bool, t: np.ndarray, p90: np.ndarray) -> np.ndarray:
    edges = [c for c in day.dest50.cols if c.rsplit("_", 1)[-1] == service] if day.dest50 else []
    if entry and day.front is not None:
        p50 = _nearest(day.front, t, day.front.col("LatencyP50(s)"))
    elif edges and day.dest50 is not None:
        p50 = _nanmean(np.vstack([_nearest(day.dest50, t, day.dest50.col(c)) for c in edges]))
    else:
        p50 = np.full(len(t), np.nan)
    with np.errstate(all="ignore"):
        r = p50 / p90
    ratio = float(np.median(r[np.isfinite(r)])) if np.isfinite(r).any() else 0.5
    p50 = np.where(np.isfinite(p50), p50, p90 * min(max(ratio, 0.0), 1.0))  # rare gaps: the usual ratio
    return np.minimum(p50, p90)


class MetricBook:
    """Every metric context of one case over its served time range."""

    def __init__(
        self,
        day: DayMetrics,
        start: float,
        end: float,
        shift: float,
        env: str,
        kube_tags: dict[str, list[str]],
        entry: str,
    ) -> None:
        self.entry = entry
        self.contexts: dict[str, list[Context]] = defaultdict(list)
        for service, (_pod, f) in sorted(day.pods.items()):
            sel = (f.t >= start) & (f.t < end)
            if not sel.any():
                continue
            t = f.t[sel] + shift
            col = {name: v[sel] for name, v in f.cols.items()}
            self._kube(service, f, col, t, kube_tags[service])
            self._apm(day, service, col, f.t[sel], t, env)

    def _add(
        self,
        metric: str,
        tags: list[str],
        kind: MetricKind,
        unit: str | None,
        t: np.ndarray,
        values: np.ndarray,
        **kw: object,
    ) -> None:
        self.contexts[metric].append(Context(metric, tuple(sorted(tags)), kind, unit, t, values, **kw))  # type: ignore[arg-type]

    def _kube(
        self, service: str, f: Frame, col: dict[str, np.ndarray], t: np.ndarray, tags: list[str]
    ) -> None:
        cpu_limit = _ratio_limit(f.col("CpuUsage(m)"), f.col("CpuUsageRate(%)")) / 1000.0
        mem_limit = _ratio_limit(f.col("MemoryUsage(Mi)"), f.col("MemoryUsageRate(%)")) * MIB
        self._add("kubernetes.cpu.usage.total", tags, "gauge", "nanocore", t, col["CpuUsage(m)"] * 1e6)
        self._add("kubernetes.memory.usage", tags, "gauge", "byte", t, col["MemoryUsage(Mi)"] * MIB)
        self._add(
            "kubernetes.memory.usage_pct", tags, "gauge", "fraction", t, col["MemoryUsageRate(%)"] / 100.0
        )
        self._add("kubernetes.network.rx_bytes", tags, "gauge", "byte", t, col["NetworkReceiveBytes"])
        self._add("kubernetes.network.tx_bytes", tags, "gauge", "byte", t, col["NetworkTransmitBytes"])
        if np.isfinite(cpu_limit):
            self._add("kubernetes.cpu.limits", tags, "gauge", "core", t, np.full(len(t), round(cpu_limit, 4)))
        if np.isfinite(mem_limit):
            self._add("kubernetes.memory.limits", tags, "gauge", "byte", t, np.full(len(t), round(mem_limit)))

    def _apm(
        self,
        day: DayMetrics,
        service: str,
        col: dict[str, np.ndarray],
        t_orig: np.ndarray,
        t: np.ndarray,
        env: str,
    ) -> None:
        tags = [f"env:{env}", f"service:{service}", "span.kind:server"]
        hits = col["PodWorkload(Ops)"] * 60.0
        p90, p95, p99 = (col[f"PodServerLatencyP{q}(s)"] for q in (90, 95, 99))
        p50 = _p50(day, service, service == self.entry, t_orig, p90)
        mean = mean_estimate(p50, p90, p95, p99)
        has_latency = np.isfinite(p90) & np.isfinite(p95) & np.isfinite(p99)
        # A minute may report latency while its rounded request rate is 0: keep it visible with a tiny weight.
        weights = np.where(has_latency, np.maximum(np.nan_to_num(hits), 1e-6), 0.0)
        self._add(f"{APM}.hits", tags, "count", "hit", t, hits)
        self._add(f"{APM}.duration", tags, "gauge", "second", t, np.where(has_latency, mean, np.nan))
        self._add(
            APM,
            tags,
            "distribution",
            "second",
            t,
            np.where(has_latency, mean, np.nan),
            pct={"p50": p50, "p90": p90, "p95": p95, "p99": p99},
            weights=weights,
        )
        if service == self.entry and day.front is not None:
            success = _nearest(day.front, t_orig, day.front.col("SuccessRate(%)"))
            self._add(f"{APM}.errors", tags, "count", "error", t, hits * (1.0 - success / 100.0))

    # --- reading -------------------------------------------------------------------------------------
    def names(self, start: float, end: float, match: TagMatcher | None) -> list[str]:
        out = []
        for metric, ctxs in self.contexts.items():
            for c in ctxs:
                if (match is None or match(c.tags)) and bool(np.any((c.t >= start) & (c.t < end))):
                    out.append(metric)
                    break
        return sorted(out)

    def series(
        self, metric: str, start: float, end: float, interval: float, match: TagMatcher | None
    ) -> tuple[np.ndarray, list[RawSeries]]:
        buckets = time_buckets(start, end, interval)
        b0, nb = float(buckets[0]), len(buckets)
        out = []
        for c in self.contexts.get(metric, []):
            if match is not None and not match(c.tags):
                continue
            sel = (c.t >= start) & (c.t < end)
            if not sel.any():
                continue
            idx = np.floor((c.t[sel] - b0) / interval).astype(np.int64)
            out.append(_bucket(c, sel, idx, nb))
        return buckets, out


def _bucket(c: Context, sel: np.ndarray, idx: np.ndarray, nb: int) -> RawSeries:
    v = c.values[sel]
    ok = np.isfinite(v)
    n = np.bincount(idx[ok], minlength=nb).astype(np.float64)
    total = np.bincount(idx[ok], weights=v[ok], minlength=nb)
    if c.kind == "count":
        return RawSeries(c.metric, c.tags, "count", np.where(n > 0, total, np.nan), c.unit)
    if c.kind == "gauge":
        return RawSeries(
            c.metric, c.tags, "gauge", np.where(n > 0, total / np.where(n > 0, n, 1.0), np.nan), c.unit
        )
    assert c.weights is not None and c.pct is not None
    w_rows = c.weights[sel]
    w = np.bincount(idx, weights=w_rows, minlength=nb)
    safe = np.where(w > 0, w, 1.0)

    def mix(x: np.ndarray) -> np.ndarray:
        x = x[sel]
        good = np.isfinite(x) & (w_rows > 0)
        return np.where(
            w > 0, np.bincount(idx[good], weights=x[good] * w_rows[good], minlength=nb) / safe, np.nan
        )

    pct = {k: mix(x) for k, x in c.pct.items()}
    return RawSeries(c.metric, c.tags, "distribution", mix(c.values), c.unit, pct, np.where(w > 0, w, np.nan))
