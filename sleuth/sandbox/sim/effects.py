"""How each root-cause kind perturbs its service; propagation to callers lives in state.py.

Every function answers for one service over a time array and is zero unless that service is
the fault's target, so the baseline of every other service is untouched by construction.
"""

from __future__ import annotations

import math

import numpy as np

from sleuth.sandbox.sim.noise import key, ramp, uniform
from sleuth.sandbox.sim.topology import Topology

RESTART_DOWN_S = 25.0  # a killed pod is out of the endpoints this long
LEAK_MIN = 22.0  # minutes a memory leak takes from baseline to the limit

# Per kind: (extra self error rate on affected endpoints, self-time multiplier), both at full effect.
DEFAULTS: dict[str, tuple[float, float]] = {
    "deployment": (0.30, 1.35),
    "config_change": (0.30, 1.2),
    "code_error": (0.25, 1.0),
    "unknown": (0.15, 1.8),
    "database": (0.05, 7.0),
    "external_dependency": (0.35, 12.0),
    "dependency_failure": (0.10, 1.0),
    "memory_pressure": (0.04, 1.5),
    "disk_pressure": (0.60, 1.1),
    "cpu_saturation": (0.0, 1.0),
    "network": (0.0, 1.0),
    "traffic_surge": (0.0, 1.0),
}


class Effects:
    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        self.fault = topo.world.fault
        self.kind = self.fault.kind
        self.target = self.fault.service
        self.onset = topo.anchor + self.fault.onset_min * 60.0
        err, lat = DEFAULTS[self.kind]
        self.err = (self.fault.error_rate if self.fault.error_rate is not None else err) * min(
            self.fault.magnitude, 2.0
        )
        self.lat = self.fault.latency_factor or (1.0 + (lat - 1.0) * self.fault.magnitude)
        node = topo.nodes[self.target]
        affected = set(self.fault.resources)
        if self.kind == "disk_pressure":
            affected = {
                r for r in topo.client_resources("x", self.target) + node.resources if topo.is_write(r)
            }
        self.affected = affected  # empty: every endpoint
        share = sum(w for r, w in zip(node.resources, node.weights, strict=True) if r in affected)
        self.share = share if affected and share > 0 else 1.0

    def on(self, service: str) -> bool:
        return service == self.target

    def intensity(self, t: np.ndarray) -> np.ndarray:
        return ramp(t, self.onset, self.fault.ramp_min)

    def _zero(self, t: np.ndarray) -> np.ndarray:
        return np.zeros_like(t)

    def extra_load(self, s: str, t: np.ndarray) -> np.ndarray:
        """traffic_surge: requests per second on top of the usual traffic (an on-sale, a bot), whatever the hour."""
        if not self.on(s) or self.kind != "traffic_surge":
            return self._zero(t)
        jitter = 0.9 + 0.2 * uniform(key(self.target, "surge"), np.floor(t / 10.0))
        return 3.2 * self.fault.magnitude * self.topo.nodes[s].svc.rps * self.intensity(t) * jitter

    def cpu_extra(self, s: str, t: np.ndarray) -> np.ndarray:
        if not self.on(s):
            return self._zero(t)
        if self.kind == "database":
            return 0.25 * self.intensity(t)
        return self._zero(t)

    def cpu_floor(self, s: str, demand: np.ndarray, t: np.ndarray) -> np.ndarray:
        """cpu_saturation: the target's demand is pulled up to ~1.25x its limit whatever the traffic."""
        if not self.on(s) or self.kind != "cpu_saturation":
            return demand
        target = 1.25 * min(self.fault.magnitude, 1.6)
        return demand + self.intensity(t) * np.clip(target - demand, 0.0, None)

    def latency_factor(self, s: str, t: np.ndarray) -> np.ndarray:
        if not self.on(s) or self.kind in {"memory_pressure", "cpu_saturation", "network", "traffic_surge"}:
            return np.ones_like(t)
        return 1.0 + (self.lat - 1.0) * self.intensity(t)

    def sigma_extra(self, s: str, t: np.ndarray) -> np.ndarray:
        if not self.on(s) or self.kind in {"network", "traffic_surge", "code_error"}:
            return self._zero(t)
        return 0.25 * self.intensity(t)

    def self_error(self, s: str, t: np.ndarray) -> np.ndarray:
        """Extra probability that a request handled by `s` fails inside `s` (averaged over endpoints)."""
        if not self.on(s) or self.err <= 0:
            return self._zero(t)
        if self.kind == "memory_pressure":
            return self.err * (self.restarting(s, t) > 0) + 0.01 * self.intensity(t)
        return self.err * self.share * self.intensity(t)

    def endpoint_error(self, s: str, resource: str, t: np.ndarray) -> np.ndarray:
        """Extra failure probability of requests to one endpoint (what self_error averages)."""
        if not self.on(s) or (self.affected and resource not in self.affected):
            return self._zero(t)
        if self.kind == "memory_pressure":
            return self.self_error(s, t)
        return self.err * self.intensity(t)

    def unavailable(self, s: str, t: np.ndarray) -> np.ndarray:
        """Fraction of connection attempts to `s` refused before reaching it."""
        if not self.on(s):
            return self._zero(t)
        if self.kind == "dependency_failure":
            return 0.7 * min(self.fault.magnitude, 1.3) * self.intensity(t)
        if self.kind == "memory_pressure":
            return self.restarting(s, t)
        return self._zero(t)

    def edge_ms(self, s: str, t: np.ndarray) -> np.ndarray:
        """Extra milliseconds on every connection into `s` (the network between caller and callee)."""
        if not self.on(s) or self.kind != "network":
            return self._zero(t)
        jitter = 0.6 + 0.8 * uniform(key(self.target, "edge"), np.floor(t / 10.0))
        return 320.0 * self.fault.magnitude * self.intensity(t) * jitter

    def edge_error(self, s: str, t: np.ndarray) -> np.ndarray:
        if not self.on(s) or self.kind != "network":
            return self._zero(t)
        return 0.05 * self.fault.magnitude * self.intensity(t)

    # --- resources of the target itself -------------------------------------------------------

    def _pod_cycle(self, s: str, replica: int) -> tuple[float, float]:
        full = self.onset + 40.0 * replica
        period = 240.0 * (1.0 + 0.15 * replica) / self.fault.magnitude
        return full, period

    def pod_memory(self, s: str, replica: int, base: float, t: np.ndarray) -> np.ndarray:
        """Memory as a fraction of the limit for one pod: a leak, then OOM-kill sawtooth."""
        if not self.on(s) or self.kind != "memory_pressure":
            return np.full_like(t, base)
        full, period = self._pod_cycle(s, replica)
        start = full - LEAK_MIN * 60.0
        leak = base + (1.0 - base) * np.clip((t - start) / (full - start), 0.0, 1.0)
        phase = np.mod(t - full, period)
        after = 0.8 * base + (1.0 - 0.8 * base) * phase / period
        return np.where(t < full, leak, after)

    def pod_restarts(self, s: str, replica: int, t: np.ndarray) -> np.ndarray:
        if not self.on(s):
            return np.zeros_like(t)
        if self.kind == "memory_pressure":
            full, period = self._pod_cycle(s, replica)
            return np.where(t < full, 0.0, np.floor((t - full) / period) + 1.0)
        if self.kind == "dependency_failure":  # crash-looping: a restart every couple of minutes
            i = self.intensity(t)
            return np.where(i > 0, np.floor(np.maximum(t - self.onset - 20.0 * replica, 0) / 150.0), 0.0)
        return np.zeros_like(t)

    def restarting(self, s: str, t: np.ndarray) -> np.ndarray:
        n = self.topo.nodes[s].svc.replicas
        down = np.zeros_like(t)
        for r in range(n):
            full, period = self._pod_cycle(s, r)
            phase = np.mod(t - full, period)
            down += ((t >= full) & (phase < RESTART_DOWN_S)).astype(np.float64)
        return down / n

    def disk_extra(self, s: str, base: float, t: np.ndarray) -> np.ndarray:
        if not self.on(s) or self.kind != "disk_pressure":
            return np.zeros_like(t)
        fill_start = self.onset - 35.0 * 60.0
        filling = (0.992 - base) * np.clip((t - fill_start) / (self.onset - fill_start), 0.0, 1.0)
        return np.where(t >= self.onset, 0.997 - base, filling)

    def network_errors(self, s: str, t: np.ndarray) -> np.ndarray:
        """Packet-level trouble on the target's interfaces (errors and drops per second)."""
        if not self.on(s) or self.kind != "network":
            return np.zeros_like(t)
        return 45.0 * self.fault.magnitude * self.intensity(t)


def timeout_share(median_ms: np.ndarray, sigma: np.ndarray | float, timeout_ms: float) -> np.ndarray:
    """P(latency > timeout) for a log-normal latency with this median and shape."""
    z = (np.log(timeout_ms) - np.log(np.maximum(median_ms, 1e-3))) / np.maximum(sigma, 1e-3)
    return 0.5 * erfc(z / math.sqrt(2.0))


def erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function, vectorised (Numerical Recipes' erfcc, |error| < 1.2e-7)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (
        -z * z
        - 1.26551223
        + t
        * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t
                        * (
                            0.27886807
                            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                        )
                    )
                )
            )
        )
    )
    r = t * np.exp(poly)
    return np.where(x >= 0, r, 2.0 - r)
