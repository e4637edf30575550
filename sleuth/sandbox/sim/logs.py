"""Log lines, generated per (service, minute) from the service's state in that minute.

Volumes follow load; error lines follow the error rate and name what failed: the root service
logs its own new signature, callers log the callee that failed them.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sleuth.sandbox.protocol import LogRecord
from sleuth.sandbox.sim import text
from sleuth.sandbox.sim.noise import poisson, rng
from sleuth.sandbox.sim.state import DEFAULT_TIMEOUT_MS, ServiceState, StateModel
from sleuth.sandbox.sim.topology import Node, Topology, stem
from sleuth.sandbox.world import LogTemplate, Signature

PER_MINUTE = 6  # base points in a minute
ERROR_LINES_MAX = 25.0  # error lines per service per minute, however many requests fail
ERROR_LINE_SHARE = 0.03  # failed requests that write an error line (retries and sampling hide the rest)


class Emit(Protocol):
    def __call__(self, tpl: LogTemplate, **ctx: object) -> None: ...


def _pick(r: random.Random, templates: list[LogTemplate], cum: dict[int, list[float]]) -> LogTemplate:
    """Weighted choice; `cum` caches cumulative weights per list (lists outlive the generator's use of them)."""
    weights = cum.get(id(templates))
    if weights is None:
        weights = cum[id(templates)] = list(itertools.accumulate(t.weight for t in templates))
    return r.choices(templates, cum_weights=weights)[0]


def _as_status(tpl: LogTemplate, status: str, cache: dict[tuple[int, str], LogTemplate]) -> LogTemplate:
    out = cache.get((id(tpl), status))
    if out is None:
        out = cache[(id(tpl), status)] = tpl.model_copy(update={"status": status})
    return out


@dataclass
class Minute:
    """A service's state averaged over one minute: what its log lines are drawn from."""

    load: float
    err: float
    self_err: float
    fault_err: float
    fault: float
    unavailable: float
    edge_err: float
    share: dict[str, float]  # share of requests failed by each callee
    lat: dict[str, float]  # ms per call to each callee
    saturated: bool = False  # cpu demand past the limit: its failures look like timeouts to callers


def minutes(st: ServiceState, n: int) -> list[Minute]:
    def per(x: np.ndarray) -> list[float]:
        return [float(v) for v in x[: n * PER_MINUTE].reshape(n, PER_MINUTE).mean(axis=1)]

    cols = {
        f: per(getattr(st, f))
        for f in ("load", "err", "self_err", "fault_err", "fault", "unavailable", "edge_err", "cpu_demand")
    }
    shares = {c: per(v) for c, v in st.callee_share.items()}
    lats = {c: per(v) for c, v in st.callee_lat.items()}
    return [
        Minute(
            load=cols["load"][k],
            err=cols["err"][k],
            self_err=cols["self_err"][k],
            fault_err=cols["fault_err"][k],
            fault=cols["fault"][k],
            unavailable=cols["unavailable"][k],
            edge_err=cols["edge_err"][k],
            share={c: v[k] for c, v in shares.items()},
            lat={c: v[k] for c, v in lats.items()},
            saturated=cols["cpu_demand"][k] > 0.95,
        )
        for k in range(n)
    ]


def signature_templates(signatures: list[Signature], kind: str) -> list[LogTemplate]:
    """The new errors the fault's target logs: the world's own, or the kind's usual ones."""
    if signatures:
        return [
            LogTemplate(
                message=sig.message,
                status="error",
                error_type=sig.error_type,
                attributes={"stack": sig.stack} if sig.stack else {},
            )
            for sig in signatures
        ]
    return [
        LogTemplate(message=msg, status="error", error_type=etype)
        for msg, etype in text.KIND_DEFAULTS.get(kind, text.KIND_DEFAULTS["unknown"])
    ]


def failure_mode(callee: Minute, timeout_ms: float, lat_ms: float) -> str:
    """How a failing callee looks from its caller: refused, reset, timed out, or an error answer."""
    if callee.unavailable > max(callee.edge_err, callee.err * 0.5):
        return "refused"
    if callee.edge_err > callee.err:
        return "reset"
    if lat_ms >= 0.9 * timeout_ms or callee.saturated:
        return "timeout"
    return "error"


class LogGen:
    def __init__(self, topo: Topology, model: StateModel) -> None:
        self.topo, self.model, self.fx = topo, model, model.fx
        self.seed = topo.world.seed
        self._cache: OrderedDict[tuple[str, int], list[LogRecord]] = OrderedDict()
        self._lock = threading.Lock()
        self.loggers = [
            n
            for n in topo.nodes.values()
            if n.svc.type != "external" and n.name not in topo.world.unindexed_logs
        ]
        config = [c for c in topo.world.changes if c.kind == "config_change" and c.service == self.fx.target]
        self.config_key = config[-1].resource if config else "settings.limits.max_batch"
        self.stems = {n: stem(n) for n in topo.nodes}
        # keyed by id(): only long-lived templates (baseline lists, self.signatures) go through these caches
        self._variants: dict[tuple[int, str], LogTemplate] = {}
        self._cum: dict[int, list[float]] = {}
        self.signatures = signature_templates(topo.world.fault.signatures, self.fx.kind)
        self._tags: dict[tuple[str, str, int], list[str]] = {}
        self.baseline = {
            n.name: text.BASELINE[n.svc.type if n.svc.type in text.BASELINE else "web"] + list(n.svc.logs)
            for n in self.loggers
        }

    def window(self, start: float, end: float, services: frozenset[str] | None) -> list[LogRecord]:
        m0, m1 = math.floor(start / 60.0), math.ceil(end / 60.0)
        nodes = [n for n in self.loggers if services is None or n.name in services]
        todo = [(n, m) for n in nodes for m in range(m0, m1) if (n.name, m) not in self._cache]
        fresh: dict[tuple[str, int], list[LogRecord]] = {}
        if todo:
            lo = min(m for _, m in todo)
            hi = max(m for _, m in todo) + 1
            _, states = self.model.window(lo * 60.0, hi * 60.0)
            views = {name: minutes(st, hi - lo) for name, st in states.items()}
            fresh = {(n.name, m): self._minute(n, m, views, m - lo) for n, m in todo}
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > 30_000:
                    self._cache.popitem(last=False)
        out: list[LogRecord] = []
        for n in nodes:
            for m in range(m0, m1):
                recs = fresh.get((n.name, m)) or self._cache.get((n.name, m))
                if recs is None:  # evicted by a concurrent request: regenerate
                    _, st = self.model.window(m * 60.0, m * 60.0 + 60.0)
                    recs = self._minute(n, m, {k: minutes(v, 1) for k, v in st.items()}, 0)
                out.extend(r for r in recs if start <= r.timestamp < end)
        out.sort(key=lambda r: (r.timestamp, r.id))
        return out

    def _minute(self, node: Node, minute: int, views: dict[str, list[Minute]], k: int) -> list[LogRecord]:
        s = node.svc
        mv = views[node.name][k]
        r = rng(self.seed, "logs", node.name, minute)
        t0 = minute * 60.0
        ratio = mv.load / node.base_load if node.base_load > 0 else 1.0
        epoch = node.epoch_at(t0 + 30.0)
        recs: list[LogRecord] = []

        def emit(tpl: LogTemplate, **ctx: object) -> None:
            recs.append(self._record(node, r, t0 + r.random() * 60.0, tpl, epoch.version, **ctx))

        rate = s.log_rate * (0.5 if s.type in {"database", "cache", "queue"} else 1.0) * ratio**0.8
        for _ in range(poisson(r, rate)):
            tpl = _pick(r, self.baseline[node.name], self._cum)
            if tpl.attributes.get("kind") == "access" and s.type in ("web", "grpc") and r.random() < mv.err:
                code = r.choice([500, 502, 503]) if s.type == "web" else 500
                emit(_as_status(tpl, "error", self._variants), status=code, grpc_code="Internal")
            else:
                emit(tpl)
        if s.noisy:
            for _ in range(poisson(r, 14.0)):
                emit(_pick(r, text.NOISY, self._cum))
        for _ in range(poisson(r, 0.04 * max(ratio, 0.2))):
            emit(_pick(r, text.BENIGN_BY_TYPE.get(s.type, text.BENIGN_ERRORS), self._cum))
        self._errors(node, mv, views, k, r, emit)
        self._fault_lines(node, mv, r, emit)
        recs.sort(key=lambda x: x.timestamp)
        return recs

    def _errors(
        self, node: Node, mv: Minute, views: dict[str, list[Minute]], k: int, r: random.Random, emit: Emit
    ) -> None:
        """Error lines for failed requests, split by cause: the service itself, or one of its callees."""
        lam = min(ERROR_LINES_MAX, mv.load * 60.0 * mv.err * ERROR_LINE_SHARE)
        if lam < 0.02:
            return
        causes: list[tuple[str, float]] = [
            ("__base__", max(mv.self_err - mv.fault_err, 0.0)),
            ("__fault__", mv.fault_err),
            *mv.share.items(),
        ]
        if sum(w for _, w in causes) <= 0:
            return
        names, weights = [c for c, _ in causes], [w for _, w in causes]
        for _ in range(poisson(r, lam)):
            cause = r.choices(names, weights=weights)[0]
            if cause == "__base__":
                emit(
                    text.SATURATED
                    if mv.saturated
                    else _pick(r, text.BENIGN_BY_TYPE.get(node.svc.type, text.BENIGN_ERRORS), self._cum)
                )
            elif cause == "__fault__":
                emit(self._signature(r))
            else:
                emit(self._caller_error(node, cause, mv, views[cause][k], r))

    def _signature(self, r: random.Random) -> LogTemplate:
        return r.choice(self.signatures)

    def _caller_error(self, node: Node, callee: str, mv: Minute, cv: Minute, r: random.Random) -> LogTemplate:
        target = self.topo.nodes[callee]
        call = next(c for c in node.svc.calls if c.to == callee)
        timeout = call.timeout_ms or DEFAULT_TIMEOUT_MS.get(target.svc.type, 2000.0)
        mode = failure_mode(cv, timeout, mv.lat.get(callee, 0.0))
        if target.svc.type == "database":
            msg = text.DB_ERRORS.get(target.svc.engine or "postgres", text.DB_ERRORS["postgres"])[mode]
        elif target.svc.type == "cache":
            msg = {
                "refused": "dial tcp {peer_ip}:6379: connect: connection refused (redis {callee})",
                "timeout": "redis: connection pool timeout after {timeout}ms ({callee})",
            }.get(mode, "redis {callee}: LOADING Redis is loading the dataset in memory")
        elif target.svc.type == "queue":
            msg = "kafka: failed to deliver message to topic {topic} on {callee}: " + (
                "Local: Message timed out" if mode == "timeout" else "Broker: Not enough in-sync replicas"
            )
        else:
            msg = r.choice(text.CALLER_ERRORS[mode])
        code = 504 if mode == "timeout" else r.choice([500, 502, 503])
        return LogTemplate(
            message=msg,
            status="error",
            error_type=text.ERROR_KIND.get(node.svc.language, "Error"),
            attributes={
                "callee": callee,
                "timeout": int(timeout),
                "code": code,
                "reason": text.HTTP_REASON[code],
                "callee_resource": r.choice(self.topo.client_resources(node.name, callee)),
                "peer_ip": target.svc.host or self.topo.ip(callee),
                "port": text.PORTS.get(target.svc.type, 5432 if target.svc.engine != "mysql" else 3306),
                "topic": target.svc.topic or callee,
            },
        )

    def _fault_lines(self, node: Node, mv: Minute, r: random.Random, emit: Emit) -> None:
        """Lines a fault makes its target write whatever its error rate: OOM kills, lock waits, full disks."""
        if not self.fx.on(node.name):
            return
        level = mv.fault
        if level <= 0:
            return
        rate = {
            "memory_pressure": 2.0,
            "database": 14.0,
            "disk_pressure": 10.0,
            "dependency_failure": 6.0,
            "cpu_saturation": 4.0,
            "traffic_surge": 18.0,
        }.get(self.fx.kind, 0.0)
        for _ in range(poisson(r, rate * level)):
            tpl = self._signature(r)
            if self.fx.kind in {"cpu_saturation", "traffic_surge"}:
                tpl = _as_status(tpl, "warn", self._variants)
            emit(tpl)

    def _record(
        self, node: Node, r: random.Random, ts: float, tpl: LogTemplate, version: str, **ctx: object
    ) -> LogRecord:
        s = node.svc
        epoch = node.epoch_at(ts)
        replica = r.randrange(s.replicas)
        method, _, path = (r.choice(node.resources) + " ").partition(" ")
        fill = text.Filler(
            r,
            path=path.strip() or method,
            method=method if path.strip() else "POST",
            table=self.stems[r.choice(node.callers)[0] if node.callers else node.name] + "s",
            db=s.name.replace("-", "_"),
            caller=r.choice(node.callers)[0] if node.callers else "app",
            group=s.name,
            topic=s.topic or self.stems[s.name],
            config_key=self.config_key,
            version=version,
        )
        fill.update({k: v for k, v in tpl.attributes.items() if k != "kind"})
        fill.update(ctx)
        message = text.render(tpl.message, fill)
        attrs: dict[str, object] = {
            "logger": {"name": f"{self.stems[s.name]}.{'http' if s.type == 'web' else 'app'}"}
        }
        if tpl.attributes.get("kind") == "access":
            code = int(ctx.get("status", 200))  # type: ignore[call-overload]
            attrs["http"] = {
                "method": fill["method"],
                "status_code": code,
                "url_details": {"path": fill["path"]},
            }
            attrs["network"] = {"client": {"ip": fill["client_ip"]}}
            attrs["duration"] = int(fill["ms"]) * 1_000_000
        if "email" in fill:
            attrs["usr"] = {"email": fill["email"]}
        if tpl.status == "error":
            attrs["error"] = {"kind": tpl.error_type or "Error", "message": message[:300]}
        if s.instrumented:
            attrs["dd"] = {"trace_id": str(r.getrandbits(63)), "span_id": str(r.getrandbits(63))}
        tags = self._tags.get((s.name, epoch.version, replica))
        if tags is None:
            source = s.engine if s.type in {"database", "cache", "queue"} else s.language
            tags = [
                f"env:{self.topo.world.env}",
                f"service:{s.name}",
                f"version:{epoch.version}",
                f"source:{source}",
                f"team:{s.team}",
            ]
            if s.type != "database":
                tags += [
                    f"kube_namespace:{self.topo.world.namespace}",
                    f"pod_name:{epoch.pods[replica]}",
                    f"kube_cluster_name:{self.topo.world.cluster}",
                ]
            self._tags[(s.name, epoch.version, replica)] = tags
        rid = f"AQAAAZ{r.getrandbits(63):019d}"
        return LogRecord(
            id=rid,
            timestamp=ts,
            service=s.name,
            status=tpl.status,
            message=message,
            host=node.hosts[replica],
            tags=tags,
            attributes=attrs,
        )
