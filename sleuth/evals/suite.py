"""`sleuth eval`: every case through the whole workflow on an embedded Temporal, scored against
ground truth the investigator never sees, written as a scorecard with the commit it ran on.
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sleuth.config import Settings
from sleuth.evals.scorecard import CaseResult, Scorecard, Truth, score_case, summarise
from sleuth.intake.delivery import deliver
from sleuth.intake.payload import WebhookPayload
from sleuth.models.investigation import Report
from sleuth.runtime import free_port
from sleuth.temporal_server import EmbeddedTemporal
from sleuth.worker import build_worker, connect

RESULTS_DIR = Path(__file__).resolve().parents[2] / "bench" / "results"


@dataclass
class EvalCase:
    name: str
    truth: Truth
    server: Callable[[], Any]  # → an unstarted SandboxServer serving this case's world


def sandbox_cases(names: list[str] | None = None) -> list[EvalCase]:
    from sleuth.sandbox import SandboxServer, list_worlds, load_truth

    out = []
    for name in names or list_worlds():
        t = load_truth(name)
        truth = Truth(service=t.root_cause_service, kind=t.root_cause_kind, verdict=t.verdict)
        out.append(EvalCase(name=name, truth=truth, server=partial(SandboxServer, name)))
    return out


def cases_for(dataset: str, names: list[str] | None) -> list[EvalCase]:
    if dataset == "sandbox":
        return sandbox_cases(names)
    from sleuth.evals.nezha import is_nezha, nezha_cases, nezha_root

    if is_nezha(dataset):
        return nezha_cases(names, root=nezha_root(dataset))
    raise ValueError(
        f"unknown dataset {dataset!r}: use 'sandbox', 'nezha-ob', 'nezha:<dir of a Nezha-layout dataset>' or 'living'"
    )


async def run_case(client: Any, settings: Settings, case: EvalCase, model: str) -> CaseResult:
    server = case.server()
    await asyncio.to_thread(server.start)
    try:
        s = settings.model_copy(
            update={
                "datadog_url": server.url,
                "dd_api_key": server.ctx.api_key,
                "dd_app_key": server.ctx.app_key,
                "task_queue": f"eval-{uuid.uuid4().hex[:10]}",
                "model": model,
                "approval_timeout_seconds": 1.0,
            }
        )
        async with build_worker(client, s):
            alert = WebhookPayload.model_validate(server.alert_payload()).to_alert()
            accepted = await deliver(client, s, alert, rpc_timeout=timedelta(seconds=10))
            handle = client.get_workflow_handle(accepted.investigation_id, result_type=Report)
            report: Report = await handle.result()
        return score_case(case.name, case.truth, report)
    except Exception as err:  # one broken case must not hide the others' scores
        return CaseResult(
            case=case.name,
            truth=case.truth,
            verdict="failed",
            top1=False,
            top3=False,
            top5=False,
            kind_correct=False,
            hypothesis_state_accuracy=0.0,
            error=f"{type(err).__name__}: {err}"[:300],
        )
    finally:
        await asyncio.to_thread(server.stop)


async def run_suite(
    settings: Settings,
    dataset: str = "sandbox",
    names: list[str] | None = None,
    concurrency: int = 3,
    say: Any = print,
    client: Any = None,
) -> Scorecard:
    cases = cases_for(dataset, names)
    embedded: EmbeddedTemporal | None = None
    with tempfile.TemporaryDirectory(prefix="sleuth-eval-") as tmp:
        if client is None:
            embedded = EmbeddedTemporal(Path(tmp) / "temporal.db", port=free_port(), ui_port=None)
            await asyncio.to_thread(embedded.start)
            client = await connect(embedded.address)
        try:
            sem = asyncio.Semaphore(concurrency)

            async def one(case: EvalCase) -> CaseResult:
                async with sem:
                    r = await run_case(client, settings, case, settings.model)
                    mark = "ok " if r.top1 else "MISS"
                    say(
                        f"{mark} {case.name:<36} truth {case.truth.service}/{case.truth.kind}/{case.truth.verdict} "
                        f"→ {r.verdict} {r.predicted_service}/{r.predicted_kind} ranked {r.ranked_services[:3]}"
                        + (f" error {r.error}" if r.error else "")
                    )
                    return r

            results = await asyncio.gather(*(one(c) for c in cases))
        finally:
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)
    return summarise(dataset, settings.model, git_commit(), machine(), list(results), datetime.now(UTC))


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> str:
    mem = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def default_out(dataset: str, model: str) -> Path:
    slug = model.replace(":", "-").replace("/", "-")
    if dataset.startswith("nezha:"):  # a directory: named by its last part
        dataset = "nezha-" + Path(dataset.removeprefix("nezha:")).name
    return RESULTS_DIR / f"eval-{dataset}-{slug}.json"


def main_eval(settings: Settings, dataset: str, out: Path | None, cases: list[str] | None) -> int:
    card = asyncio.run(run_suite(settings, dataset, cases))
    path = out or default_out(dataset, settings.model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(card.model_dump_json(indent=2))
    from sleuth.evals.nezha import (
        comparison_table,
        dataset_title,
        has_published_results,
        is_nezha,
        nezha_root,
    )

    if is_nezha(dataset):
        root = nezha_root(dataset)
        table = (
            comparison_table(card)
            if has_published_results(root)
            else f"AC@1 {card.ac1:.1%}, AC@3 {card.ac3:.1%}, AC@5 {card.ac5:.1%} (no published results for this dataset)"
        )
        path.with_suffix(".md").write_text(
            f"# {dataset_title(root)}, {len(card.cases)} cases — commit {card.commit}, {card.created_at:%Y-%m-%d}\n\n"
            f"Machine: {card.machine}. Kind accuracy {card.kind_accuracy:.1%}.\n\n{table}\n"
        )
        print(table)
    print(
        f"\n{dataset} with {settings.model}: AC@1 {card.ac1:.1%}  AC@3 {card.ac3:.1%}  AC@5 {card.ac5:.1%}  "
        f"kind {card.kind_accuracy:.1%}  hypothesis states {card.hypothesis_state_accuracy:.1%}  "
        f"p50 conclusion {card.p50_seconds_to_conclusion}s  mean Datadog calls {card.mean_datadog_calls}\n"
        f"scorecard written to {path}"
    )
    return 0
