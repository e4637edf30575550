"""The state of every service over time: load, latency, errors and resource use.

Load flows from entry services to their callees; latency and errors flow back from callees to
callers (a slow callee makes its callers slow, a failing one fails them with some probability).
States are computed for whole hours of base points and cached, so any window is cheap.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sleuth.sandbox.sim.effects import Effects, timeout_share
from sleuth.sandbox.sim.noise import STEP, daily, key, wobble
from sleuth.sandbox.sim.topology import Topology

CHUNK = 360  # base points per cached chunk (one hour)
DEFAULT_TIMEOUT_MS = {"database": 5000.0, "external": 10000.0, "cache": 500.0, "queue": 3000.0}


@dataclass
class ServiceState:
    load: np.ndarray  # requests per second reaching the service
    self_med: np.ndarray  # median self time, ms
    sigma: np.ndarray
    self_err: np.ndarray  # probability a request fails inside the service
    err: np.ndarray  # probability a request to the service fails (self or propagated)
    lat: np.ndarray  # mean end-to-end latency of the service's requests, ms
    cpu_demand: np.ndarray  # fraction of the cpu limit the service would like to use
    mem: np.ndarray  # fraction of the memory limit (service average)
    disk: np.ndarray
    unavailable: np.ndarray  # fraction of connection attempts refused
    edge_ms: np.ndarray  # extra latency on connections into the service
    edge_err: np.ndarray  # connection errors into the service (resets, refusals)
    fault: np.ndarray  # intensity of the injected fault when this is its target, else 0
    fault_err: np.ndarray  # the part of self_err the fault adds (averaged over endpoints)
    # per callee: failure rate of calls to it, share of own requests it fails, ms per call as the caller sees it
    callee_fail: dict[str, np.ndarray] = field(default_factory=dict)
    callee_share: dict[str, np.ndarray] = field(default_factory=dict)
    callee_lat: dict[str, np.ndarray] = field(default_factory=dict)

    def slice(self, a: int, b: int) -> ServiceState:
        return _build(
            lambda f: getattr(self, f)[a:b], lambda f: {k: v[a:b] for k, v in getattr(self, f).items()}
        )


def _build(
    arr: Callable[[str], np.ndarray], per_callee: Callable[[str], dict[str, np.ndarray]]
) -> ServiceState:
    return ServiceState(
        load=arr("load"),
        self_med=arr("self_med"),
        sigma=arr("sigma"),
        self_err=arr("self_err"),
        err=arr("err"),
        lat=arr("lat"),
        cpu_demand=arr("cpu_demand"),
        mem=arr("mem"),
        disk=arr("disk"),
        unavailable=arr("unavailable"),
        edge_ms=arr("edge_ms"),
        edge_err=arr("edge_err"),
        fault=arr("fault"),
        fault_err=arr("fault_err"),
        callee_fail=per_callee("callee_fail"),
        callee_share=per_callee("callee_share"),
        callee_lat=per_callee("callee_lat"),
    )


def queueing(demand: np.ndarray) -> np.ndarray:
    """Latency multiplier once cpu demand nears the limit: requests wait for cpu."""
    return np.minimum(1.0 + 4.0 * np.clip((demand - 0.8) / 0.2, 0.0, None) ** 2, 14.0)


class StateModel:
    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        self.fx = Effects(topo)
        self._cache: OrderedDict[int, tuple[np.ndarray, dict[str, ServiceState]]] = OrderedDict()
        # a request asks for many metrics over one window: keep the last windows assembled
        self._windows: OrderedDict[tuple[int, int], tuple[np.ndarray, dict[str, ServiceState]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def window(self, start: float, end: float) -> tuple[np.ndarray, dict[str, ServiceState]]:
        """Base points with start <= t < end (t on the absolute STEP grid)."""
        first = int(np.ceil(start / STEP))
        last = int(np.ceil(end / STEP))  # exclusive
        with self._lock:
            hit = self._windows.get((first, last))
        if hit is None:
            hit = self._assemble(first, last)
            with self._lock:
                self._windows[(first, last)] = hit
                while len(self._windows) > 8:
                    self._windows.popitem(last=False)
        return hit

    def _assemble(self, first: int, last: int) -> tuple[np.ndarray, dict[str, ServiceState]]:
        if last <= first:
            return np.zeros(0), {n: self._chunk(first // CHUNK)[1][n].slice(0, 0) for n in self.topo.nodes}
        parts = [self._chunk(c) for c in range(first // CHUNK, (last - 1) // CHUNK + 1)]
        t = np.concatenate([p[0] for p in parts])
        offset = first - (first // CHUNK) * CHUNK
        a, b = offset, offset + (last - first)
        states = {}
        for name in self.topo.nodes:
            if len(parts) == 1:
                states[name] = parts[0][1][name].slice(a, b)
            else:
                states[name] = _concat([p[1][name] for p in parts]).slice(a, b)
        return t[a:b], states

    def _chunk(self, c: int) -> tuple[np.ndarray, dict[str, ServiceState]]:
        with self._lock:
            hit = self._cache.get(c)
            if hit is not None:
                self._cache.move_to_end(c)
                return hit
            t = (np.arange(CHUNK, dtype=np.float64) + c * CHUNK) * STEP
            value = (t, self._compute(t))
            self._cache[c] = value
            while len(self._cache) > 96:
                self._cache.popitem(last=False)
            return value

    def _compute(self, t: np.ndarray) -> dict[str, ServiceState]:
        topo, fx, world = self.topo, self.fx, self.topo.world
        shape = daily(t, world.tz_offset_h)
        zeros = np.zeros_like(t)
        out: dict[str, ServiceState] = {}
        load: dict[str, np.ndarray] = {}
        for name in topo.order:  # callers first: load flows down the call graph
            node = topo.nodes[name]
            s = node.svc
            own = s.rps * shape * wobble(key(world.seed, name, "load"), t, 0.05) + fx.extra_load(name, t)
            inflow = sum((load[c] * call.fanout for c, call in node.callers), zeros)
            if s.consumes:  # consumers only get what the queue delivers
                own = own * (1.0 - fx.unavailable(s.consumes, t))
            refused = fx.unavailable(name, t)
            load[name] = (own + inflow) * (1.0 - refused)
        for name in reversed(topo.order):  # callees first: latency and errors flow back up
            node = topo.nodes[name]
            s = node.svc
            # a vendor API's capacity dwarfs our traffic: only our own services saturate
            scaled = node.base_load > 0 and s.type != "external"
            ratio = load[name] / node.base_load if scaled else np.ones_like(t)
            demand = (
                s.cpu_util
                * np.power(np.maximum(ratio, 0.0), 0.9)
                * wobble(key(world.seed, name, "cpu"), t, 0.04)
            )
            demand = fx.cpu_floor(name, demand + fx.cpu_extra(name, t) + self._spike(name, t, 0.35), t)
            q = queueing(demand)
            med = (
                s.latency_ms * wobble(key(world.seed, name, "lat"), t, 0.07) * q * fx.latency_factor(name, t)
            )
            med = med * (1.0 + self._spike(name, t, 1.5))
            mem = s.memory_util * wobble(key(world.seed, name, "mem"), t, 0.015)
            if fx.on(name) and fx.kind == "memory_pressure":
                pods = [fx.pod_memory(name, r, s.memory_util, t) for r in range(s.replicas)]
                mem = np.mean(pods, axis=0)
                med = med * (1.0 + 2.5 * np.clip((mem - 0.85) / 0.15, 0.0, 1.0))  # garbage collection thrash
            sigma = s.latency_sigma + fx.sigma_extra(name, t) + zeros
            fault_err = fx.self_error(name, t)
            self_err = np.clip(
                s.error_rate * wobble(key(world.seed, name, "err"), t, 0.35)
                + fault_err
                + 0.02 * np.clip(q - 3.0, 0.0, None),  # requests time out while queued for cpu
                0.0,
                0.98,
            )
            self_mean = med * np.exp(sigma**2 / 2.0)
            lat = self_mean.copy()
            ok = 1.0 - self_err
            callee_fail: dict[str, np.ndarray] = {}
            callee_share: dict[str, np.ndarray] = {}
            callee_lat: dict[str, np.ndarray] = {}
            for call in s.calls:
                callee = out[call.to]
                ctype = topo.nodes[call.to].svc.type
                per_call = callee.lat + callee.edge_ms
                timeout = call.timeout_ms or DEFAULT_TIMEOUT_MS.get(ctype, 2000.0)
                med_call = per_call / np.exp(callee.sigma**2 / 2.0)
                timed_out = timeout_share(med_call, callee.sigma, timeout)
                fail = 1.0 - (1.0 - callee.err) * (1.0 - callee.edge_err) * (1.0 - callee.unavailable) * (
                    1.0 - timed_out
                )
                p = call.propagation if call.propagation is not None else world.fault.propagation
                share = 1.0 - np.power(1.0 - p * fail, call.fanout)
                callee_fail[call.to] = fail
                callee_share[call.to] = share
                callee_lat[call.to] = np.minimum(per_call, timeout)
                ok = ok * (1.0 - share)
                lat = lat + call.fanout * np.minimum(per_call, timeout)
            disk = s.disk_util + 0.004 * (t - topo.anchor) / 86400.0 + zeros
            disk = disk + fx.disk_extra(name, s.disk_util, t)
            out[name] = ServiceState(
                load=load[name],
                self_med=med,
                sigma=sigma,
                self_err=self_err,
                err=1.0 - ok,
                lat=lat,
                cpu_demand=demand,
                mem=mem,
                disk=np.clip(disk, 0.0, 0.999),
                unavailable=fx.unavailable(name, t),
                edge_ms=fx.edge_ms(name, t),
                edge_err=fx.edge_error(name, t),
                fault=fx.intensity(t) if fx.on(name) else zeros,
                fault_err=fault_err,
                callee_fail=callee_fail,
                callee_share=callee_share,
                callee_lat=callee_lat,
            )
        return out

    def _spike(self, name: str, t: np.ndarray, height: float) -> np.ndarray:
        """A scheduled batch job: a few minutes of extra work every N minutes (healthy, recurring)."""
        every = self.topo.nodes[name].svc.periodic_spike_min
        if not every:
            return np.zeros_like(t)
        phase = np.mod(t - (key(self.topo.world.seed, name, "spike") % 600), every * 60.0)
        return height * ((phase < 180.0).astype(np.float64))


def _concat(states: list[ServiceState]) -> ServiceState:
    return _build(
        lambda f: np.concatenate([getattr(st, f) for st in states]),
        lambda f: {k: np.concatenate([getattr(st, f)[k] for st in states]) for k in getattr(states[0], f)},
    )
