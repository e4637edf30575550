"""Nezha-layout suites: `sleuth eval --dataset nezha-ob` (OnlineBoutique, 56 real fault-injection
cases) and `--dataset nezha:<dir>` (any other system recorded in the same layout).

One `EvalCase` per row of the dataset's `faults.csv`. Ground truth is the row's root-cause service;
the fault type maps onto Sleuth's root-cause kinds as follows:

    cpu_contention → cpu_saturation      cpu_consumed → cpu_saturation
    network_delay  → network
    return         → code_error          exception    → code_error
    memory_leak    → memory_pressure     (and the other common names below)

Every case has a real root cause, so the expected verdict is `root_cause_found`. Each case's world
(`sleuth.sandbox.nezha`) is built from the injection time only; the label stays here.

`PUBLISHED` holds the service-level results the dataset's README reports for published methods on
the same 56 cases; `comparison_table` renders ours beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sleuth.evals.scorecard import Truth
from sleuth.evals.suite import EvalCase

KIND: dict[str, str] = {
    "cpu_contention": "cpu_saturation",
    "cpu_consumed": "cpu_saturation",
    "network_delay": "network",
    "return": "code_error",
    "exception": "code_error",
    "memory_leak": "memory_pressure",
    "memory": "memory_pressure",
    "mem": "memory_pressure",
    "cpu": "cpu_saturation",
    "delay": "network",
    "loss": "network",
    "disk": "disk_pressure",
}

# Top-1 / top-3 / top-5 accuracy (%) at service level, as published (dataset README); None: not reported.
PUBLISHED: dict[str, dict[str, float | None]] = {
    "Nezha (with logs)": {"top1": 92.86, "top3": 96.43, "top5": 96.43},
    "Nezha (without logs)": {"top1": 64.28, "top3": None, "top5": None},
    "PDiagnose": {"top1": 41.07, "top3": 73.21, "top5": 82.14},
    "MicroRank": {"top1": 41.07, "top3": 48.21, "top5": 62.5},
    "TraceAnomaly": {"top1": 30.35, "top3": 33.92, "top5": 48.21},
    "MicroRCA": {"top1": 16.07, "top3": 62.5, "top5": 92.75},
    "MicroScope": {"top1": 12.5, "top3": 41.07, "top5": 55.35},
}
# With almost no logs in this dataset, the fair reference is Nezha without logs.
REFERENCE = "Nezha (without logs)"


def is_nezha(dataset: str) -> bool:
    return dataset in ("nezha-ob", "nezha") or dataset.startswith("nezha:")


def nezha_root(dataset: str) -> Path | None:
    """`nezha:<dir>` → that directory; `nezha-ob` / `nezha` → None (the default: `$SLEUTH_NEZHA_DIR`,
    else the OnlineBoutique development set)."""
    if dataset.startswith("nezha:"):
        raw = dataset.removeprefix("nezha:").strip()
        if not raw:
            raise ValueError("--dataset nezha:<dir> needs the dataset's directory after the colon")
        return Path(raw).expanduser().resolve()
    return None


def dataset_title(root: Path | None) -> str:
    """The dataset README's first heading, else its directory's name."""
    from sleuth.sandbox.nezha.dataset import require_dir

    root = require_dir(root)
    readme = root / "README.md"
    if readme.is_file():
        for line in readme.read_text(errors="replace").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return root.name


def has_published_results(root: Path | None) -> bool:
    """`PUBLISHED` holds figures for the OnlineBoutique development set only."""
    from sleuth.sandbox.nezha.dataset import DATASET, require_dir

    return require_dir(root).name == DATASET


def truth_of(fault_type: str, service: str) -> Truth:
    if fault_type not in KIND:
        raise ValueError(f"unmapped Nezha fault type {fault_type!r}")
    return Truth(service=service, kind=KIND[fault_type], verdict="root_cause_found")


def nezha_cases(names: list[str] | None = None, root: Path | None = None) -> list[EvalCase]:
    """All cases, or those named (a full case id, or its unique ending such as `2022-08-23-05`)."""
    from sleuth.sandbox.nezha import nezha_server, read_cases

    rows = read_cases(root)
    if names:
        picked = []
        for name in names:
            hits = [r for r in rows if r[0].case_id == name] or [
                r for r in rows if r[0].case_id.endswith(name)
            ]
            if len(hits) != 1:
                raise ValueError(
                    f"{name!r} matches {len(hits)} Nezha cases; case ids look like {rows[0][0].case_id}"
                )
            picked.append(hits[0])
        rows = picked

    def factory(case_id: str) -> Callable[[], Any]:
        return lambda: nezha_server(case_id, root=root)  # the world is built, and the clock anchored, per run

    return [
        EvalCase(
            name=inc.case_id, truth=truth_of(label.fault_type, label.service), server=factory(inc.case_id)
        )
        for inc, label in rows
    ]


def _scores(card: Any) -> dict[str, float]:
    """Top-k accuracies (%) of a Scorecard (fractions) or of a mapping with ac1/ac3/ac5 (fractions)."""
    out = {}
    for k in (1, 3, 5):
        v: Any = card[f"ac{k}"] if isinstance(card, Mapping) else getattr(card, f"ac{k}")
        out[f"top{k}"] = 100.0 * float(v)
    return out


def comparison_table(card: Any, label: str | None = None) -> str:
    """Markdown: ours against the published methods, best top-1 first."""
    ours = _scores(card)
    model = card.get("model") if isinstance(card, Mapping) else getattr(card, "model", None)
    name = label or f"Sleuth ({model or 'this run'})"
    rows: list[tuple[str, dict[str, float | None], bool]] = [(name, {**ours}, True)]
    rows += [(method, scores, False) for method, scores in PUBLISHED.items()]
    rows.sort(key=lambda r: -(r[1]["top1"] or 0.0))

    def cell(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}"

    lines = ["| method | top-1 % | top-3 % | top-5 % |", "|---|---:|---:|---:|"]
    for method, s, mine in rows:
        shown = f"**{method}**" if mine else method
        lines.append(f"| {shown} | {cell(s['top1'])} | {cell(s['top3'])} | {cell(s['top5'])} |")
    ref = PUBLISHED[REFERENCE]["top1"] or 0.0
    delta = ours["top1"] - ref
    lines.append("")
    lines.append(
        f"Top-1 against {REFERENCE} (the fair reference: this data has almost no logs): "
        f"{'+' if delta >= 0 else ''}{delta:.2f} points. Service level, 56 cases; published "
        "figures from the dataset's README."
    )
    return "\n".join(lines)
