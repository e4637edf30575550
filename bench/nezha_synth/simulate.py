"""Requests through the system, vectorized per operation and call-tree node, and the faults' effects.

A day's requests and random draws are made once; the fault-free run (the baseline) and the run with
the faults are two evaluations of the same draws, so they differ only by what the faults did.
Durations are in milliseconds. Metric window k covers [first + 60(k-1), first + 60k): the minute that
ends at the k-th metric sample, which is also what the trace file named after that minute holds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .system import TOTAL_RPS, UI_SHARE, Operation, System

GAP_MS = 0.15  # between consecutive calls of one handler
SAMPLED = 0.25  # share of trace ids whose whole trace is kept
# Istio's request-duration histogram buckets (ms); the metrics are histogram quantiles over them.
BOUNDS_S = np.array([0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000]) / 1000
FAULT_TYPES = ("cpu_contention", "cpu_consumed", "network_delay", "exception", "return", "memory_leak")


@dataclass(frozen=True)
class Fault:
    case_id: str
    service: str
    kind: str
    start: float  # injection, epoch s
    end: float  # when its effects stop
    size: dict[str, float]


@dataclass(frozen=True)
class Noise:
    """Something unremarkable that a real system does now and then, uncorrelated with the faults."""

    kind: str  # "cpu" (a spike, no latency), "latency" (a short blip), "burst" (one operation's traffic)
    target: str  # service, or operation for a burst
    start: float
    end: float
    size: float
    frac: float = 1.0


@dataclass
class Day:
    index: int
    date: str
    first: float  # the first metric sample (epoch s, whole second); window k ends at first + 60k
    windows: int
    faults: list[Fault] = field(default_factory=list)
    noise: list[Noise] = field(default_factory=list)

    def window(self, t: float) -> int:
        return int((t - self.first + 60) // 60)

    def minute_window(self, t: float) -> int:
        """The window whose sample falls in t's minute: what the file `HH_MM` of that minute holds."""
        return int((t // 60 * 60 - self.first // 60 * 60) // 60)

    def starts(self) -> np.ndarray:
        return self.first - 60 + 60.0 * np.arange(self.windows)


def fault_size(kind: str, rng: np.random.Generator) -> dict[str, float]:
    if kind in ("cpu_contention", "cpu_consumed"):
        lat = (2.0, 5.0) if kind == "cpu_contention" else (1.5, 4.0)
        return {"cpu": rng.uniform(3, 8), "lat": rng.uniform(*lat), "extra": rng.uniform(150, 500)}
    if kind == "network_delay":
        return {"delay": rng.uniform(100, 300)}
    if kind == "exception":
        return {"p": rng.uniform(0.5, 0.95), "backoff": rng.uniform(200, 500), "kind": float(rng.integers(4))}
    if kind == "return":
        return {"p": rng.uniform(0.1, 0.35)}
    return {"mem": rng.uniform(2, 3), "lat": rng.uniform(0.5, 1.5), "extra": rng.uniform(100, 300)}


@dataclass
class OpDraws:
    op: Operation
    t: np.ndarray  # request start, epoch s
    w: np.ndarray  # metric window
    sampled: np.ndarray  # the trace is kept
    d: list[dict[str, np.ndarray]]  # per node


def _drift(windows: int, rng: np.random.Generator, amplitude: tuple[float, float], step: float) -> np.ndarray:
    k = np.arange(windows)
    wave = rng.uniform(*amplitude) * np.sin(2 * np.pi * k / rng.uniform(40, 120) + rng.uniform(0, 6.3))
    walk = np.zeros(windows)
    for i in range(1, windows):  # AR(1): workload wanders, it does not jump
        walk[i] = 0.8 * walk[i - 1] + rng.normal(0, step)
    return np.clip(1 + wave + walk, 0.5, None)


def draw_day(
    system: System, day: Day, rng: np.random.Generator
) -> tuple[list[OpDraws], tuple[np.ndarray, ...]]:
    """Every request of the day and its per-node random draws; plus the UI's (untraced) page loads:
    their windows and durations."""
    total = sum(op.weight for op in system.operations)
    starts, out = day.starts(), []
    # users come and go; the mix of what they do drifts less
    users = _drift(day.windows, rng, (0.1, 0.25), 0.03)
    for op in system.operations:
        rate = TOTAL_RPS * op.weight / total * users * _drift(day.windows, rng, (0.02, 0.06), 0.01)
        for e in day.noise:
            if e.kind == "burst" and e.target == op.name:
                rate[day.window(e.start) : day.window(e.end) + 1] *= e.size
        counts = rng.poisson(rate * 60)
        w = np.repeat(np.arange(day.windows), counts)
        t = starts[w] + rng.random(len(w)) * 60
        order = np.argsort(t, kind="stable")
        t, w, n = t[order], w[order], len(w)
        d = []
        for name in op.services:
            svc = system.services[name]
            slow = (rng.random(n) < 0.015) * rng.exponential(40, n)  # GC pauses, cold caches
            d.append(
                {
                    "self": svc.self_ms * np.exp(svc.sigma * rng.standard_normal(n)) + slow,
                    "db": svc.db_ms * np.exp(0.35 * rng.standard_normal(n)),
                    "pre": 0.3 + rng.exponential(0.4, n),
                    "post": 0.1 + rng.exponential(0.25, n),
                    # >= 1 ms, so that the callee's start, truncated to the ms, stays inside the client span
                    "out": 1.0 + rng.exponential(0.8, n),
                    "back": 0.2 + rng.exponential(0.3, n),
                    "u": rng.random(n),
                    "un": rng.random(n),
                    "x": rng.exponential(1.0, n),
                    "r2": rng.uniform(0.8, 1.2, n),
                }
            )
        out.append(OpDraws(op, t, w, rng.random(n) < SAMPLED, d))
    ui = np.repeat(np.arange(day.windows), rng.poisson(UI_SHARE * TOTAL_RPS * 60 * users))
    return out, (ui, 2.0 * np.exp(0.4 * rng.standard_normal(len(ui))))


@dataclass
class OpRun:
    """One evaluation of an operation's draws: per node arrays over its requests."""

    server: list[np.ndarray]  # the (first) server span
    cl1: list[np.ndarray]  # the caller's client span for it
    server2: list[np.ndarray]  # the retried call's server span (where retry)
    cl2: list[np.ndarray]
    retry: list[np.ndarray]  # the call threw, so the caller called again
    backoff: list[np.ndarray]
    executed: list[np.ndarray]  # the parent made the call (given the parent ran)
    reach: list[np.ndarray]  # the node ran
    own: list[np.ndarray]  # it threw
    val: list[np.ndarray]  # its caller rejected its (wrong) return value
    delay: list[np.ndarray]
    self_ms: list[np.ndarray]
    failed: np.ndarray  # the user got an error


def _effects(service: str, x: OpDraws, i: int, day: Day, with_faults: bool) -> tuple[np.ndarray, ...]:
    d, t = x.d[i], x.t
    self_ms, zero = d["self"], np.zeros(len(t))
    delay, backoff, own, val = zero, zero, zero.astype(bool), zero.astype(bool)
    for e in day.noise:
        if e.kind == "latency" and e.target == service:
            self_ms = self_ms + ((t >= e.start) & (t < e.end) & (d["un"] < e.frac)) * d["x"] * e.size
    for f in day.faults if with_faults else ():
        if f.service != service:
            continue
        act, s = (t >= f.start) & (t < f.end), f.size
        if f.kind in ("cpu_contention", "cpu_consumed"):
            self_ms = np.where(act, self_ms * s["lat"] + d["x"] * s["extra"], self_ms)
        elif f.kind == "memory_leak":  # GC works harder as the heap fills: mild, late
            p = act * np.clip((t - f.start) / (f.end - f.start), 0, 1)
            self_ms = self_ms * (1 + s["lat"] * p**2) + (d["u"] < 0.12 * p) * d["x"] * s["extra"]
        elif f.kind == "network_delay":
            delay = delay + act * s["delay"] * (0.9 + 0.2 * d["u"])
        elif f.kind == "exception":
            own = own | (act & (d["u"] < s["p"]))
            backoff = backoff + act * s["backoff"] * d["r2"]
        elif f.kind == "return":
            val = val | (act & (d["u"] < s["p"]))
    return self_ms, delay, backoff, own, val


def evaluate(x: OpDraws, day: Day, with_faults: bool) -> OpRun:
    op = x.op
    n = len(op.services)
    eff = [_effects(op.services[i], x, i, day, with_faults) for i in range(n)]
    arrays: dict[str, list[np.ndarray]] = {k: [np.empty(0)] * n for k in OpRun.__dataclass_fields__}
    client, visible = [np.empty(0)] * n, [np.empty(0)] * n
    arrays["executed"][0] = np.ones(len(x.t), bool)
    for i in reversed(range(n)):  # pre-order reversed: callees before callers
        d, (s, delay, backoff, own, val) = x.d[i], eff[i]
        db = d["db"]  # zero for services without a table
        dur = d["pre"] + d["post"] + np.where(own, 0.3 * s, s + db + GAP_MS * (db > 0))
        alive, fail = ~own, own.copy()
        for j in op.children[i]:  # sequential calls; the first failure aborts the rest
            arrays["executed"][j] = alive
            dur = dur + alive * (client[j] + GAP_MS)
            fail, alive = fail | (alive & visible[j]), alive & ~visible[j]
        server2 = d["pre"] + 0.3 * s * d["r2"] + d["post"]
        cl1 = d["out"] + dur + d["back"] + delay
        cl2 = d["out"] + server2 + d["back"] + delay
        client[i] = cl1 + own * (backoff + cl2 + GAP_MS)
        visible[i] = fail | val
        for k, v in (("server", dur), ("cl1", cl1), ("server2", server2), ("cl2", cl2), ("retry", own)):
            arrays[k][i] = v
        for k, v in (("backoff", backoff), ("own", own), ("val", val), ("delay", delay), ("self_ms", s)):
            arrays[k][i] = v
    arrays["reach"][0] = arrays["executed"][0]
    for i in range(1, n):
        arrays["reach"][i] = arrays["reach"][op.parents[i]] & arrays["executed"][i]
    return OpRun(**{k: v for k, v in arrays.items() if k != "failed"}, failed=visible[0])


class Collector:
    """Per-window samples of one run, keyed by (kind, service or edge); quantiles as Istio's would be."""

    def __init__(self, windows: int) -> None:
        self.windows = windows
        self.parts: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)

    def add(self, kind: str, key: str, w: np.ndarray, ms: np.ndarray) -> None:
        if len(w):
            self.parts[kind, key].append((w, ms / 1000))

    def keys(self, kind: str) -> list[str]:
        return sorted(k for (c, k) in self.parts if c == kind)

    def _cat(self, kind: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        parts = self.parts.get((kind, key), [])
        if not parts:
            return np.zeros(0, int), np.zeros(0)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def count(self, kind: str, key: str) -> np.ndarray:
        return np.bincount(self._cat(kind, key)[0], minlength=self.windows).astype(float)

    def quantiles(self, kind: str, key: str, qs: tuple[float, ...]) -> list[np.ndarray]:
        """histogram_quantile over the buckets, per window; NaN in windows without a sample."""
        w, v = self._cat(kind, key)
        nb = len(BOUNDS_S) + 1
        b = np.searchsorted(BOUNDS_S, v, side="left")  # bucket `le`: v <= bound
        counts = np.bincount(w * nb + b, minlength=self.windows * nb).reshape(self.windows, nb)
        cum = np.cumsum(counts, axis=1)
        total = cum[:, -1].astype(float)
        out = []
        for q in qs:
            rank = q * total
            idx = np.argmax(cum >= rank[:, None], axis=1)
            upper = np.append(BOUNDS_S, BOUNDS_S[-1])[idx]
            lower = np.where(idx > 0, np.append(0, BOUNDS_S)[idx], 0.0)
            prev = np.where(idx > 0, cum[np.arange(self.windows), idx - 1], 0)
            inside = np.maximum(counts[np.arange(self.windows), idx], 1)
            val = np.where(idx < nb - 1, lower + (upper - lower) * (rank - prev) / inside, BOUNDS_S[-1])
            out.append(np.where(total > 0, val, np.nan))
        return out


def collect(
    system: System, day: Day, draws: list[OpDraws], ui: tuple[np.ndarray, ...], runs: list[OpRun]
) -> Collector:
    col = Collector(day.windows)
    for x, run in zip(draws, runs, strict=True):
        op = x.op
        for i, svc in enumerate(op.services):
            m = run.reach[i]
            r = m & run.retry[i]
            col.add("server", svc, x.w[m], run.server[i][m])
            col.add("server", svc, x.w[r], run.server2[i][r])
            if i == 0:
                col.add("front", svc, x.w, run.server[0])
                col.add("errors", svc, x.w[run.failed], run.server[0][run.failed])
                continue
            caller, edge = op.services[op.parents[i]], f"{op.services[op.parents[i]]}_{svc}"
            for kind, key in (("client", caller), ("src", edge)):
                col.add(kind, key, x.w[m], run.cl1[i][m])
                col.add(kind, key, x.w[r], run.cl2[i][r])
            col.add("dst", edge, x.w[m], run.server[i][m])
            col.add("dst", edge, x.w[r], run.server2[i][r])
            db = m & ~run.own[i] & (x.d[i]["db"] > 0)
            col.add("client", svc, x.w[db], x.d[i]["db"][db])  # repository calls are outgoing calls too
    if "ts-ui-dashboard" in system.services:
        col.add("server", "ts-ui-dashboard", *ui)
    return col
