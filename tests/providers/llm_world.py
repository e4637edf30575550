"""A small deterministic incident world behind a fake `DatadogGateway`, for the LLM-role tests.

frontend → checkout → payments → payments-db, checkout → inventory. Twelve minutes before the
alert checkout is deployed and starts originating NullPointerExceptions. `volume` multiplies how
much telemetry every query returns (series, log lines, spans) without changing its shape, and
`injections` plants attacker-controlled text in logs, span errors, events and the alert.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sleuth.agents.concluder import OfflineConcluder
from sleuth.agents.context import gather
from sleuth.agents.planner import OfflinePlanner
from sleuth.agents.tester import OfflineTester
from sleuth.gateway.budget import CallBudget
from sleuth.gateway.records import LogRecord, Series, SpanRecord
from sleuth.models.alert import Alert
from sleuth.models.investigation import InvestigationContext
from sleuth.models.telemetry import ChangeEvent, MonitorInfo

ALERT_AT = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
INCIDENT_AT = ALERT_AT - timedelta(minutes=12)
CULPRIT = "checkout"
CALLS = [
    ("frontend", "checkout"),
    ("checkout", "payments"),
    ("payments", "payments-db"),
    ("checkout", "inventory"),
]
SERVICES = sorted({s for edge in CALLS for s in edge})
METRICS = [
    "trace.http.request.hits",
    "trace.http.request.errors",
    "trace.http.request.duration",
    "kubernetes.cpu.usage.total",
    "kubernetes.memory.usage",
]
# Ordinary log lines that carry PII: what redaction must remove before any model sees them.
INFO_LINES = [
    "GET /api/cart 200 in {n}ms user=alice.jones@example.com client=10.20.30.{m}",
    "POST /api/order 201 in {n}ms card=4111 1111 1111 1111 session ok",
    "cache refresh took {n}ms for tenant acme",
]
NPE = "NullPointerException in PromoService.apply order={n}"


@dataclass
class World:
    volume: int = 1
    injections: dict[str, list[str]] = field(default_factory=dict)  # where → texts

    def alert(self) -> Alert:
        extra = " ".join(self.injections.get("alert_message", []))
        title = " ".join(["[P1] High error rate on checkout", *self.injections.get("alert_title", [])])
        return Alert(
            delivery_id="d-1",
            alert_cycle_key="cycle-1",
            monitor_id="123",
            title=title,
            message=f"Error rate above threshold. Runbook: https://wiki.example.com/checkout {extra}".strip(),
            query="sum:trace.http.request.errors{service:checkout,env:prod}.as_count() > 50",
            scope="service:checkout,env:prod",
            tags=["service:checkout", "env:prod", *self.injections.get("alert_tags", [])],
            date=ALERT_AT,
        )

    def context(self) -> InvestigationContext:
        # Gathering reads a few thousand spans; the tests ask for the same worlds many times.
        key = (self.volume, json.dumps(self.injections, sort_keys=True))
        if key not in _CONTEXTS:
            _CONTEXTS[key] = gather(FakeGateway(self), self.alert(), ALERT_AT)  # type: ignore[arg-type]
        return _CONTEXTS[key].model_copy(deep=True)


_CONTEXTS: dict[tuple[int, str], InvestigationContext] = {}


class FakeGateway:
    """Answers like `DatadogGateway`, from the world; every call takes from the call budget."""

    def __init__(self, world: World, budget: int = 10_000) -> None:
        self.world = world
        self.budget = CallBudget(budget)
        self.queries: list[tuple[str, str]] = []
        self.raw_records = 0  # data points, log lines, spans and events handed out: the telemetry volume

    def _call(self, kind: str, query: str) -> None:
        self.budget.take()
        self.queries.append((kind, query))

    def get_monitor(self, monitor_id: str) -> MonitorInfo:
        self._call("monitor", monitor_id)
        a = self.world.alert()
        return MonitorInfo(id=monitor_id, name=a.title, query=a.query or "", message=a.message, tags=a.tags)

    def list_metrics(self, since: datetime, tag_filter: str | None = None) -> list[str]:
        self._call("list_metrics", tag_filter or "")
        return list(METRICS)

    def query_metrics(
        self, queries: list[str], start: datetime, end: datetime, interval_seconds: int = 60
    ) -> list[Series]:
        self._call("metrics", "; ".join(queries))
        out = []
        for q in queries:
            metric = q.split(":", 1)[-1].split("{", 1)[0]
            service = _service(q)
            times = _minutes(start, end)
            for g in range(self.world.volume):
                values = [_metric_value(metric, service, t, g) for t in times]
                out.append(
                    Series(
                        query=q,
                        scope=f"host:h{g}" if self.world.volume > 1 else "",
                        times=[t.timestamp() for t in times],
                        values=values,
                    )
                )
        self.raw_records += sum(len(s.values) for s in out)
        return out

    def search_logs(
        self, query: str, start: datetime, end: datetime, limit: int = 1000, max_pages: int = 3
    ) -> list[LogRecord]:
        self._call("logs", query)
        service, words, status = _service(query), _words(query), _status(query)
        out: list[LogRecord] = []
        for t in reversed(_minutes(start, end)):
            for svc in [service] if service else SERVICES:
                out += self._logs_at(svc, t)
        out = [
            r
            for r in out
            if (not status or r.status == status) and all(w in r.message.lower() for w in words)
        ]
        self.raw_records += len(out[:limit])
        return out[:limit]

    def count_logs(
        self, query: str, start: datetime, end: datetime, facet: str = "service", limit: int = 100
    ) -> dict[str, int]:
        self._call("logs_aggregate", query)
        service, words, status = _service(query), _words(query), _status(query)
        counts: Counter[str] = Counter()
        for t in _minutes(start, end):
            for svc in [service] if service else SERVICES:
                counts[svc] += sum(
                    1
                    for r in self._logs_at(svc, t)
                    if (not status or r.status == status) and all(w in r.message.lower() for w in words)
                )
        return {k: v for k, v in counts.most_common(limit) if v}

    def _logs_at(self, svc: str, t: datetime) -> list[LogRecord]:
        rng = random.Random(f"log{svc}{t.isoformat()}")
        recs = [
            LogRecord(
                timestamp=t.timestamp() + i,
                service=svc,
                status="info",
                message=rng.choice(INFO_LINES).format(n=rng.randint(5, 900), m=rng.randint(1, 250)),
            )
            for i in range(5 * self.world.volume)
        ]
        if svc == CULPRIT and t >= INCIDENT_AT:
            recs += [
                LogRecord(
                    timestamp=t.timestamp() + 30 + i,
                    service=svc,
                    status="error",
                    message=NPE.format(n=rng.randint(1000, 9999)),
                )
                for i in range(3 * self.world.volume)
            ]
            recs += [
                LogRecord(timestamp=t.timestamp() + 50, service=svc, status="error", message=m)
                for m in self.world.injections.get("logs", [])
            ]
        return recs

    def search_spans(
        self, query: str, start: datetime, end: datetime, limit: int = 5000, max_pages: int = 5
    ) -> list[SpanRecord]:
        self._call("spans", query)
        service = _service(query)
        out: list[SpanRecord] = []
        for t in _minutes(start, end):
            for k in range(4 * self.world.volume):
                out += [s for s in self._trace(t, k) if not service or s.service == service]
        self.raw_records += len(out[:limit])
        return out[:limit]

    def _trace(self, t: datetime, k: int) -> list[SpanRecord]:
        rng = random.Random(f"trace{t.isoformat()}{k}")
        tid = f"{int(t.timestamp())}{k:04d}"
        failing = t >= INCIDENT_AT and rng.random() < 0.3
        injected = self.world.injections.get("span_errors", [])
        start = t.timestamp() + k
        durations = {
            "frontend": 120.0,
            "checkout": 80.0,
            "payments": 40.0,
            "payments-db": 10.0,
            "inventory": 15.0,
        }
        spans = {
            "frontend": SpanRecord(
                trace_id=tid,
                span_id=f"{tid}-f",
                service="frontend",
                resource="GET /checkout",
                start=start,
                duration_ms=durations["frontend"] + rng.random(),
                error=failing,
            )
        }
        parents = {
            "checkout": "frontend",
            "payments": "checkout",
            "payments-db": "payments",
            "inventory": "checkout",
        }
        for svc in ("checkout", "payments", "payments-db", "inventory"):
            err = failing and svc == CULPRIT
            msg = (injected[k % len(injected)] if injected and k % 2 == 0 else NPE.format(n=k)) if err else ""
            spans[svc] = SpanRecord(
                trace_id=tid,
                span_id=f"{tid}-{svc}",
                parent_id=spans[parents[svc]].span_id,
                service=svc,
                resource=f"{svc}.handle",
                start=start + 0.001,
                duration_ms=durations[svc] + rng.random(),
                error=err,
                error_message=msg,
            )
        return list(spans.values())

    def search_events(
        self, query: str, start: datetime, end: datetime, limit: int = 100
    ) -> list[ChangeEvent]:
        self._call("events", query)
        service = _service(query)
        events = [
            ChangeEvent(
                id="ev-1",
                title="Deployed checkout v2.14.3",
                timestamp=INCIDENT_AT - timedelta(minutes=1),
                kind="deployment",
                service=CULPRIT,
                tags=["service:checkout", "source:deploy"],
            )
        ]
        events += [
            ChangeEvent(
                id=f"ev-x{i}",
                title=text,
                timestamp=ALERT_AT - timedelta(minutes=5),
                kind="other",
                service="payments",
                tags=["service:payments"],
            )
            for i, text in enumerate(self.world.injections.get("events", []))
        ]
        found = [e for e in events if start <= e.timestamp <= end and (not service or e.service == service)]
        self.raw_records += len(found)
        return found


def offline_roles() -> Any:
    class Offline:
        planner = OfflinePlanner()
        tester = OfflineTester()
        concluder = OfflineConcluder()

    return Offline()


def _minutes(start: datetime, end: datetime) -> list[datetime]:
    first = start.replace(second=0, microsecond=0) + (
        timedelta(minutes=1) if start.second or start.microsecond else timedelta()
    )
    n = max(0, int((end - first).total_seconds() // 60) + 1)
    return [first + timedelta(minutes=i) for i in range(n) if first + timedelta(minutes=i) <= end]


def _metric_value(metric: str, service: str, t: datetime, group: int) -> float:
    rng = random.Random(f"{metric}{service}{t.isoformat()}{group}")
    bad = service == CULPRIT and t >= INCIDENT_AT
    if metric.endswith(".errors"):
        return (30.0 if bad else 1.0) + rng.random()
    if metric.endswith(".duration"):
        return (0.26 if bad else 0.2) + rng.random() * 0.01
    if metric.endswith(".hits"):
        return 100.0 + rng.random() * 5
    if "cpu" in metric:
        return 0.4e9 + rng.random() * 1e7
    return 500e6 + rng.random() * 1e6


def _service(query: str) -> str:
    m = re.search(r"service:\"?([\w.-]+)", query)
    return m.group(1) if m else ""


def _status(query: str) -> str:
    m = re.search(r"status:(\w+)", query)
    return m.group(1) if m else ""


def _words(query: str) -> list[str]:
    return [
        w.lower()
        for w in re.findall(r"(?<![\w:])([A-Za-z]{3,})(?![\w:])", query)
        if w.upper() not in ("AND", "OR", "NOT")
    ]
