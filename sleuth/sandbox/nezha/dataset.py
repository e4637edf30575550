"""Locating and reading a Nezha-layout dataset: gzipped CSVs, parsed once, cached thread-safely.

The layout is the Nezha study's (per-pod minute metrics, per-minute span and log files, a
`faults.csv`), whatever system it records: OnlineBoutique is the development set, and any other
system in the same layout (TrainTicket's 40+ services, say) is read the same way. Nothing about a
system is assumed: its entry service, Kubernetes namespace and environment name are read from the
data (`system`).

A dataset is never copied into the repository: it is read at run time from `$SLEUTH_NEZHA_DIR` or,
by default, from `<repo>/../shared/datasets/nezha-onlineboutique`. Ground truth (`faults.csv`'s
root cause and fault type) is split off into `Label` here and only evaluation code reads it; a
world is built from an `Incident`, which says when a fault was injected but never what or where.
"""

from __future__ import annotations

import calendar
import csv
import gzip
import io
import json
import math
import os
import threading
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

import sleuth

ENV_VAR = "SLEUTH_NEZHA_DIR"
DATASET = "nezha-onlineboutique"
T = TypeVar("T")


class DatasetMissing(FileNotFoundError):
    pass


def dataset_dir() -> Path:
    """`$SLEUTH_NEZHA_DIR`, else `<repo>/../shared/datasets/nezha-onlineboutique`."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser().resolve()
    repo = Path(sleuth.__file__).resolve().parents[1]
    return (repo.parent / "shared" / "datasets" / DATASET).resolve()


def require_dir(root: Path | None = None) -> Path:
    root = root or dataset_dir()
    if not (root / "faults.csv").is_file():
        raise DatasetMissing(
            f"Nezha-layout dataset not found at {root} (faults.csv missing): "
            f"set {ENV_VAR} to the dataset's directory"
        )
    return root


# --- a small thread-safe cache: each key is computed once, different keys load in parallel -------
_guard = threading.Lock()
_cache: dict[Hashable, Any] = {}
_locks: dict[Hashable, threading.Lock] = {}


def cached(key: Hashable, load: Callable[[], T]) -> T:
    with _guard:
        if key in _cache:
            return _cache[key]  # type: ignore[no-any-return]
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        with _guard:
            if key in _cache:
                return _cache[key]  # type: ignore[no-any-return]
        value = load()
        with _guard:
            _cache[key] = value
        return value


# --- cases ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Incident:
    """What a world may know about a case: the day and the moment of injection, never the fault."""

    case_id: str
    date: str  # YYYY-MM-DD, the folder of the day's telemetry
    inject: float  # epoch seconds


@dataclass(frozen=True)
class Label:
    """Ground truth, for evaluation only."""

    service: str
    pod: str
    fault_type: str


def read_cases(root: Path | None = None) -> list[tuple[Incident, Label]]:
    root = require_dir(root)

    def load() -> list[tuple[Incident, Label]]:
        with open(root / "faults.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        return [
            (
                Incident(r["case_id"], r["date"], float(r["inject_epoch"])),
                Label(r["root_cause_service"], r["root_cause_pod"], r["fault_type"]),
            )
            for r in rows
        ]

    return cached(("cases", root), load)


def incident(case_id: str, root: Path | None = None) -> Incident:
    for inc, _ in read_cases(root):
        if inc.case_id == case_id:
            return inc
    raise KeyError(f"unknown Nezha case {case_id!r}")


def next_injection(inc: Incident, root: Path | None = None) -> float | None:
    later = [i.inject for i, _ in read_cases(root) if i.date == inc.date and i.inject > inc.inject]
    return min(later) if later else None


# --- parsing helpers -------------------------------------------------------------------------------
def service_of(pod: str) -> str:
    """`frontend-579b9bff58-t2dbm` → `frontend`: strip the replica-set and pod hash segments."""
    return pod.rsplit("-", 2)[0]


def parse_time(text: str) -> float:
    """`2022-08-22 03:51:19.799087274 +0000 UTC m=+0.3` → epoch seconds (UTC). The `Time` column is
    used rather than `TimeStamp`, which is corrupt in one file (adservice, 2022-08-22: +2e8 s)."""
    s = text.strip()
    whole = calendar.timegm(
        (int(s[0:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]), int(s[17:19]))
    )
    frac = 0.0
    if len(s) > 19 and s[19] == ".":
        digits = s[20:].split(" ", 1)[0]
        frac = float("0." + digits) if digits.isdigit() else 0.0
    return whole + frac


def _num(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        return math.nan
    return v if math.isfinite(v) else math.nan


def read_csv(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt", newline="") as fh:
        return list(csv.reader(io.StringIO(fh.read())))


@dataclass
class Frame:
    """A per-minute table: sample times (epoch s, ascending) and numeric columns."""

    t: np.ndarray
    cols: dict[str, np.ndarray]

    def col(self, name: str) -> np.ndarray:
        return self.cols[name]


def _frame(rows: list[list[str]], time_col: int, first_value: int) -> Frame:
    header, body = rows[0], rows[1:]
    body = [r for r in body if len(r) == len(header)]
    t = np.array([parse_time(r[time_col]) for r in body], dtype=np.float64)
    order = np.argsort(t, kind="stable")
    cols = {
        name: np.array([_num(r[i]) for r in body], dtype=np.float64)[order]
        for i, name in enumerate(header)
        if i >= first_value
    }
    return Frame(t[order], cols)


@dataclass
class DayMetrics:
    pods: dict[str, tuple[str, Frame]]  # service → (pod name, per-pod metrics)
    front: Frame | None  # the user-facing golden signals, when the day has them
    dest50: Frame | None  # per-edge median latency, columns "<caller>_<callee>"


def day_metrics(date: str, root: Path | None = None) -> DayMetrics:
    root = require_dir(root)

    def load() -> DayMetrics:
        folder = root / "incident" / date / "metric"
        pods: dict[str, tuple[str, Frame]] = {}
        for path in sorted(folder.glob("*_metric.csv.gz")):
            pod = path.name.removesuffix("_metric.csv.gz")
            pods[service_of(pod)] = (pod, _frame(read_csv(path), 0, 3))
        front, dest = folder / "front_service.csv.gz", folder / "destination_50.csv.gz"
        return DayMetrics(
            pods,
            _frame(read_csv(front), 0, 3) if front.is_file() else None,
            _frame(read_csv(dest), 0, 2) if dest.is_file() else None,
        )

    return cached(("metrics", root, date), load)


# --- traces and logs ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RawSpan:
    trace_id: str
    span_id: str
    parent_id: str  # "root" for a root span
    pod: str
    name: str
    start_ns: int
    end_ns: int


def read_trace(path: Path) -> list[RawSpan]:
    rows = read_csv(path)
    idx = {h: i for i, h in enumerate(rows[0])}
    a, b, c, d, e = idx["TraceID"], idx["SpanID"], idx["ParentID"], idx["PodName"], idx["OperationName"]
    s, f = idx["StartTimeUnixNano"], idx["EndTimeUnixNano"]
    out = []
    for r in rows[1:]:
        if len(r) != len(rows[0]):
            continue
        out.append(RawSpan(r[a], r[b], r[c], r[d], r[e], int(r[s]), int(r[f])))
    return out


@dataclass(frozen=True, slots=True)
class RawLog:
    ts: float
    pod: str
    container: str
    node: str
    trace_id: str
    span_id: str
    raw: str  # the container runtime's JSON line


def read_logs(path: Path) -> list[RawLog]:
    rows = read_csv(path)
    idx = {h: i for i, h in enumerate(rows[0])}
    out = []
    for r in rows[1:]:
        if len(r) != len(rows[0]):
            continue
        out.append(
            RawLog(
                int(r[idx["TimeUnixNano"]]) / 1e9,
                r[idx["PodName"]],
                r[idx["Container"]],
                r[idx["Node"]],
                r[idx["TraceID"]],
                r[idx["SpanID"]],
                r[idx["Log"]],
            )
        )
    return out


def pod_nodes(date: str, root: Path | None = None) -> dict[str, str]:
    """Pod → Kubernetes node (an IP here), as the day's log lines record it; empty when unknown."""
    root = require_dir(root)

    def load() -> dict[str, str]:
        out: dict[str, str] = {}
        for path in sorted((root / "incident" / date / "log").glob("*_log.csv.gz")):
            for rec in read_logs(path):
                out.setdefault(rec.pod, rec.node)
        return out

    return cached(("nodes", root, date), load)


def minute_files(folder: Path, suffix: str, inject: float, before: int = 1, after: int = 3) -> list[Path]:
    """Per-minute files (`HH_MM_<suffix>.csv.gz`) named within [inject minute - before, + after]."""
    base = int(inject // 60)
    out = []
    for m in range(base - before, base + after + 1):
        hh, mm = divmod(m % 1440, 60)
        path = folder / f"{hh:02d}_{mm:02d}_{suffix}.csv.gz"
        if path.is_file():
            out.append(path)
    return out


def baseline_trace_files(root: Path) -> list[Path]:
    return sorted((root / "baseline").glob("*/trace/*_trace.csv.gz"))


def log_payload(raw: str) -> dict[str, Any]:
    """The container runtime wraps each line as {"log": "...", "stream": ...}; apps log JSON or text."""
    try:
        outer = json.loads(raw)
    except ValueError:
        return {"text": raw}
    inner = outer.get("log", "") if isinstance(outer, dict) else str(outer)
    if not str(inner).lstrip().startswith("{"):
        return {"text": str(inner)}
    try:
        parsed = json.loads(inner)
    except ValueError:
        return {"text": str(inner)}
    return parsed if isinstance(parsed, dict) else {"text": str(inner)}


# --- the system a dataset records ---------------------------------------------------------------------
# The served environment's name for a dataset directory, where a shorter one is customary.
ENV_NAMES = {DATASET: "nezha-ob"}


@dataclass(frozen=True)
class System:
    """What a served world calls the recorded system: read from the data, never assumed."""

    entry: str  # the user-facing service: it owns the traces' root spans; the alert watches it
    namespace: str  # Kubernetes namespace: the word before the date in the case ids ("nezha-hipster-…")
    env: str  # the served `env` tag: the dataset directory's name
    services: tuple[str, ...]


def system(root: Path | None = None) -> System:
    root = require_dir(root)

    def load() -> System:
        cases = read_cases(root)
        services = sorted({s for inc, _ in cases for s in day_metrics(inc.date, root).pods})
        return System(
            entry=_entry_service(root, [inc.date for inc, _ in cases], services),
            namespace=_namespace([inc.case_id for inc, _ in cases]),
            env=ENV_NAMES.get(root.name, root.name.lower().replace("_", "-")),
            services=tuple(services),
        )

    return cached(("system", root), load)


def _entry_service(root: Path, dates: list[str], services: list[str]) -> str:
    """The service owning most root spans of the fault-free traces; else the caller nobody calls."""
    roots: Counter[str] = Counter()
    for path in baseline_trace_files(root):
        roots.update(service_of(s.pod) for s in read_trace(path) if s.parent_id == "root")
    if roots:
        return roots.most_common(1)[0][0]
    for date in dict.fromkeys(dates):
        dep = root / "incident" / date / "metric" / "dependency.csv.gz"
        if dep.is_file():
            rows = read_csv(dep)[1:]
            callers = Counter(r[0] for r in rows if len(r) >= 2)
            called = {r[1] for r in rows if len(r) >= 2}
            top = [c for c, _ in callers.most_common() if c not in called]
            if top:
                return top[0]
    if not services:
        raise DatasetMissing(f"no per-pod metrics under {root}/incident: not a Nezha-layout dataset")
    return services[0]


def _namespace(case_ids: list[str]) -> str:
    words = [w for w in (case_ids[0].split("-") if case_ids else []) if not w.isdigit()]
    return words[-1] if words else "default"
