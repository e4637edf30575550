"""One case of a Nezha-layout dataset as a `TelemetryWorld`, time-shifted so that its alert fires at the anchor.

What is served, and where it comes from (see README.md next to this file; the times and counts
below are OnlineBoutique's):

- Monitor: the entry service's p90 latency (`frontend` in OnlineBoutique), one rule for every case
  (`alert.py`); it fires at the anchor.
- Metrics: the incident day's own per-pod minute metrics (`metrics.py`), from 3 hours before the
  alert (or the day's first sample, whichever is later: 03:51 UTC on 2022-08-22, 11:59 UTC on
  2022-08-23 — the first cases of each day have only minutes of history) to 15 minutes after it
  or the next injection, whichever is earlier. Earlier cases' faults are part of that history:
  faults were injected every ~8 minutes.
- Spans (`spans.py`): the case's own trace files (the injection minute and up to two after it; the
  first one starts before the injection, so some real pre-injection spans exist), served as
  recorded. **Stitched**: the dataset has no fault-free traces before each injection, so the
  minutes before the case's first real span (or before the injection, whichever is earlier; 16
  minutes) are filled with copies of the dataset's fault-free baseline trace minute(s)
  (`baseline/*/trace`, one minute recorded on 2022-08-23 at 17:00 UTC), laid end to end and
  time-shifted, with fresh trace and span ids per copy and parent/child links preserved; baseline
  pods are mapped to the case day's pod of the same service. So the span baseline before an alert
  is real fault-free traffic of the same system, but the same minute repeated, not that day's.
- Logs (`logs.py`): the case's own log files, which exist for two cases only; no stitching, so
  those logs have no baseline.
- Events: none (the data has no change events).

No label reaches the world: it is built from the injection time alone (`Incident`), never from
the root cause or the fault type, and no case id is used in any served name, tag or text.
"""

from __future__ import annotations

import bisect
import math
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sleuth.sandbox.nezha import alert, logs
from sleuth.sandbox.nezha.dataset import (
    DATASET,
    ENV_NAMES,
    Incident,
    System,
    baseline_trace_files,
    cached,
    day_metrics,
    incident,
    minute_files,
    next_injection,
    pod_nodes,
    read_logs,
    read_trace,
    require_dir,
    system,
)
from sleuth.sandbox.nezha.metrics import MetricBook
from sleuth.sandbox.nezha.spans import Shaped, SpanBook, SpanFactory, shape, stitch
from sleuth.sandbox.protocol import EventRecord, LogRecord, MonitorDef, RawSeries, SpanRecord, TagMatcher

ENV = ENV_NAMES[DATASET]  # the development set's
FILL_MINUTES = 16
METRIC_HOURS = 3.0
AFTER_MINUTES = 15.0
CASE_MARGIN_S = 300.0  # a case's own spans and logs start at most this long before its injection


def _kube_tags(system: System, service: str, pod: str, node: str | None) -> list[str]:
    tags = [
        f"env:{system.env}",
        f"service:{service}",
        f"kube_namespace:{system.namespace}",
        f"kube_deployment:{service}",
        f"kube_replica_set:{pod.rsplit('-', 1)[0]}",
        f"pod_name:{pod}",
    ]
    return tags + ([f"host:{node}"] if node else [])


def baseline_pool(root: Path) -> list[list[Shaped]]:
    """The dataset's fault-free trace minutes, each shaped on its own (cached)."""
    return cached(("pool", root), lambda: [shape(read_trace(p)) for p in baseline_trace_files(root)])


class NezhaWorld:
    """A `TelemetryWorld` for one case. Thread-safe: spans and logs are built once, on first use."""

    def __init__(
        self,
        case: Incident,
        anchor: datetime | None = None,
        *,
        root: Path | None = None,
        fill_minutes: int = FILL_MINUTES,
    ) -> None:
        self.root = require_dir(root)
        self.system = system(self.root)
        self.name = self.env = env = self.system.env
        self.anchor = (anchor or datetime.now(UTC)).astimezone(UTC)
        self._date, self._inject = case.date, case.inject  # the case id stays out of the world, too
        self._fill_minutes = fill_minutes
        day = day_metrics(case.date, self.root)
        entry = day.pods[self.system.entry][1]
        nxt = next_injection(case, self.root)
        self.plan = alert.plan(entry, case.inject, nxt)
        self.fired = alert.fire_time(self.plan, entry, self.anchor.timestamp())  # original time
        self.shift = self.anchor.timestamp() - self.fired
        self._end = min(self.fired + AFTER_MINUTES * 60, nxt if nxt is not None else math.inf)
        nodes = pod_nodes(case.date, self.root)
        self.pods = {svc: pod for svc, (pod, _) in day.pods.items()}
        self.hosts = {svc: nodes[pod] for svc, pod in self.pods.items() if pod in nodes}
        self.tags = {svc: _kube_tags(self.system, svc, pod, nodes.get(pod)) for svc, pod in self.pods.items()}
        self.metrics = MetricBook(
            day, self.fired - METRIC_HOURS * 3600, self._end, self.shift, env, self.tags, self.system.entry
        )
        self._monitor = alert.monitor(self.plan, self.system.entry, env, self.anchor)
        self._lock = threading.Lock()
        self._spans: SpanBook | None = None
        self._logs: list[LogRecord] | None = None
        self._log_starts: list[float] = []

    @classmethod
    def load(
        cls, case_id: str, anchor: datetime | None = None, *, root: Path | None = None, **kw: Any
    ) -> NezhaWorld:
        return cls(incident(case_id, root), anchor, root=root, **kw)

    # --- TelemetryWorld ----------------------------------------------------------------------------
    def monitor(self) -> MonitorDef:
        return self._monitor

    def metric_names(self, start: float, end: float, match: TagMatcher | None = None) -> list[str]:
        return self.metrics.names(start, end, match)

    def metric_series(
        self, metric: str, start: float, end: float, interval: float, match: TagMatcher | None = None
    ) -> tuple[np.ndarray, list[RawSeries]]:
        return self.metrics.series(metric, start, end, interval, match)

    def logs(self, start: float, end: float, services: frozenset[str] | None = None) -> list[LogRecord]:
        records = self._load_logs()
        lo, hi = bisect.bisect_left(self._log_starts, start), bisect.bisect_left(self._log_starts, end)
        return [r for r in records[lo:hi] if services is None or r.service in services]

    def spans(self, start: float, end: float) -> list[SpanRecord]:
        return self._load_spans().window(start, end)

    def events(self, start: float, end: float) -> list[EventRecord]:
        return []

    # --- building -----------------------------------------------------------------------------------
    def _in_case(self, t: float) -> bool:
        return self._inject - CASE_MARGIN_S <= t < self._end

    def _load_spans(self) -> SpanBook:
        with self._lock:
            if self._spans is None:
                folder = self.root / "incident" / self._date / "trace"
                raw = [
                    s
                    for p in minute_files(folder, "trace", self._inject)
                    for s in read_trace(p)
                    if self._in_case(s.start_ns / 1e9)
                ]
                real = shape(raw)
                first = real[0].raw.start_ns if real else None
                fill_end = (
                    min(first, int(self._inject * 1e9)) if first is not None else int(self._inject * 1e9)
                )
                factory = SpanFactory(self.env, self.tags, self.hosts)
                self._spans = SpanBook(
                    stitch(real, baseline_pool(self.root), fill_end, self._fill_minutes, factory, self.shift)
                )
            return self._spans

    def _load_logs(self) -> list[LogRecord]:
        with self._lock:
            if self._logs is None:
                folder = self.root / "incident" / self._date / "log"
                rows = [
                    r
                    for p in minute_files(folder, "log", self._inject)
                    for r in read_logs(p)
                    if self._in_case(r.ts)
                ]
                self._logs = logs.to_records(rows, self.shift, self.env, self.tags)
                self._log_starts = [r.timestamp for r in self._logs]
            return self._logs


def nezha_server(
    case_id: str, anchor: datetime | None = None, *, root: Path | None = None, **server_kw: Any
) -> Any:
    """An unstarted `SandboxServer` serving one case, its alert firing at `anchor` (default: now)."""
    from sleuth.sandbox.server import SandboxServer

    anchor = (anchor or datetime.now(UTC)).astimezone(UTC)
    return SandboxServer(NezhaWorld.load(case_id, anchor, root=root), anchor=anchor, **server_kw)
