"""A declarative catalogue: which public metric names carry which signal, and what each kind needs.

Metric names are matched by Datadog's public integration conventions (APM trace metrics,
Kubernetes, container, host, database integrations), never by a particular environment's names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sleuth.models.common import RootCauseKind
from sleuth.models.telemetry import SpanSummary


@dataclass(frozen=True)
class SignalRule:
    signal: str
    pattern: re.Pattern[str]
    aggregator: str = "avg"
    direction: int = 1  # +1: a rise is bad; -1: a fall is bad


def _r(p: str) -> re.Pattern[str]:
    return re.compile(p, re.I)


# First match wins, so the specific rules come before the generic ones.
RULES: list[SignalRule] = [
    SignalRule("hits", _r(r"^trace\.[\w.]+\.hits$"), "sum"),
    SignalRule("errors", _r(r"^trace\.[\w.]+\.errors$"), "sum"),
    SignalRule("latency", _r(r"^trace\.[\w.]+\.duration$")),
    SignalRule("restarts", _r(r"(restarts?|oom_?kill|oomkilled)"), "max"),
    SignalRule("cpu_throttle", _r(r"cpu\.(throttled|cfs\.throttled)")),
    SignalRule("cpu_limit", _r(r"cpu\.limits?$")),
    SignalRule("cpu", _r(r"(^|\.)cpu\.(usage(\.total)?|user|system|utilization|pct)$|^system\.cpu\.user$")),
    SignalRule("memory_limit", _r(r"mem(ory)?\.limits?$")),
    SignalRule("memory", _r(r"(^|\.)mem(ory)?\.(usage|rss|working_set|used|pct_usable|utilization)$")),
    SignalRule("disk", _r(r"(disk|fs|filesystem)\.(in_use|used|utilization|usage)$|disk\.in_use")),
    SignalRule("disk_io", _r(r"(disk|io)\.(await|util|w_await)")),
    SignalRule("net_errors", _r(r"(net(work)?|tcp)\.(\w+_)?(errors|retrans\w*|drops?|dropped)$")),
    SignalRule("net_latency", _r(r"(net(work)?|tcp)\.(rtt|latency|srtt)")),
    SignalRule(
        "db_connections",
        _r(r"^(postgresql|mysql|mongodb|cassandra|db)\.[\w.]*(connections?|clients|threads_connected)"),
    ),
    SignalRule("db_locks", _r(r"^(postgresql|mysql|mongodb|db)\.[\w.]*(locks?|deadlocks|lock_waits)")),
    SignalRule(
        "db_latency",
        _r(r"^(postgresql|mysql|mongodb|cassandra|db)\.[\w.]*(latency|duration|time|slow_queries)"),
    ),
    SignalRule(
        "cache_health",
        _r(r"^(redis|memcached?)\.[\w.]*(latency|clients|evicted|rejected|blocked|connections?)"),
    ),
    SignalRule("queue_lag", _r(r"^(kafka|rabbitmq|sqs|queue)\.[\w.]*(lag|depth|messages|backlog)")),
]

RESOURCE_LIMITS = {"cpu": "cpu_limit", "memory": "memory_limit"}

# What a hypothesis of each kind must show in the service itself; the first is the primary signal.
KIND_SIGNALS: dict[RootCauseKind, tuple[str, ...]] = {
    "cpu_saturation": ("cpu", "cpu_throttle", "self_latency"),
    "memory_pressure": ("memory", "restarts", "oom_logs"),
    "disk_pressure": ("disk", "disk_io", "disk_logs"),
    "network": ("net_errors", "net_latency", "edge_latency_in"),
    "database": ("db_latency", "db_connections", "db_locks", "self_latency", "originated_errors"),
    "dependency_failure": (
        "originated_errors",
        "queue_lag",
        "cache_health",
        "self_latency",
        "new_log_patterns",
    ),
    "code_error": (
        "originated_errors",
        "unexplained_errors",
        "ends_callers",
        "explains_errors",
        "answer_passed_on",
        "new_log_patterns",
        "fanout_change",
        "named_in_errors",
        "errors",
    ),
    "deployment": ("deployment_event", "originated_errors", "new_log_patterns", "self_latency"),
    "config_change": ("config_event", "originated_errors", "new_log_patterns", "self_latency"),
    "traffic_surge": ("hits",),
    "external_dependency": ("external_errors", "external_latency"),
    "unknown": (),
}

DATABASE_WORDS = _r(r"(postgres|mysql|maria|mongo|sql|cassandra|dynamo|oracle|db\b|database|\bdb-|-db\b)")
CACHE_QUEUE_WORDS = _r(r"(redis|memcache|cache|kafka|rabbit|queue|sqs|nats|pubsub|broker)")


PEER_TYPES = {
    "database": _r(
        r"^(sql|db|postgres\w*|mysql|mariadb|mongo\w*|cassandra|dynamodb|oracle|mssql|elasticsearch)$"
    ),
    "cache": _r(r"^(redis|memcached?|cache)$"),
    "queue": _r(r"^(queue|kafka|rabbitmq|sqs|sns|pubsub|nats|amqp)$"),
}


def service_role(service: str, summary: SpanSummary | None) -> str:
    """database | cache | queue | external | service — from how callers' exit spans describe it, then its name."""
    if summary is not None:
        row = next((r for r in summary.services if r.service == service), None)
        types = [e.callee_type for e in summary.edges if e.callee == service and e.callee_type]
        for role, pattern in PEER_TYPES.items():
            if any(pattern.search(t) for t in types):
                return role
        hosts = [e.callee_host for e in summary.edges if e.callee == service and e.callee_host]
        if row is not None and not row.instrumented and any(public_host(h) for h in hosts):
            return "external"
    if DATABASE_WORDS.search(service):
        return "database"
    if CACHE_QUEUE_WORDS.search(service):
        return "cache"
    return "service"


_INTERNAL_SUFFIX = re.compile(r"(\.svc|\.local|\.internal|\.cluster|\.lan|\.corp|\.consul)$", re.I)
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def public_host(host: str) -> bool:
    """api.stripe.com is someone else's; payments.default.svc.cluster.local and bare names are ours."""
    host = host.strip().lower()
    return "." in host and not _INTERNAL_SUFFIX.search(host) and not _IP.match(host)


def observed_only_from_outside(service: str, summary: SpanSummary | None) -> bool:
    """Seen only through its callers' exit spans: we can tell that it fails, not why."""
    if summary is None:
        return False
    row = next((r for r in summary.services if r.service == service), None)
    return row is not None and not row.instrumented


def metric_of(query: str) -> str:
    """`avg:trace.http.request.errors{service:web}` → `trace.http.request.errors`."""
    return query.split(":", 1)[-1].split("{", 1)[0]


def classify_metric(name: str) -> SignalRule | None:
    for rule in RULES:
        if rule.pattern.search(name):
            return rule
    return None


def pick_metrics(names: list[str], per_signal: int = 2) -> dict[str, list[str]]:
    """Group a service's active metrics by signal, keeping a few of each (servers before clients)."""
    out: dict[str, list[str]] = {}
    for name in sorted(names, key=_metric_priority):
        rule = classify_metric(name)
        if rule is None:
            continue
        bucket = out.setdefault(rule.signal, [])
        if len(bucket) < per_signal:
            bucket.append(name)
    return out


def _metric_priority(name: str) -> tuple[int, str]:
    client = bool(re.search(r"\.(client|query|request\.out|outbound)\b", name, re.I))
    return (1 if client else 0, name)


def aggregator_for(signal: str) -> str:
    for rule in RULES:
        if rule.signal == signal:
            return rule.aggregator
    return "avg"


def count_floor(query: str) -> float:
    """Error counts are small integers: a spread below one a minute is not a spread (APM error
    counts are per interval, packet errors and drops per second)."""
    rule = classify_metric(metric_of(query))
    if rule is None:
        return 0.0
    return {"errors": 1.0, "net_errors": 1.0 / 60.0}.get(rule.signal, 0.0)
