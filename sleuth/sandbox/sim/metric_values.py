"""Which metrics each kind of service reports, with which tags, and their values from its state.

Names, units and tags follow Datadog's public conventions: APM trace metrics, the kubelet and
container checks, kube-state-metrics, and the postgres/mysql/redis/kafka integrations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sleuth.sandbox.protocol import MetricKind
from sleuth.sandbox.sim.effects import Effects
from sleuth.sandbox.sim.noise import STEP, key, wobble
from sleuth.sandbox.sim.state import ServiceState
from sleuth.sandbox.sim.topology import Topology

MIB = 1024.0 * 1024.0
_RES_MULT = [1.0, 1.5, 0.7, 1.2, 0.9, 1.1]


@dataclass(frozen=True)
class Ctx:
    metric: str
    service: str
    tags: tuple[str, ...]
    start: float = float("-inf")  # the context reports in [start, end)
    end: float = float("inf")
    replica: int = 0
    other: str = ""  # the resource of a server metric, the peer of a client metric


States = dict[str, ServiceState]
ValueFn = Callable[[Ctx, np.ndarray, States], np.ndarray]
DistFn = Callable[[Ctx, np.ndarray, States], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class Family:
    name: str
    kind: MetricKind
    unit: str | None
    value: ValueFn | None = None
    dist: DistFn | None = None  # (mean seconds, log-normal sigma, weight per base point)


class Values:
    """Value functions; each is vectorised over base points of one context."""

    def __init__(self, topo: Topology, fx: Effects) -> None:
        self.topo, self.fx, self.seed = topo, fx, topo.world.seed

    def jitter(self, ctx: Ctx, t: np.ndarray, amount: float) -> np.ndarray:
        return wobble(key(self.seed, ctx.metric, ctx.tags), t, amount)

    def res_weight(self, ctx: Ctx) -> tuple[float, float]:
        node = self.topo.nodes[ctx.service]
        i = node.resources.index(ctx.other)
        norm = sum(w * _RES_MULT[j % 6] for j, w in enumerate(node.weights))
        return node.weights[i], _RES_MULT[i % 6] / norm

    def res_err(self, ctx: Ctx, t: np.ndarray, st: ServiceState) -> np.ndarray:
        extra = self.fx.endpoint_error(ctx.service, ctx.other, t) - self.fx.self_error(ctx.service, t)
        return np.clip(st.err + extra, 0.0, 1.0)

    # --- APM, server side -----------------------------------------------------------------
    def hits(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        w, _ = self.res_weight(ctx)
        return s[ctx.service].load * w * STEP * self.jitter(ctx, t, 0.03)

    def errors(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.hits(ctx, t, s) * self.res_err(ctx, t, s[ctx.service])

    def duration(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        _, m = self.res_weight(ctx)
        return s[ctx.service].lat * m / 1000.0 * self.jitter(ctx, t, 0.02)

    def latency_dist(self, ctx: Ctx, t: np.ndarray, s: States) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.duration(ctx, t, s), s[ctx.service].sigma, self.hits(ctx, t, s)

    # --- APM, client side (caller's spans to a peer) --------------------------------------
    def client_hits(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        call = next(c for c in self.topo.nodes[ctx.service].svc.calls if c.to == ctx.other)
        return s[ctx.service].load * call.fanout * STEP * self.jitter(ctx, t, 0.03)

    def client_errors(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.client_hits(ctx, t, s) * s[ctx.service].callee_fail[ctx.other]

    def client_duration(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return s[ctx.service].callee_lat[ctx.other] / 1000.0 * self.jitter(ctx, t, 0.02)

    def client_dist(self, ctx: Ctx, t: np.ndarray, s: States) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.client_duration(ctx, t, s), s[ctx.other].sigma, self.client_hits(ctx, t, s)

    # --- containers -----------------------------------------------------------------------
    def cpu_frac(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return np.minimum(
            s[ctx.service].cpu_demand * self.jitter(ctx, t, 0.04), 1.0 + 0.01 * self.jitter(ctx, t, 1.0)
        )

    def cpu_nanocores(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.cpu_frac(ctx, t, s) * self.topo.nodes[ctx.service].svc.cpu_limit * 1e9

    def cpu_limit(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return np.full_like(t, self.topo.nodes[ctx.service].svc.cpu_limit)

    def cpu_requests(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.cpu_limit(ctx, t, s) * 0.5

    def throttled_seconds(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        over = np.clip((s[ctx.service].cpu_demand - 0.85) / 0.35, 0.0, 1.0)
        return (0.002 + 0.8 * over) * self.jitter(ctx, t, 0.1)

    def throttled_ns(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.throttled_seconds(ctx, t, s) * 1e9

    def mem_frac(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        svc = self.topo.nodes[ctx.service].svc
        pod = self.fx.pod_memory(ctx.service, ctx.replica, svc.memory_util, t)
        if not (self.fx.on(ctx.service) and self.fx.kind == "memory_pressure"):
            pod = s[ctx.service].mem
        return np.minimum(pod * self.jitter(ctx, t, 0.01), 0.999)

    def mem_limit(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return np.full_like(t, self.topo.nodes[ctx.service].svc.memory_limit_mib * MIB)

    def mem_working_set(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.mem_frac(ctx, t, s) * self.mem_limit(ctx, t, s)

    def mem_usage(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.mem_working_set(ctx, t, s) * 1.07

    def restarts(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        historical = float(key(self.seed, ctx.tags, "restarts") % 3 == 0)
        return historical + self.fx.pod_restarts(ctx.service, ctx.replica, t)

    def oomkilled(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return (self.fx.pod_restarts(ctx.service, ctx.replica, t) > 0).astype(np.float64)

    def rx_bytes(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        svc = self.topo.nodes[ctx.service].svc
        return (s[ctx.service].load / svc.replicas * 2200.0 + 900.0) * self.jitter(ctx, t, 0.08)

    def tx_bytes(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.rx_bytes(ctx, t, s) * 3.1

    def net_errors(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        base = 0.02 * np.maximum(self.jitter(ctx, t, 1.5) - 1.0, 0.0)
        return base + self.fx.network_errors(ctx.service, t) * self.jitter(ctx, t, 0.3)

    def replicas_desired(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return np.full_like(t, float(self.topo.nodes[ctx.service].svc.replicas))

    def replicas_available(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        n = self.topo.nodes[ctx.service].svc.replicas
        return np.round(n * (1.0 - s[ctx.service].unavailable))

    def disk_in_use(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return np.minimum(s[ctx.service].disk * self.jitter(ctx, t, 0.002), 0.999)

    # --- databases, caches, queues ----------------------------------------------------------
    def _ratio(self, ctx: Ctx, s: States) -> np.ndarray:
        node = self.topo.nodes[ctx.service]
        share = 1.0 if ctx.replica == 0 else 0.3
        return share * s[ctx.service].load / max(node.base_load, 1e-6)

    def db_fault(self, ctx: Ctx, s: States) -> np.ndarray:
        on = self.fx.kind == "database" and ctx.replica == 0
        return s[ctx.service].fault if on else np.zeros_like(s[ctx.service].fault)

    def db_connections(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        base = 55.0 * self._ratio(ctx, s) ** 0.5 * self.jitter(ctx, t, 0.05)
        return np.minimum(base + (196.0 - base) * self.db_fault(ctx, s), 197.0)

    def db_max_connections(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return np.full_like(t, 200.0)

    def db_pct_connections(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.db_connections(ctx, t, s) / 200.0

    def db_locks(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return (
            (14.0 * self._ratio(ctx, s) + 2.0)
            * self.jitter(ctx, t, 0.15)
            * (1.0 + 11.0 * self.db_fault(ctx, s))
        )

    def db_deadlocks(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return 0.35 * self.db_fault(ctx, s) * self.jitter(ctx, t, 0.5)

    def db_waiting(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return np.round(
            0.3 * self.jitter(ctx, t, 0.8) + 38.0 * self.db_fault(ctx, s) * self.jitter(ctx, t, 0.2)
        )

    def db_active(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        st = s[ctx.service]
        return np.maximum(1.0, self._ratio(ctx, s) * self.topo.nodes[ctx.service].base_load * st.lat / 1000.0)

    def db_rows(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return s[ctx.service].load * 40.0 * (1.0 if ctx.replica == 0 else 0.3) * self.jitter(ctx, t, 0.1)

    def db_commits(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return s[ctx.service].load * 0.45 * self.jitter(ctx, t, 0.08) * (1.0 if ctx.replica == 0 else 0.0)

    def db_rollbacks(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return s[ctx.service].load * s[ctx.service].err * (1.0 if ctx.replica == 0 else 0.0)

    def db_size(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return (40e9 + 1e9 * (key(self.seed, ctx.service) % 50)) * (1.0 + (t - self.topo.anchor) / 8.64e7)

    def host_cpu_pct(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return np.minimum(self.cpu_frac(ctx, t, s) * 100.0 * (1.0 if ctx.replica == 0 else 0.4), 100.0)

    def host_mem_usable(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return 1.0 - self.mem_frac(ctx, t, s)

    def self_latency_ms(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return s[ctx.service].self_med * self.jitter(ctx, t, 0.05)

    def per_replica_load(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        n = self.topo.nodes[ctx.service].svc.replicas
        return s[ctx.service].load / n * self.jitter(ctx, t, 0.05)

    def failed_load(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.per_replica_load(ctx, t, s) * s[ctx.service].self_err

    def redis_clients(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        callers = len(self.topo.nodes[ctx.service].callers)
        return np.round(18.0 * callers * (1.0 - s[ctx.service].unavailable) * self.jitter(ctx, t, 0.05))

    def redis_rejected(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return s[ctx.service].unavailable * 60.0 * self.jitter(ctx, t, 0.2)

    def redis_mem(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.mem_frac(ctx, t, s) * self.topo.nodes[ctx.service].svc.memory_limit_mib * MIB * 0.9

    def redis_evicted(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return np.maximum(self.mem_frac(ctx, t, s) - 0.85, 0.0) * 400.0

    def hit_ratio_hits(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.per_replica_load(ctx, t, s) * 0.92

    def hit_ratio_misses(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        return self.per_replica_load(ctx, t, s) * 0.08

    def under_replicated(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        st = s[ctx.service]
        return np.round(6.0 * np.clip(st.unavailable + (st.disk > 0.98), 0.0, 1.0))

    def consumer_lag(self, ctx: Ctx, t: np.ndarray, s: States) -> np.ndarray:
        consumer = s[ctx.other]
        trouble = np.clip(consumer.err * 4.0 + (consumer.cpu_demand - 0.9) * 3.0, 0.0, 3.0)
        return np.round(40.0 * self.jitter(ctx, t, 0.3) * (1.0 + 60.0 * trouble))
