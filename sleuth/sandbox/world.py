"""The declarative spec of a simulated incident world (what `worlds/<name>/world.json` holds).

A world describes a system at rest (services, call graph, baseline behaviour, log templates),
the change events that happened around the incident, the monitor that fires, and the fault
that was injected. It never says which change caused what: the ground truth lives apart, for evaluation only.
Defaults keep the JSON short; everything is validated on load.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sleuth.models.common import RootCauseKind

ServiceType = Literal["web", "grpc", "worker", "database", "cache", "queue", "external"]
INSTRUMENTED: frozenset[str] = frozenset({"web", "grpc", "worker"})  # run a tracer and emit server spans
STATEFUL: frozenset[str] = frozenset({"database", "cache", "queue"})

MIN_SERVICES, MAX_SERVICES = 10, 40


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Call(_Strict):
    to: str
    fanout: float = Field(1.0, gt=0, le=8)  # calls per incoming request
    propagation: float | None = Field(None, ge=0, le=1)  # chance a failing callee fails the caller
    timeout_ms: float | None = None


class LogTemplate(_Strict):
    """A log line with `{placeholders}` filled per line (see sim/text.py for the vocabulary)."""

    message: str
    status: Literal["debug", "info", "warn", "error"] = "info"
    weight: float = 1.0
    error_type: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class Service(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_.-]{1,60}$")
    type: ServiceType
    team: str = "platform"
    language: Literal["go", "java", "python", "node", "ruby", "dotnet"] = "go"
    engine: str | None = None  # database: postgres|mysql, cache: redis, queue: kafka, external: vendor
    host: str | None = None  # external: the host its clients call (api.stripe.com)
    calls: list[Call] = Field(default_factory=list)
    consumes: str | None = None  # worker: the queue it consumes from
    topic: str | None = None  # queue: the topic producers write and consumers read
    rps: float = 0.0  # own load (entry traffic, or consumption rate for workers), at the daily mean
    latency_ms: float = 20.0  # median self time of a request
    latency_sigma: float = Field(0.45, gt=0, le=2)
    error_rate: float = Field(0.0005, ge=0, le=1)
    replicas: int = Field(3, ge=1, le=12)
    cpu_limit: float = 1.0  # cores per container
    cpu_util: float = Field(0.3, gt=0, le=0.95)  # fraction of the limit used at the daily mean load
    memory_limit_mib: int = 1024
    memory_util: float = Field(0.5, gt=0, le=0.95)
    disk_util: float = Field(0.45, gt=0, le=0.95)  # stateful services only
    version: str = "1.0.0"
    resources: list[str] = Field(default_factory=list)  # endpoints; generated from the type when empty
    log_rate: float = 4.0  # info lines per minute at the daily mean load
    logs: list[LogTemplate] = Field(default_factory=list)
    noisy: bool = False  # a chatty service: warn/error lines at a steady high rate, healthy all along
    periodic_spike_min: float | None = None  # a batch job every N minutes: cpu and latency bumps

    @field_validator("calls", mode="before")
    @classmethod
    def _short_calls(cls, v: Any) -> Any:
        return [{"to": c} if isinstance(c, str) else c for c in (v or [])]

    @model_validator(mode="after")
    def _capacity(self) -> Service:
        # shared infrastructure is sized with more headroom than application pods
        if "cpu_util" not in self.model_fields_set:
            self.cpu_util = {"database": 0.22, "cache": 0.15, "queue": 0.2}.get(self.type, self.cpu_util)
        return self

    @property
    def instrumented(self) -> bool:
        return self.type in INSTRUMENTED


class ChangeSpec(_Strict):
    """A change event around the incident: a deploy, a config or feature-flag change."""

    at_min: float  # minutes relative to the alert (negative: before)
    kind: Literal["deployment", "config_change"]
    service: str
    version: str | None = None  # deployment: the version rolled out
    source: str = "github"  # the tool that reported it: github, argocd, jenkins, launchdarkly, kubernetes...
    author: str = "ci-bot"
    resource: str | None = None  # config_change: the flag or config object
    resource_type: Literal["feature_flag", "configuration"] = "configuration"
    prev_value: str | None = None
    new_value: str | None = None
    commit: str | None = None


class Signature(_Strict):
    """A new error the fault makes the root service log and put on its error spans."""

    message: str
    error_type: str = "Error"
    stack: str | None = None


class Fault(_Strict):
    service: str
    kind: RootCauseKind
    onset_min: float = Field(-6.0, le=0)  # minutes relative to the alert when symptoms begin
    ramp_min: float = Field(1.0, ge=0)
    magnitude: float = Field(1.0, gt=0, le=5)
    error_rate: float | None = Field(None, ge=0, le=1)  # extra self error rate at full effect
    latency_factor: float | None = Field(None, ge=1)  # self-time multiplier at full effect
    resources: list[str] = Field(default_factory=list)  # endpoints affected (all when empty)
    signatures: list[Signature] = Field(default_factory=list)
    propagation: float = Field(0.8, ge=0, le=1)


class MonitorSpec(_Strict):
    id: int
    name: str
    type: Literal["metric alert", "query alert"] = "query alert"
    query: str
    message: str
    tags: list[str] = Field(default_factory=list)
    priority: int | None = Field(2, ge=1, le=5)
    warning: float | None = None


class MissingMetric(_Strict):
    """Telemetry gaps that exist in real accounts: an integration not installed, a pod without labels."""

    metric: str  # exact name, or a prefix ending in '*'
    service: str | None = None  # None: missing for every service


class World(_Strict):
    name: str
    domain: str = ""
    seed: int = 1
    env: str = "prod"
    org: str = "acme"
    cluster: str = "prod-us-east-1"
    namespace: str = "default"
    tz_offset_h: float = -5.0  # where the users are: shapes the daily traffic curve
    traces_per_min: float = Field(6.0, gt=0, le=60)
    services: list[Service]
    changes: list[ChangeSpec] = Field(default_factory=list)
    fault: Fault
    monitor: MonitorSpec
    missing_metrics: list[MissingMetric] = Field(default_factory=list)
    unindexed_logs: list[str] = Field(default_factory=list)  # services whose logs are excluded from indexes
    untraced: list[str] = Field(default_factory=list)  # instrumented-looking services with no APM

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.services]

    @model_validator(mode="after")
    def _check(self) -> World:
        names = self.names
        if len(set(names)) != len(names):
            raise ValueError("duplicate service names")
        if not MIN_SERVICES <= len(names) <= MAX_SERVICES:
            raise ValueError(f"a world has {MIN_SERVICES}..{MAX_SERVICES} services, not {len(names)}")
        known = set(names)
        for s in self.services:
            for c in s.calls:
                if c.to not in known:
                    raise ValueError(f"{s.name} calls unknown service {c.to}")
                if c.to == s.name:
                    raise ValueError(f"{s.name} calls itself")
            if s.type in {"database", "cache", "queue", "external"} and s.calls:
                raise ValueError(f"{s.name}: a {s.type} makes no calls")
            if s.consumes and (s.type != "worker" or self.service(s.consumes).type != "queue"):
                raise ValueError(f"{s.name}: only workers consume, and only from queues")
            if s.type == "external" and not s.host:
                raise ValueError(f"external {s.name} needs a host")
        _check_acyclic(self.services)
        for ch in self.changes:
            if ch.service not in known:
                raise ValueError(f"change for unknown service {ch.service}")
            if ch.kind == "deployment" and not ch.version:
                raise ValueError("a deployment change needs a version")
            if ch.kind == "config_change" and not ch.resource:
                raise ValueError("a config change needs a resource")
        for name in [*self.unindexed_logs, *self.untraced]:
            if name not in known:
                raise ValueError(f"unknown service {name}")
        self._check_fault(known)
        return self

    def _check_fault(self, known: set[str]) -> None:
        f = self.fault
        if f.service not in known:
            raise ValueError(f"fault on unknown service {f.service}")
        target = self.service(f.service)
        needs = {
            "external_dependency": {"external"},
            "database": {"database"},
            "disk_pressure": {"database", "queue", "cache"},
            "dependency_failure": {"cache", "queue", "grpc", "web"},
            "traffic_surge": {"web", "grpc"},
        }.get(f.kind)
        if needs and target.type not in needs:
            raise ValueError(
                f"a {f.kind} fault needs a {sorted(needs)} service, {f.service} is {target.type}"
            )
        if f.kind == "traffic_surge" and target.rps <= 0:
            raise ValueError("a traffic surge hits a service with entry traffic")
        if f.kind in {"deployment", "config_change"}:
            window = (f.onset_min - 20, f.onset_min + 0.01)
            if not any(
                c.kind == f.kind and c.service == f.service and window[0] <= c.at_min <= window[1]
                for c in self.changes
            ):
                raise ValueError(f"a {f.kind} fault needs a matching change shortly before its onset")
        if not any(f"service:{n}" in self.monitor.query for n in known):
            raise ValueError("the monitor must watch a service of the world")


def _check_acyclic(services: list[Service]) -> None:
    edges = {s.name: [c.to for c in s.calls] for s in services}
    indeg = {n: 0 for n in edges}
    for outs in edges.values():
        for o in outs:
            indeg[o] += 1
    queue = deque(n for n, d in indeg.items() if d == 0)
    seen = 0
    while queue:
        n = queue.popleft()
        seen += 1
        for o in edges[n]:
            indeg[o] -= 1
            if indeg[o] == 0:
                queue.append(o)
    if seen != len(edges):
        raise ValueError("the call graph has a cycle")
