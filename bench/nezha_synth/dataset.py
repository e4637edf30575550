"""Plans the cases (who, what, when) and writes the whole dataset in the Nezha layout."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from .fmt import rfc3339, write_csv
from .metrics import write_metrics
from .render import Log, Renderer, Span, rows
from .simulate import FAULT_TYPES, Day, Fault, Noise, OpDraws, OpRun, collect, draw_day, evaluate, fault_size
from .system import ENTRY, System, build

FIRST_DATE = datetime(2023, 3, 14, tzinfo=UTC)
FAULTS_HEADER = "case_id,date,inject_time_utc,inject_epoch,root_cause_service,root_cause_pod,fault_type,trace_minutes_present_of_3"
TRACE_HEADER = "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration"
LOG_HEADER = "Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log"


@dataclass(frozen=True)
class Case:
    fault: Fault
    day: int
    date: str
    pod: str
    trace_windows: tuple[int, ...]  # of the injection minute and the two after it, those that survive
    log_windows: tuple[int, ...]


def _noise(system: System, day: Day, rng: np.random.Generator) -> list[Noise]:
    traced = [s for s, svc in system.services.items() if svc.traced and s != ENTRY]
    out = []
    for _ in range(max(2, day.windows // 12)):
        start = day.first - 60 + float(rng.uniform(0, (day.windows - 3) * 60))
        kind = str(rng.choice(["cpu", "latency", "burst"]))
        if kind == "cpu":
            out.append(
                Noise(kind, str(rng.choice(list(system.services))), start, start + 60, rng.uniform(2, 4))
            )
        elif kind == "latency":
            end = start + rng.uniform(60, 120)
            out.append(
                Noise(kind, str(rng.choice(traced)), start, end, rng.uniform(30, 90), rng.uniform(0.3, 0.6))
            )
        else:
            op = system.operations[int(rng.integers(len(system.operations)))].name
            out.append(Noise(kind, op, start, start + rng.uniform(120, 180), rng.uniform(1.3, 1.7)))
    return out


def plan(system: System, cases: int, rng: np.random.Generator) -> tuple[list[Day], list[Case]]:
    """Cases 8-10 min apart over one day (up to 6 cases) or two; each day's metrics run from an hour
    before its first injection to 20 min after its last."""
    if cases < 1:
        raise ValueError("cases must be at least 1")
    candidates = sorted(s for s, svc in system.services.items() if svc.traced and s != ENTRY)
    targets = rng.choice(candidates, size=cases, replace=cases > len(candidates))
    per_day = [cases] if cases <= 6 else [(cases + 1) // 2, cases // 2]
    logged = _logged_cases(cases, rng)
    days, out, n = [], [], 0
    for index, count in enumerate(per_day):
        date = FIRST_DATE + timedelta(days=index)
        t = date.timestamp() + (10 + 4 * index) * 3600 + int(rng.integers(300, 3000))
        injections = []
        for _ in range(count):
            injections.append(t)
            t += int(rng.integers(480, 601))
        first = (injections[0] - 3600) // 60 * 60 + int(rng.integers(5, 55))
        day = Day(index, date.strftime("%Y-%m-%d"), first, int((injections[-1] + 1200 - first) // 60) + 2)
        for c, inject in enumerate(injections):
            kind = FAULT_TYPES[n % len(FAULT_TYPES)]
            nxt = injections[c + 1] if c + 1 < count else inject + 480
            end = nxt - 20 if kind == "memory_leak" else inject + float(rng.uniform(180, 300))
            case_id = f"synth-rail-{day.date}-{c + 1:02d}"
            fault = Fault(case_id, str(targets[n]), kind, inject, end, fault_size(kind, rng))
            day.faults.append(fault)
            minutes = tuple(day.minute_window(inject + 60 * m) for m in range(3))
            dropped = int(rng.integers(3)) if rng.random() < 0.25 else -1
            kept = tuple(w for m, w in enumerate(minutes) if m != dropped)
            out.append(
                Case(
                    fault,
                    index,
                    day.date,
                    system.pod(fault.service, index),
                    kept,
                    minutes if n in logged else (),
                )
            )
            n += 1
        day.noise = _noise(system, day, rng)
        days.append(day)
    return days, out


def _logged_cases(cases: int, rng: np.random.Generator) -> set[int]:
    """About a third of the cases keep logs; the first exception and `return` cases always do."""
    must = {i for i in (3, 4) if i < cases}
    rest = [i for i in range(cases) if i not in must]
    extra = max(0, -(-cases // 3) - len(must))
    return must | {int(i) for i in rng.choice(rest, size=min(extra, len(rest)), replace=False)}


def _hhmm(day: Day, window: int) -> str:
    return datetime.fromtimestamp(day.first + 60 * window, UTC).strftime("%H_%M")


def _render(
    system: System,
    day: Day,
    draws: list[OpDraws],
    runs: list[OpRun],
    traces: set[int],
    logs: set[int],
    seed: int,
) -> tuple[dict[int, list[Span]], dict[int, list[Log]]]:
    """Spans of the kept (sampled) traces in `traces` windows, and every request's log lines in `logs`."""
    renderer = Renderer(system, day, random.Random(f"{seed}/{day.index}/{sorted(traces)}"))
    spans: dict[int, list[list[Span]]] = {w: [] for w in traces}
    lines: dict[int, list[Log]] = {w: [] for w in logs}
    for x, run in zip(draws, runs, strict=True):
        wanted = np.isin(x.w, list(logs)) | (np.isin(x.w, list(traces)) & x.sampled)
        for r in np.flatnonzero(wanted):
            w = int(x.w[r])
            trace, log = renderer.request(x, run, int(r), logs=w in logs)
            if w in traces and x.sampled[r]:
                spans[w].append(trace)
            if w in logs:
                lines[w].extend(log)
    for group_ in lines.values():
        group_.sort(key=lambda line: line[0])
    order = random.Random(seed + day.index)
    for group in spans.values():
        order.shuffle(group)  # the real files list traces in no particular order
    return {w: [s for g in group for s in g] for w, group in spans.items()}, lines


def _write_logs(path: Path, lines: list[Log]) -> None:
    rows_ = [
        [rfc3339(ns), ns, node, pod, "server", trace, span, text]
        for ns, node, pod, trace, span, text in lines
    ]
    write_csv(path, LOG_HEADER.split(","), rows_)


def _clear(out: Path) -> None:
    """Removes a previous run's files (stale pods would linger otherwise), never a dataset of another origin."""
    faults = out / "faults.csv"
    ids = [line.split(",", 1)[0] for line in faults.read_text().splitlines()[1:]] if faults.is_file() else []
    if (out / "incident").exists() or (out / "baseline").exists() or faults.exists():
        if not ids or not all(i.startswith("synth-") for i in ids):
            raise FileExistsError(
                f"{out} holds a dataset this generator did not write: choose another directory"
            )
        for sub in ("incident", "baseline"):
            shutil.rmtree(out / sub, ignore_errors=True)
        faults.unlink()


def write_dataset(out: Path, services: int = 46, cases: int = 12, seed: int = 0) -> Path:
    """Writes a synthetic train-ticket-like incident dataset in the Nezha layout under `out`."""
    out = Path(out)
    _clear(out)
    rng = np.random.default_rng(seed)
    system = build(services, rng)
    days, case_list = plan(system, cases, rng)
    for day in days:
        draws, ui = draw_day(system, day, np.random.default_rng([seed, day.index, 1]))
        mine = [c for c in case_list if c.day == day.index]
        quiet = min(day.minute_window(day.faults[-1].start) + 18, day.windows - 1)  # well after the last case
        minutes = {
            "incident": (
                {w for c in mine for w in c.trace_windows},
                {w for c in mine for w in c.log_windows},
            ),
            "baseline": ({quiet}, set()),  # one fault-free minute of traces
        }
        for folder, (traces, logs) in minutes.items():
            runs = [evaluate(x, day, folder == "incident") for x in draws]
            root = out / folder / day.date
            col = collect(system, day, draws, ui, runs)
            write_metrics(root / "metric", system, day, col, folder == "incident", seed)
            spans, lines = _render(system, day, draws, runs, traces, logs, seed)
            for w, group in spans.items():
                write_csv(
                    root / "trace" / f"{_hhmm(day, w)}_trace.csv.gz", TRACE_HEADER.split(","), rows(group)
                )
            for w, group in lines.items():
                _write_logs(root / "log" / f"{_hhmm(day, w)}_log.csv.gz", group)
    fault_rows = [
        [c.fault.case_id, c.date, datetime.fromtimestamp(c.fault.start, UTC).strftime("%Y-%m-%d %H:%M:%S")]
        + [int(c.fault.start), c.fault.service, c.pod, c.fault.kind, len(c.trace_windows)]
        for c in case_list
    ]
    write_csv(out / "faults.csv", FAULTS_HEADER.split(","), fault_rows, gz=False)
    return out
