"""The synthetic train-ticket-like dataset (bench.nezha_synth) has the real Nezha dataset's layout.

Generated small (12 services, 4 cases) into a temporary directory; headers are compared with the
real OnlineBoutique files when those are present, and skipped with a message otherwise.
"""

from __future__ import annotations

import csv
import gzip
import inspect
import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bench.nezha_synth import write_dataset

REAL = Path(__file__).resolve().parents[3] / "shared/datasets/nezha-onlineboutique"
POD = re.compile(r"^(?P<service>[a-z0-9]+(?:-[a-z0-9]+)*)-[0-9a-f]{9,10}-[a-z0-9]{5}$")
GO_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? \+0000 UTC m=\+\d+\.\d{9}$")
SMALL = {"services": 12, "cases": 4, "seed": 3}


def rows(path: Path) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        return list(csv.reader(fh))


def faults(root: Path) -> list[dict[str, str]]:
    with open(root / "faults.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def service_of(pod: str) -> str:
    return pod.rsplit("-", 2)[0]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("synth"), **SMALL)


@pytest.fixture(scope="module")
def real() -> Path:
    if not (REAL / "faults.csv").is_file():
        pytest.skip(f"real Nezha dataset not found at {REAL}: header comparison skipped")
    return REAL


def test_files_exist(synth: Path) -> None:
    cases = faults(synth)
    assert len(cases) == SMALL["cases"]
    for date in {c["date"] for c in cases}:
        for part in ("incident", "baseline"):
            metric = synth / part / date / "metric"
            for name in ("front_service", "dependency", "source_50", "destination_50"):
                assert (metric / f"{name}.csv.gz").is_file(), f"{part}/{date}: {name} missing"
            assert len(list(metric.glob("*_metric.csv.gz"))) == SMALL["services"]
        assert len(list((synth / "baseline" / date / "trace").glob("*_trace.csv.gz"))) == 1
    for c in cases:
        trace = synth / "incident" / c["date"] / "trace"
        minute = int(c["inject_epoch"]) // 60 * 60
        names = [f"{(minute + 60 * m) // 3600 % 24:02d}_{(minute + 60 * m) // 60 % 60:02d}" for m in range(3)]
        present = [n for n in names if (trace / f"{n}_trace.csv.gz").is_file()]
        assert len(present) == int(c["trace_minutes_present_of_3"]) >= 2, c["case_id"]
    logs = list(synth.glob("incident/*/log/*_log.csv.gz"))
    assert logs and len(logs) % 3 == 0  # three minutes for each case that keeps logs
    assert all(re.fullmatch(r"synth-rail-\d{4}-\d\d-\d\d-\d\d", c["case_id"]) for c in cases)


def test_headers_match_the_real_dataset(synth: Path, real: Path) -> None:
    def header(root: Path, pattern: str) -> list[str]:
        return rows(next(root.glob(pattern)))[0]

    assert header(synth, "faults.csv") == header(real, "faults.csv")
    for pattern in (
        "incident/*/metric/*_metric.csv.gz",
        "incident/*/metric/front_service.csv.gz",
        "incident/*/metric/dependency.csv.gz",
        "incident/*/trace/*_trace.csv.gz",
        "incident/*/log/*_log.csv.gz",
        "baseline/*/metric/*_metric.csv.gz",
        "baseline/*/trace/*_trace.csv.gz",
    ):
        assert header(synth, pattern) == header(real, pattern), pattern
    for name in ("source_50", "destination_50"):
        mine, theirs = (
            header(synth, f"incident/*/metric/{name}.csv.gz"),
            header(real, f"incident/*/metric/{name}.csv.gz"),
        )
        assert mine[:2] == theirs[:2] == ["time", "timestamp"]
        assert all(re.fullmatch(r"[a-z0-9-]+_[a-z0-9-]+", col) for col in mine[2:])


def test_formats_follow_the_real_conventions(synth: Path) -> None:
    for path in synth.glob("*/*/metric/*.csv.gz"):
        if path.name == "dependency.csv.gz":
            continue
        body = rows(path)[1:]
        for row in body[:5]:
            assert GO_TIME.match(row[0]), (path.name, row[0])
            second = datetime.strptime(row[0][:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            assert int(row[1]) == int(second.timestamp())  # TimeStamp: the sample's whole second
    for path in synth.glob("incident/*/metric/*_metric.csv.gz"):
        head, *body = rows(path)
        pod = path.name.removesuffix("_metric.csv.gz")
        assert POD.match(pod) and "_" not in service_of(pod), pod
        assert {r[head.index("PodName")] for r in body} == {pod}
        assert {r[head.index("PodSuccessRate(%)")] for r in body} == {"0"}  # the real collector's quirk
    front = rows(next(synth.glob("incident/*/metric/front_service.csv.gz")))
    assert {r[2] for r in front[1:]} == {"Frontend"}
    for path in synth.glob("incident/*/log/*_log.csv.gz"):
        for row in rows(path)[1:50]:
            wrapped = json.loads(row[7])
            assert set(wrapped) == {"log", "stream", "time"} and wrapped["log"].endswith("\n")
            assert row[0].endswith("Z") and row[4] == "server"


def test_generation_is_deterministic(synth: Path, tmp_path: Path) -> None:
    again = write_dataset(tmp_path / "again", **SMALL)
    mine = sorted(p.relative_to(synth) for p in synth.rglob("*") if p.is_file())
    assert mine == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in mine:
        assert (synth / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_trace_parents_resolve_within_their_trace(synth: Path) -> None:
    for path in synth.glob("*/*/trace/*_trace.csv.gz"):
        head, *body = rows(path)
        traces: dict[str, dict[str, list[str]]] = defaultdict(dict)
        for r in body:
            traces[r[0]][r[1]] = r
        assert traces, path
        for spans in traces.values():
            roots = [s for s in spans.values() if s[2] == "root"]
            assert len(roots) == 1 and service_of(roots[0][3]) == "ts-gateway-service"
            for s in spans.values():
                start, end = int(s[5]), int(s[6])
                assert int(s[7]) == (end - start) // 1000
                if s[2] != "root":
                    parent = spans[s[2]]  # resolves within the trace
                    assert int(parent[5]) <= start <= end <= int(parent[6])


def test_every_injected_service_exists_as_a_pod(synth: Path) -> None:
    for c in faults(synth):
        metric = synth / "incident" / c["date"] / "metric" / f"{c['root_cause_pod']}_metric.csv.gz"
        assert metric.is_file(), c["case_id"]
        assert service_of(c["root_cause_pod"]) == c["root_cause_service"] != "ts-gateway-service"
        pods = {
            r[3] for p in (synth / "incident" / c["date"] / "trace").glob("*.csv.gz") for r in rows(p)[1:]
        }
        assert c["root_cause_pod"] in pods


def after(root: Path, case: dict[str, str], part: str, name: str, col: str) -> list[float]:
    """A metric column in the four minutes after the case's injection."""
    head, *body = rows(root / part / case["date"] / "metric" / name)
    inject = int(case["inject_epoch"])
    return [float(r[head.index(col)]) for r in body if inject < int(r[1]) <= inject + 240]


def test_faults_leave_their_mark_against_the_fault_free_baseline(synth: Path) -> None:
    for c in faults(synth):
        pod, kind = f"{c['root_cause_pod']}_metric.csv.gz", c["fault_type"]
        if kind.startswith("cpu"):
            cpu = "CpuUsage(m)"
            assert max(after(synth, c, "incident", pod, cpu)) > 2 * max(after(synth, c, "baseline", pod, cpu))
        elif kind == "memory_leak":
            mem = "MemoryUsage(Mi)"
            assert max(after(synth, c, "incident", pod, mem)) > 1.3 * max(
                after(synth, c, "baseline", pod, mem)
            )
        elif kind == "network_delay":  # the callers wait; the pod's own server spans do not change
            own = "PodServerLatencyP90(s)"
            assert after(synth, c, "incident", pod, own) == after(synth, c, "baseline", pod, own)
            metric = synth / "incident" / c["date"] / "metric"
            callers = {
                src
                for src, dst, _ in rows(metric / "dependency.csv.gz")[1:]
                if dst == c["root_cause_service"]
            }
            pods = {
                service_of(p.name.removesuffix("_metric.csv.gz")): p.name
                for p in metric.glob("*_metric.csv.gz")
            }
            col = "PodClientLatencyP90(s)"
            assert any(
                max(after(synth, c, "incident", pods[s], col))
                > max(after(synth, c, "baseline", pods[s], col))
                for s in callers
            )
        else:  # exception, return: errors reach the user
            assert min(after(synth, c, "incident", "front_service.csv.gz", "SuccessRate(%)")) < 100


def test_default_system_has_40_plus_services(tmp_path: Path) -> None:
    assert inspect.signature(write_dataset).parameters["services"].default >= 40
    root = write_dataset(tmp_path / "default", cases=1)
    pods = [p.name.removesuffix("_metric.csv.gz") for p in root.glob("incident/*/metric/*_metric.csv.gz")]
    assert len({service_of(p) for p in pods}) >= 40
    traced = {service_of(r[3]) for p in root.glob("incident/*/trace/*.csv.gz") for r in rows(p)[1:]}
    assert len(traced) >= 40


def test_refuses_to_overwrite_a_dataset_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "incident").mkdir()
    (tmp_path / "faults.csv").write_text("case_id,date\nnezha-hipster-2022-08-22-01,2022-08-22\n")
    with pytest.raises(FileExistsError):
        write_dataset(tmp_path, **SMALL)


def test_a_wrong_answer_called_last_all_the_way_up_leaves_no_trace_but_the_entrys_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The generator's own call trees: admin-travel (called by the gateway alone) and delivery
    (consign's last call, consign ticket-office's, ticket-office the gateway's) cut nothing short;
    admin-route (admin-travel calls admin-order and admin-user after it) and payment (inside-payment
    notifies after paying) do."""
    from bench.nezha_synth.observable import main, silent
    from bench.nezha_synth.system import build

    ops = build(46, np.random.default_rng(0)).operations
    assert silent("ts-admin-travel-service", ops) and silent("ts-delivery-service", ops)
    assert not silent("ts-admin-route-service", ops) and not silent("ts-payment-service", ops)
    main(["--seed", "0", "--cases", "12"])
    out = capsys.readouterr().out.splitlines()
    assert any("ts-admin-travel-service" in line and "entry error count only" in line for line in out)
    assert any("ts-order-other-service" in line and "cut-short requests" in line for line in out)
