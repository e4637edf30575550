"""The simulated world's metric catalogue: every context (metric + tag set) and its buckets."""

from __future__ import annotations

import re
from collections import defaultdict
from fnmatch import fnmatchcase

import numpy as np

from sleuth.sandbox.protocol import PERCENTILES, MetricKind, RawSeries, TagMatcher, time_buckets
from sleuth.sandbox.sim.metric_values import Ctx, Family, States, Values
from sleuth.sandbox.sim.state import StateModel
from sleuth.sandbox.sim.topology import Topology

Z = {"p50": 0.0, "p75": 0.6745, "p90": 1.2816, "p95": 1.6449, "p99": 2.3263, "max": 3.09, "min": -2.33}
assert set(PERCENTILES) <= set(Z)
K8S_TYPES = {"web", "grpc", "worker", "cache", "queue"}


def norm_tag_value(value: str) -> str:
    """Datadog's tag normalisation: lower case, unsupported characters become underscores."""
    v = re.sub(r"[^a-z0-9_:./\-]", "_", value.lower())
    return re.sub(r"_+", "_", v).strip("_")


class MetricCatalog:
    def __init__(self, topo: Topology, model: StateModel) -> None:
        self.topo, self.model = topo, model
        self.v = Values(topo, model.fx)
        self.families: dict[str, Family] = {}
        self.contexts: dict[str, list[Ctx]] = defaultdict(list)
        self._build()

    # --- building --------------------------------------------------------------------------
    def _family(self, name: str, kind: MetricKind, unit: str | None, fn: object, dist: object = None) -> None:
        if name not in self.families:
            self.families[name] = Family(name, kind, unit, fn, dist)  # type: ignore[arg-type]

    def _ctx(self, metric: str, service: str, tags: list[str], **kw: object) -> None:
        if self._missing(metric, service):
            return
        self.contexts[metric].append(Ctx(metric, service, tuple(sorted(set(tags))), **kw))  # type: ignore[arg-type]

    def _missing(self, metric: str, service: str) -> bool:
        for m in self.topo.world.missing_metrics:
            if (m.service is None or m.service == service) and fnmatchcase(metric, m.metric):
                return True
        return False

    def _build(self) -> None:
        world = self.topo.world
        for node in self.topo.nodes.values():
            s = node.svc
            spans = list(zip(node.epochs, [e.start for e in node.epochs[1:]] + [float("inf")], strict=True))
            traced = s.instrumented and s.name not in world.untraced
            for epoch, end in spans:
                unified = self.topo.unified_tags(s.name, epoch.version)
                if traced:
                    self._apm(node.operation or "", s.name, unified, node.resources, epoch.start, end)
                if s.type in K8S_TYPES:
                    for r in range(s.replicas):
                        self._kube(s.name, self.topo.kube_tags(s.name, epoch, r), r, epoch.start, end)
            if s.type in K8S_TYPES:
                self._ksm(s.name)
            if s.type == "database":
                self._database(s.name)
            elif s.type == "cache":
                self._redis(s.name)
            elif s.type == "queue":
                self._kafka(s.name)

    def _apm(
        self, op: str, svc: str, unified: list[str], resources: list[str], start: float, end: float
    ) -> None:
        v = self.v
        self._family(f"trace.{op}.hits", "count", "hit", v.hits)
        self._family(f"trace.{op}.errors", "count", "error", v.errors)
        self._family(f"trace.{op}.duration", "gauge", "second", v.duration)
        self._family(f"trace.{op}", "distribution", "second", None, v.latency_dist)
        for r in resources:
            tags = [*unified, f"resource_name:{norm_tag_value(r)}", "span.kind:server"]
            for m in (f"trace.{op}.hits", f"trace.{op}.errors", f"trace.{op}.duration", f"trace.{op}"):
                self._ctx(m, svc, tags, start=start, end=end, other=r)
        for call in self.topo.nodes[svc].svc.calls:
            callee = self.topo.nodes[call.to]
            cop = callee.client_operation()
            tags = [*unified, f"peer.service:{call.to}", "span.kind:client"]
            if callee.svc.host:
                tags.append(f"peer.hostname:{callee.svc.host}")
            if callee.svc.type == "database":
                tags.append(
                    f"db.system:{'postgresql' if (callee.svc.engine or 'postgres') == 'postgres' else 'mysql'}"
                )
            self._family(f"trace.{cop}.hits", "count", "hit", v.client_hits)
            self._family(f"trace.{cop}.errors", "count", "error", v.client_errors)
            self._family(f"trace.{cop}.duration", "gauge", "second", v.client_duration)
            self._family(f"trace.{cop}", "distribution", "second", None, v.client_dist)
            for m in (f"trace.{cop}.hits", f"trace.{cop}.errors", f"trace.{cop}.duration", f"trace.{cop}"):
                self._ctx(m, svc, tags, start=start, end=end, other=call.to)

    def _kube(self, svc: str, tags: list[str], r: int, start: float, end: float) -> None:
        v = self.v
        table: list[tuple[str, str | None, object]] = [
            ("kubernetes.cpu.usage.total", "nanocore", v.cpu_nanocores),
            ("kubernetes.cpu.limits", "core", v.cpu_limit),
            ("kubernetes.cpu.requests", "core", v.cpu_requests),
            ("kubernetes.cpu.cfs.throttled.seconds", "second", v.throttled_seconds),
            ("container.cpu.usage", "nanocore", v.cpu_nanocores),
            ("container.cpu.throttled", "nanosecond", v.throttled_ns),
            ("kubernetes.memory.usage", "byte", v.mem_usage),
            ("kubernetes.memory.working_set", "byte", v.mem_working_set),
            ("kubernetes.memory.limits", "byte", v.mem_limit),
            ("kubernetes.memory.usage_pct", "fraction", v.mem_frac),
            ("container.memory.usage", "byte", v.mem_usage),
            ("container.memory.limit", "byte", v.mem_limit),
            ("kubernetes.containers.restarts", None, v.restarts),
            ("kubernetes.network.rx_bytes", "byte", v.rx_bytes),
            ("kubernetes.network.tx_bytes", "byte", v.tx_bytes),
            ("kubernetes.network.rx_errors", "error", v.net_errors),
            ("kubernetes.network.tx_errors", "error", v.net_errors),
            ("kubernetes.network.rx_dropped", "packet", v.net_errors),
            ("kubernetes.network.tx_dropped", "packet", v.net_errors),
        ]
        for name, unit, fn in table:
            self._family(name, "gauge", unit, fn)
            self._ctx(name, svc, tags, start=start, end=end, replica=r)
        fx = self.model.fx
        if fx.on(svc) and fx.kind == "memory_pressure":
            self._family("kubernetes.containers.last_state.terminated", "gauge", None, v.oomkilled)
            self._ctx(
                "kubernetes.containers.last_state.terminated",
                svc,
                [*tags, "reason:oomkilled"],
                start=start,
                end=end,
                replica=r,
            )
        if self.topo.nodes[svc].svc.type in {"cache", "queue"}:
            self._family("system.disk.in_use", "gauge", "fraction", v.disk_in_use)
            self._ctx(
                "system.disk.in_use", svc, [*tags, "device:/dev/nvme1n1"], start=start, end=end, replica=r
            )

    def _ksm(self, svc: str) -> None:
        s = self.topo.nodes[svc].svc
        kind = "kube_stateful_set" if s.type in {"cache", "queue"} else "kube_deployment"
        prefix = (
            "kubernetes_state.statefulset" if kind == "kube_stateful_set" else "kubernetes_state.deployment"
        )
        tags = [
            f"env:{self.topo.world.env}",
            f"service:{svc}",
            f"{kind}:{svc}",
            f"kube_namespace:{self.topo.world.namespace}",
            f"kube_cluster_name:{self.topo.world.cluster}",
        ]
        avail = f"{prefix}.replicas_ready" if kind == "kube_stateful_set" else f"{prefix}.replicas_available"
        self._family(f"{prefix}.replicas_desired", "gauge", None, self.v.replicas_desired)
        self._family(avail, "gauge", None, self.v.replicas_available)
        self._ctx(f"{prefix}.replicas_desired", svc, tags)
        self._ctx(avail, svc, tags)

    def _database(self, svc: str) -> None:
        v, node = self.v, self.topo.nodes[svc]
        engine = node.svc.engine or "postgres"
        if engine == "mysql":
            table: list[tuple[str, str | None, object]] = [
                ("mysql.performance.threads_connected", "connection", v.db_connections),
                ("mysql.net.max_connections", "connection", v.db_max_connections),
                ("mysql.innodb.row_lock_waits", "event", v.db_locks),
                ("mysql.innodb.row_lock_time", "millisecond", v.db_waiting),
                ("mysql.performance.slow_queries", "query", v.db_deadlocks),
                ("mysql.performance.queries", "query", v.db_rows),
                ("mysql.performance.com_insert", "query", v.db_commits),
            ]
        else:
            table = [
                ("postgresql.connections", "connection", v.db_connections),
                ("postgresql.max_connections", "connection", v.db_max_connections),
                ("postgresql.percent_usage_connections", "fraction", v.db_pct_connections),
                ("postgresql.locks", "lock", v.db_locks),
                ("postgresql.deadlocks", "lock", v.db_deadlocks),
                ("postgresql.waiting_queries", None, v.db_waiting),
                ("postgresql.active_queries", None, v.db_active),
                ("postgresql.rows_fetched", "row", v.db_rows),
                ("postgresql.commits", "transaction", v.db_commits),
                ("postgresql.rollbacks", "transaction", v.db_rollbacks),
                ("postgresql.database_size", "byte", v.db_size),
            ]
        table += [
            ("system.cpu.user", "percent", v.host_cpu_pct),
            ("system.disk.in_use", "fraction", v.disk_in_use),
            ("system.mem.pct_usable", "fraction", v.host_mem_usable),
        ]
        db = svc.replace("-", "_").removesuffix("_db")
        for r, host in enumerate(node.hosts):
            tags = [
                f"env:{self.topo.world.env}",
                f"service:{svc}",
                f"host:{host}",
                f"db:{db}",
                f"role:{'primary' if r == 0 else 'replica'}",
                f"team:{node.svc.team}",
            ]
            for name, unit, fn in table:
                self._family(name, "gauge", unit, fn)
                extra = ["device:/dev/nvme1n1"] if name == "system.disk.in_use" else []
                self._ctx(name, svc, tags + extra, replica=r)

    def _redis(self, svc: str) -> None:
        v, node = self.v, self.topo.nodes[svc]
        table: list[tuple[str, str | None, object]] = [
            ("redis.net.clients", "connection", v.redis_clients),
            ("redis.net.rejected_conn", "connection", v.redis_rejected),
            ("redis.info.latency_ms", "millisecond", v.self_latency_ms),
            ("redis.mem.used", "byte", v.redis_mem),
            ("redis.keys.evicted", "key", v.redis_evicted),
            ("redis.net.commands", "command", v.per_replica_load),
            ("redis.stats.keyspace_hits", "key", v.hit_ratio_hits),
            ("redis.stats.keyspace_misses", "key", v.hit_ratio_misses),
        ]
        for r in range(node.svc.replicas):
            tags = [
                *self.topo.kube_tags(svc, node.epochs[0], r),
                f"redis_role:{'master' if r == 0 else 'slave'}",
            ]
            for name, unit, fn in table:
                self._family(name, "gauge", unit, fn)
                self._ctx(name, svc, tags, replica=r)

    def _kafka(self, svc: str) -> None:
        v, node = self.v, self.topo.nodes[svc]
        table: list[tuple[str, str | None, object]] = [
            ("kafka.messages_in.rate", "message", v.per_replica_load),
            ("kafka.request.produce.failed.rate", "request", v.failed_load),
            ("kafka.replication.under_replicated_partitions", None, v.under_replicated),
        ]
        for r in range(node.svc.replicas):
            tags = self.topo.kube_tags(svc, node.epochs[0], r)
            for name, unit, fn in table:
                self._family(name, "gauge", unit, fn)
                self._ctx(name, svc, tags, replica=r)
        topic = node.svc.topic or svc
        for consumer in self.topo.nodes.values():
            if consumer.svc.consumes == svc:
                self._family("kafka.consumer_lag", "gauge", "offset", v.consumer_lag)
                tags = [
                    f"env:{self.topo.world.env}",
                    f"service:{consumer.name}",
                    f"consumer_group:{consumer.name}",
                    f"topic:{topic}",
                    f"kafka_cluster:{svc}",
                ]
                self._ctx("kafka.consumer_lag", consumer.name, tags, other=consumer.name)

    # --- reading ---------------------------------------------------------------------------
    def names(self, start: float, end: float, match: TagMatcher | None) -> list[str]:
        out = []
        for metric, ctxs in self.contexts.items():
            if any(c.start < end and c.end > start and (match is None or match(c.tags)) for c in ctxs):
                out.append(metric)
        return sorted(out)

    def series(
        self, metric: str, start: float, end: float, interval: float, match: TagMatcher | None
    ) -> tuple[np.ndarray, list[RawSeries]]:
        buckets = time_buckets(start, end, interval)
        b0, nb = float(buckets[0]), len(buckets)
        fam = self.families.get(metric)
        ctxs = [
            c
            for c in self.contexts.get(metric, [])
            if c.start < end and c.end > b0 and (match is None or match(c.tags))
        ]
        if fam is None or not ctxs:
            return buckets, []
        t, states = self.model.window(b0, end)
        idx = np.floor((t - b0) / interval).astype(np.int64)
        out = []
        for ctx in ctxs:
            valid = (t >= ctx.start) & (t < ctx.end)
            if (
                valid.any()
            ):  # values are computed over the whole window, then points outside the context dropped
                out.append(self._bucket(fam, ctx, t, idx, states, nb, valid))
        return buckets, out

    def _bucket(
        self,
        fam: Family,
        ctx: Ctx,
        t: np.ndarray,
        idx_all: np.ndarray,
        states: States,
        nb: int,
        valid: np.ndarray,
    ) -> RawSeries:
        idx = idx_all[valid]
        n = np.bincount(idx, minlength=nb).astype(np.float64)
        empty = n == 0
        if fam.kind == "distribution":
            assert fam.dist is not None
            mean, sigma, weight = (np.broadcast_to(x, t.shape)[valid] for x in fam.dist(ctx, t, states))
            w = np.bincount(idx, weights=weight, minlength=nb)
            safe = np.where(w > 0, w, 1.0)
            median = mean / np.exp(sigma**2 / 2.0)
            pct = {}
            for name, z in Z.items():
                pct[name] = _nan(
                    np.bincount(idx, weights=median * np.exp(z * sigma) * weight, minlength=nb) / safe, w <= 0
                )
            avg = _nan(np.bincount(idx, weights=mean * weight, minlength=nb) / safe, w <= 0)
            return RawSeries(fam.name, ctx.tags, "distribution", avg, fam.unit, pct, _nan(w, empty))
        assert fam.value is not None
        values = np.broadcast_to(fam.value(ctx, t, states), t.shape)[valid]
        total = np.bincount(idx, weights=values, minlength=nb)
        if fam.kind == "count":
            return RawSeries(fam.name, ctx.tags, "count", _nan(total, empty), fam.unit)
        return RawSeries(fam.name, ctx.tags, fam.kind, _nan(total / np.where(empty, 1.0, n), empty), fam.unit)


def _nan(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64, copy=True)
    x[mask] = np.nan
    return x
