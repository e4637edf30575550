"""Sampled traces walked through the call graph, per minute, from each service's state.

Client spans carry the caller's service and the callee in `peer.service` (Datadog's inferred
services convention); an instrumented callee adds its own server span under the client span,
so parent/child edges cross service boundaries exactly where real traces do.
"""

from __future__ import annotations

import math
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from sleuth.sandbox.protocol import SpanRecord
from sleuth.sandbox.sim import text
from sleuth.sandbox.sim.noise import STEP, poisson, rng
from sleuth.sandbox.sim.state import DEFAULT_TIMEOUT_MS, ServiceState, StateModel
from sleuth.sandbox.sim.topology import SPAN_TYPE, Node, Topology

MAX_SPANS = 150
MAX_DEPTH = 9


@dataclass
class Outcome:
    duration: float  # ms
    error: str | None  # message when the span failed
    error_type: str | None = None
    code: int | None = None


class SpanGen:
    def __init__(self, topo: Topology, model: StateModel) -> None:
        self.topo, self.model, self.fx = topo, model, model.fx
        self.seed = topo.world.seed
        self.traced = {
            n for n, node in topo.nodes.items() if node.svc.instrumented and n not in topo.world.untraced
        }
        self.entries = [topo.nodes[n] for n in topo.order if n in self.traced and topo.nodes[n].svc.rps > 0]
        self.base_entry = sum(n.svc.rps for n in self.entries) or 1.0
        self.calls = {(n.name, c.to): c for n in topo.nodes.values() for c in n.svc.calls}
        self.index = {n: i for i, n in enumerate(topo.nodes)}
        self._tags: dict[tuple[str, str, int], list[str]] = {}
        self._cache: OrderedDict[int, list[SpanRecord]] = OrderedDict()
        self._lock = threading.Lock()

    def window(self, start: float, end: float) -> list[SpanRecord]:
        m0, m1 = math.floor(start / 60.0), math.ceil(end / 60.0)
        todo = [m for m in range(m0, m1) if m not in self._cache]
        fresh: dict[int, list[SpanRecord]] = {}
        if todo:
            t, states = self.model.window(min(todo) * 60.0, (max(todo) + 1) * 60.0)
            for m in todo:
                fresh[m] = self._minute(m, t, states)
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > 720:
                    self._cache.popitem(last=False)
        out: list[SpanRecord] = []
        for m in range(m0, m1):
            recs = fresh.get(m) or self._cache.get(m)
            if recs is None:
                t, states = self.model.window(m * 60.0, m * 60.0 + 60.0)
                recs = self._minute(m, t, states)
            out.extend(s for s in recs if start <= s.start < end)
        out.sort(key=lambda s: (s.start, s.span_id))
        return out

    def _minute(self, minute: int, t: np.ndarray, states: dict[str, ServiceState]) -> list[SpanRecord]:
        r = rng(self.seed, "traces", minute)
        i0 = int(round((minute * 60.0 - t[0]) / STEP)) if len(t) else 0
        loads = [float(np.mean(states[n.name].load[i0 : i0 + 6])) if len(t) else 0.0 for n in self.entries]
        total = sum(loads)
        if total <= 0:
            return []
        spans: list[SpanRecord] = []
        for _ in range(poisson(r, self.topo.world.traces_per_min * total / self.base_entry)):
            entry = r.choices(self.entries, weights=loads)[0]
            ts = minute * 60.0 + r.random() * 60.0
            idx = min(max(int((ts - t[0]) // STEP), 0), len(t) - 1)
            trace = _Trace(r, str(r.getrandbits(63)), idx, states, [])
            self._server(trace, entry, "0", ts, 0, None)
            spans.extend(trace.spans)
        return spans

    # --- one request through one service -------------------------------------------------
    def _server(
        self, tr: _Trace, node: Node, parent: str, start: float, depth: int, resource: str | None
    ) -> Outcome:
        r, st = tr.r, tr.states[node.name]
        i = tr.idx
        if resource is None or resource not in node.resources:
            resource = r.choices(node.resources, weights=node.weights)[0]
        span_id = str(r.getrandbits(63))
        median = float(st.self_med[i])
        sigma = float(st.sigma[i])
        self_ms = r.lognormvariate(math.log(max(median, 0.05)), sigma)
        cursor = start + self_ms * 0.3 / 1000.0
        error: Outcome | None = None
        for call in node.svc.calls:
            count = int(call.fanout) + (1 if r.random() < call.fanout - int(call.fanout) else 0)
            for _ in range(count):
                if len(tr.spans) >= MAX_SPANS or depth >= MAX_DEPTH:
                    break
                out = self._client(tr, node, call.to, span_id, cursor, depth)
                cursor += out.duration / 1000.0
                p = call.propagation if call.propagation is not None else self.topo.world.fault.propagation
                if out.error and error is None and r.random() < p:
                    error = out
        base_err = max(float(st.self_err[i] - st.fault_err[i]), 0.0)
        fault_err = self._endpoint_fault(node.name, resource, st, i)
        own: Outcome | None = None
        if r.random() < fault_err:
            msg, etype = self._signature(r, node, start)
            own = Outcome(0.0, msg, etype, 500)
        elif r.random() < base_err:
            if float(st.cpu_demand[i]) > 0.95:  # queued past its deadline behind a saturated cpu
                own = Outcome(
                    0.0, "503 Service Unavailable: worker pool exhausted, request rejected", "Overloaded", 503
                )
            else:
                own = Outcome(0.0, "internal error: unexpected EOF", "Error", 500)
        end = cursor + self_ms * 0.7 / 1000.0
        outcome = Outcome((end - start) * 1000.0, None)
        failure = own or error
        if failure:
            code = 500 if own else (failure.code if failure.code in (502, 503, 504) else 500)
            msg = failure.error or "error"  # callers report what their callee answered
            outcome = Outcome(outcome.duration, msg, failure.error_type or "Error", code)
        tr.spans.append(
            self._span(
                tr,
                node,
                node.name,
                node.operation or "",
                resource,
                span_id,
                parent,
                start,
                end,
                outcome,
                kind="server",
            )
        )
        return outcome

    def _client(
        self, tr: _Trace, caller: Node, callee: str, parent: str, start: float, depth: int
    ) -> Outcome:
        r, i = tr.r, tr.idx
        target = self.topo.nodes[callee]
        cst = tr.states[callee]
        call = self.calls[(caller.name, callee)]
        timeout = call.timeout_ms or DEFAULT_TIMEOUT_MS.get(target.svc.type, 2000.0)
        span_id = str(r.getrandbits(63))
        resource = r.choice(self.topo.client_resources(caller.name, callee))
        edge = float(cst.edge_ms[i]) * r.uniform(0.5, 1.5) + r.uniform(0.2, 1.5)
        if r.random() < float(cst.unavailable[i]):
            out = Outcome(
                r.uniform(0.5, 4.0),
                f"dial tcp: connect: connection refused ({callee})",
                text.ERROR_KIND.get(caller.svc.language, "Error"),
                503,
            )
        elif r.random() < float(cst.edge_err[i]):
            out = Outcome(
                edge + r.uniform(5, 200),
                f"read: connection reset by peer ({callee})",
                text.ERROR_KIND.get(caller.svc.language, "Error"),
                502,
            )
        elif callee in self.traced:
            child_res = resource if resource in target.resources else None
            inner = self._server(tr, target, span_id, start + edge / 2000.0, depth + 1, child_res)
            out = Outcome(inner.duration + edge, inner.error, inner.error_type, inner.code)
        else:
            med = float(cst.self_med[i])
            dur = r.lognormvariate(math.log(max(med, 0.05)), float(cst.sigma[i])) + edge
            fail = float(cst.err[i] - cst.fault_err[i]) + self._endpoint_fault(callee, resource, cst, i)
            out = Outcome(dur, None)
            if r.random() < fail:
                msg, etype = self._leaf_error(r, target)
                out = Outcome(dur, msg, etype, 502 if target.svc.type == "external" else None)
        if out.duration >= timeout:
            out = Outcome(
                timeout,
                f"context deadline exceeded after {int(timeout)}ms calling {callee}",
                text.ERROR_KIND.get(caller.svc.language, "Error"),
                504,
            )
        end = start + out.duration / 1000.0
        tr.spans.append(
            self._span(
                tr,
                caller,
                caller.name,
                target.client_operation(),
                resource,
                span_id,
                parent,
                start,
                end,
                out,
                kind="client",
                peer=target,
            )
        )
        return out

    def _endpoint_fault(self, service: str, resource: str, st: ServiceState, i: int) -> float:
        """Fault-added failure probability of one endpoint; the state holds its average over endpoints."""
        fx = self.fx
        if not fx.on(service) or (fx.affected and resource not in fx.affected):
            return 0.0
        return float(st.fault_err[i]) / fx.share

    def _signature(self, r: random.Random, node: Node, ts: float) -> tuple[str, str]:
        sigs = self.topo.world.fault.signatures
        if sigs:
            sig = r.choice(sigs)
            message, etype = sig.message, sig.error_type
        else:
            message, etype = r.choice(text.KIND_DEFAULTS.get(self.fx.kind, text.KIND_DEFAULTS["unknown"]))
        fill = text.Filler(r, version=node.epoch_at(ts).version, path=node.resources[0], config_key="config")
        return text.render(message, fill), etype

    def _leaf_error(self, r: random.Random, target: Node) -> tuple[str, str]:
        kind = self.fx.kind if self.fx.on(target.name) else "error"
        if target.svc.type == "external":
            code = r.choice([502, 503, 504])
            return f"{target.svc.host} responded {code} {text.HTTP_REASON[code]}", "HTTPError"
        if target.svc.type == "database":
            if kind == "disk_pressure":
                return "could not extend file: No space left on device", "DiskFull"
            return "canceling statement due to lock timeout", "QueryCanceled"
        if target.svc.type == "cache":
            return "LOADING Redis is loading the dataset in memory", "RedisError"
        if target.svc.type == "queue":
            return "Broker: Not enough in-sync replicas", "KafkaError"
        if target.svc.type == "grpc":  # an instrumented-looking service without a tracer
            return f"rpc error: code = Internal desc = {target.name}: internal error", "grpc.Internal"
        code = r.choice([500, 502, 503])
        return f"{target.name} responded {code} {text.HTTP_REASON[code]}", "HTTPError"

    def _span(
        self,
        tr: _Trace,
        node: Node,
        service: str,
        op: str,
        resource: str,
        span_id: str,
        parent: str,
        start: float,
        end: float,
        out: Outcome,
        *,
        kind: str,
        peer: Node | None = None,
    ) -> SpanRecord:
        s = node.svc
        epoch = node.epoch_at(start)
        replica = (int(tr.trace_id) >> 7 ^ self.index[service]) % s.replicas
        custom: dict[str, object] = {
            "duration": int(round((end - start) * 1e9)),
            "status": "error" if out.error else "ok",
            "env": self.topo.world.env,
            "version": epoch.version,
            "language": s.language,
            "span": {"kind": kind},
        }
        if out.error:
            custom["error"] = {"message": out.error, "type": out.error_type or "Error"}
        target = peer.svc if peer else s
        if target.type in {"web", "external"} or (kind == "server" and s.type == "web"):
            method, _, path = (resource + " ").partition(" ")
            code = out.code or (500 if out.error else 200)
            host = target.host or target.name
            custom["http"] = {
                "method": method,
                "status_code": str(code),
                "url": f"https://{host}{path.strip()}",
            }
        if target.type == "grpc":
            custom["rpc"] = {"grpc": {"status_code": 14 if out.error else 0}}
        if peer is not None:
            custom["peer"] = {"service": peer.name}
            if peer.svc.host:
                custom["out"] = {"host": peer.svc.host}
            if peer.svc.type == "database":
                custom["db"] = {
                    "system": "postgresql" if (peer.svc.engine or "postgres") == "postgres" else "mysql",
                    "instance": peer.name.replace("-", "_"),
                }
        tags = self._tags.get((service, epoch.version, replica))
        if tags is None:
            tags = self._tags[(service, epoch.version, replica)] = [
                *self.topo.unified_tags(service, epoch.version),
                f"kube_namespace:{self.topo.world.namespace}",
                f"pod_name:{epoch.pods[replica]}",
                f"host:{node.hosts[replica]}",
            ]
        span_type = SPAN_TYPE[peer.svc.type] if peer else SPAN_TYPE[s.type]
        return SpanRecord(
            id=f"AAAAAY{int(span_id):019d}",
            trace_id=tr.trace_id,
            span_id=span_id,
            parent_id=parent,
            service=service,
            operation_name=op,
            resource_name=resource,
            type=span_type,
            start=start,
            end=end,
            env=self.topo.world.env,
            host=node.hosts[replica],
            tags=tags,
            custom=custom,
        )


@dataclass
class _Trace:
    r: random.Random
    trace_id: str
    idx: int
    states: dict[str, ServiceState]
    spans: list[SpanRecord]
