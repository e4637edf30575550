"""A simulated world: a `TelemetryWorld` generated lazily and deterministically from a world spec."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from sleuth.sandbox.protocol import EventRecord, LogRecord, MonitorDef, RawSeries, SpanRecord, TagMatcher
from sleuth.sandbox.sim.events import EventGen
from sleuth.sandbox.sim.logs import LogGen
from sleuth.sandbox.sim.metrics import MetricCatalog
from sleuth.sandbox.sim.spans import SpanGen
from sleuth.sandbox.sim.state import StateModel
from sleuth.sandbox.sim.topology import Topology
from sleuth.sandbox.world import World

__all__ = ["SimulatedWorld"]


class SimulatedWorld:
    def __init__(self, world: World, anchor: datetime) -> None:
        if anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=UTC)
        self.spec = world
        self.name = world.name
        self.env = world.env
        self.org = world.org
        self.anchor = anchor
        self.topology = Topology(world, anchor)
        self.model = StateModel(self.topology)
        self.metrics = MetricCatalog(self.topology, self.model)
        self._logs = LogGen(self.topology, self.model)
        self._spans = SpanGen(self.topology, self.model)
        self._events = EventGen(self.topology, self.model)

    def monitor(self) -> MonitorDef:
        m = self.spec.monitor
        thresholds = {"critical": _threshold(m.query)}
        if m.warning is not None:
            thresholds["warning"] = m.warning
        return MonitorDef(
            id=m.id,
            name=m.name,
            type=m.type,
            query=m.query,
            message=m.message,
            tags=list(m.tags),
            priority=m.priority,
            thresholds=thresholds,
            created=self.anchor.timestamp() - 86400.0 * 97,
            creator_email=f"sre-oncall@{self.spec.org}.example.com",
            creator_name="SRE On-call",
        )

    def metric_names(self, start: float, end: float, match: TagMatcher | None = None) -> list[str]:
        return self.metrics.names(start, end, match)

    def metric_series(
        self, metric: str, start: float, end: float, interval: float, match: TagMatcher | None = None
    ) -> tuple[np.ndarray, list[RawSeries]]:
        return self.metrics.series(metric, start, end, interval, match)

    def logs(self, start: float, end: float, services: frozenset[str] | None = None) -> list[LogRecord]:
        return self._logs.window(start, end, services)

    def spans(self, start: float, end: float) -> list[SpanRecord]:
        return self._spans.window(start, end)

    def events(self, start: float, end: float) -> list[EventRecord]:
        return self._events.window(start, end)


def _threshold(query: str) -> float:
    for op in (">=", "<=", ">", "<"):
        if op in query:
            try:
                return float(query.rsplit(op, 1)[1].strip())
            except ValueError:
                break
    return 0.0
