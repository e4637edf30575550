"""One day's metric folder: per-pod minute metrics, the user-facing golden signals, the call graph and
per-edge medians, all derived from the same simulated requests as the spans."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .fmt import go_time, num, write_csv
from .simulate import Collector, Day
from .system import ENTRY, NODE_IPS, System

POD_HEADER = [
    "Time", "TimeStamp", "PodName", "CpuUsage(m)", "CpuUsageRate(%)", "MemoryUsage(Mi)", "MemoryUsageRate(%)",
    "SyscallRead", "SyscallWrite", "NetworkReceiveBytes", "NetworkTransmitBytes", "PodClientLatencyP90(s)",
    "PodServerLatencyP90(s)", "PodClientLatencyP95(s)", "PodServerLatencyP95(s)", "PodClientLatencyP99(s)",
    "PodServerLatencyP99(s)", "PodWorkload(Ops)", "PodSuccessRate(%)", "NodeCpuUsageRate(%)",
    "NodeMemoryUsageRate(%)", "NodeNetworkReceiveBytes",
]  # fmt: skip
FRONT_HEADER = ["Time", "TimeStamp", "ServiceName", "SuccessRate(%)"] + [
    f"LatencyP{q}(s)" for q in (50, 90, 95, 99)
]
NS = 1_000_000_000


def _overlap(day: Day, start: float, end: float) -> np.ndarray:
    """Share of each window [end - 60, end) that falls in [start, end)."""
    ws = day.starts()
    return np.clip((np.minimum(ws + 60, end) - np.maximum(ws, start)) / 60, 0, 1)


def _resources(system: System, day: Day, col: Collector, with_faults: bool, rng: np.random.Generator):
    """CPU, memory, syscalls and network per pod, driven by its workload; faults and noise on top."""
    out: dict[str, dict[str, np.ndarray]] = {}
    n, ends = day.windows, day.starts() + 60
    for name, svc in system.services.items():
        ops = col.count("server", name) / 60
        jitter = np.exp(0.08 * rng.standard_normal(n))
        cpu = (svc.cpu_idle + svc.cpu_per_rps * ops) * jitter
        mem = svc.mem_mi * (1 + np.cumsum(rng.normal(0, 0.0015, n)))  # heaps creep, they do not jump
        for e in day.noise:
            if e.kind == "cpu" and e.target == name:
                cpu = cpu * (1 + (e.size - 1) * _overlap(day, e.start, e.end))
        for f in day.faults if with_faults else ():
            if f.service != name:
                continue
            if f.kind in ("cpu_contention", "cpu_consumed"):
                cpu = cpu * (1 + (f.size["cpu"] - 1) * _overlap(day, f.start, f.end))
            elif f.kind == "memory_leak":
                live = (ends > f.start) & (ends - 60 < f.end)
                mem = mem * (
                    1 + live * (f.size["mem"] - 1) * np.clip((ends - f.start) / (f.end - f.start), 0, 1)
                )
        cpu = np.minimum(cpu, 0.98 * svc.cpu_limit)
        mem = np.round(np.minimum(mem, 0.99 * svc.mem_limit) * 256) / 256  # whole 4 KiB pages
        reads = np.round(ops * 60 * svc.sys_per_req * np.exp(0.1 * rng.standard_normal(n)))
        reads[0] = 0  # a rate needs two samples
        out[name] = {
            "cpu": cpu,
            "mem": mem,
            "read": reads,
            "write": np.round(reads * rng.uniform(0.7, 0.9)),
            "rx": ops * svc.rx_per_req * np.exp(0.1 * rng.standard_normal(n)) + 300,
            "tx": ops * svc.tx_per_req * np.exp(0.1 * rng.standard_normal(n)) + 500,
            "ops": ops,
        }
    return out


def _nodes(system: System, res: dict[str, dict[str, np.ndarray]], n: int, rng: np.random.Generator):
    """Node-level columns are shared by every pod on the node, noisy neighbours included."""
    nodes = {}
    for ip in NODE_IPS:
        pods = [s for s, svc in system.services.items() if svc.node_ip == ip]
        cpu = sum((res[s]["cpu"] for s in pods), np.zeros(n))
        mem = sum((res[s]["mem"] for s in pods), np.zeros(n))
        rx = sum((res[s]["rx"] for s in pods), np.zeros(n))
        nodes[ip] = (
            rng.uniform(6, 20) + cpu / 16000 * 100 + rng.normal(0, 0.3, n),
            rng.uniform(20, 40) + mem / 65536 * 100 + rng.normal(0, 0.05, n),
            rng.uniform(2e4, 2e5) + rx + np.abs(rng.normal(0, 3e3, n)),
        )
    return nodes


def _stamps(day: Day, offset: float, rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """A collector samples every minute a bit after the window's end, drifting by a few ms."""
    first = int(day.first) * NS  # whole seconds: integer nanoseconds keep the digits honest
    start = first + 490_000_000
    ns = [first + k * 60 * NS + int((offset + rng.normal(0, 0.008)) * NS) for k in range(day.windows)]
    return [go_time(t, start) for t in ns], [t // NS for t in ns]


def _filled(v: np.ndarray) -> np.ndarray:
    """Edge medians are carried over minutes without calls, as the real files have no gaps."""
    ok = ~np.isnan(v)
    if not ok.any():
        return np.full(len(v), 0.003)
    idx = np.where(ok, np.arange(len(v)), 0)
    np.maximum.accumulate(idx, out=idx)
    v = v[idx]
    return np.where(np.isnan(v), v[ok.argmax()], v)


def write_metrics(
    folder: Path, system: System, day: Day, col: Collector, with_faults: bool, seed: int
) -> None:
    rng = np.random.default_rng([seed, day.index, 2])  # the same noise for the baseline and the incident
    res = _resources(system, day, col, with_faults, rng)
    nodes = _nodes(system, res, day.windows, rng)
    qs = (0.9, 0.95, 0.99)
    for i, (name, svc) in enumerate(system.services.items()):
        pod, r, node = system.pod(name, day.index), res[name], nodes[svc.node_ip]
        times, stamps = _stamps(day, 0.8 + 0.0004 * i, rng)
        sp, cp = col.quantiles("server", name, qs), col.quantiles("client", name, qs)
        rows = [
            [times[k], stamps[k], pod, num(r["cpu"][k]), num(r["cpu"][k] / svc.cpu_limit * 100)]
            + [
                num(r["mem"][k]),
                num(r["mem"][k] / svc.mem_limit * 100),
                int(r["read"][k]),
                int(r["write"][k]),
            ]
            + [num(r["rx"][k]), num(r["tx"][k]), num(cp[0][k]), num(sp[0][k]), num(cp[1][k]), num(sp[1][k])]
            + [num(cp[2][k]), num(sp[2][k]), num(r["ops"][k]), 0, num(node[0][k]), num(node[1][k])]
            + [num(node[2][k])]
            for k in range(day.windows)
        ]
        write_csv(folder / f"{pod}_metric.csv.gz", POD_HEADER, rows)
    times, stamps = _stamps(day, 0.57, rng)
    lat = col.quantiles("front", ENTRY, (0.5, 0.9, 0.95, 0.99))
    total, errors = col.count("front", ENTRY), col.count("errors", ENTRY)
    ok = np.where(total > 0, 100 * (1 - errors / np.maximum(total, 1)), 100.0)
    rows = [
        [times[k], stamps[k], "Frontend", num(int(ok[k]) if ok[k] == 100 else ok[k])]
        + [num(q[k]) for q in lat]
        for k in range(day.windows)
    ]
    write_csv(folder / "front_service.csv.gz", FRONT_HEADER, rows)
    edges = col.keys("src")
    order = np.random.default_rng([seed, day.index, 3])  # one column order per file, as in the real data
    for name, kind, offset in (("source_50", "src", 1.02), ("destination_50", "dst", 0.98)):
        cols = [edges[j] for j in order.permutation(len(edges))]
        med = {e: _filled(col.quantiles(kind, e, (0.5,))[0]) for e in cols}
        times, stamps = _stamps(day, offset, rng)
        rows = [
            [times[k], stamps[k]] + [num(round(float(med[e][k]), 9)) for e in cols]
            for k in range(day.windows)
        ]
        write_csv(folder / f"{name}.csv.gz", ["time", "timestamp", *cols], rows)
    deps = [e.split("_") for e in edges] + [[s, svc.node_ip] for s, svc in system.services.items()]
    deps += [["loadgenerator", ip] for ip in order.choice(NODE_IPS, 2, replace=False)]
    write_csv(
        folder / "dependency.csv.gz",
        ["Source", "Target", "Weight"],
        [[a, b, 1] for a, b in order.permutation(deps)],
    )
