"""Run the offline investigator on eval cases in-process, without Temporal, and show its reasoning.

    python -m bench.diagnose --dataset nezha-ob 2022-08-22-04 [--verbose]
    python -m bench.diagnose --dataset nezha-ob --all --jobs 2
    python -m bench.diagnose --dataset nezha:/path/to/dataset --all --jobs 2 --anchor-second 0

The same roles and the same sandbox HTTP API as `sleuth eval`, but the workflow's rounds are replayed
by a plain loop here so that a case takes seconds and its hypotheses and evidence can be read. The
label is only used to mark the verdict ok/MISS after the investigator has concluded.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

from sleuth.agents import context as context_agent
from sleuth.agents.concluder import OfflineConcluder
from sleuth.agents.planner import OfflinePlanner
from sleuth.agents.tester import OfflineTester
from sleuth.config import Settings
from sleuth.evals.scorecard import top_k
from sleuth.evals.suite import cases_for
from sleuth.gateway import CallBudget, DatadogGateway, GatewayConfig
from sleuth.intake.payload import WebhookPayload
from sleuth.models.investigation import Hypothesis
from sleuth.models.requests import ConcludeInput, PlanInput, TestInput


def investigate(
    dataset: str,
    name: str,
    verbose: bool,
    anchor_second: int | None = None,
    at: str | None = None,
    late: float = 0.0,
    metrics_outage: bool = False,
) -> tuple[str, bool, bool, str, str | None]:
    """(what it found, as text; root cause first?; in the top three?; the case; the service named)."""
    [case] = cases_for(dataset, [name])  # built in the worker process: case factories do not pickle
    settings = Settings()
    budget = settings.budget()
    if anchor_second is not None and dataset.startswith("nezha"):
        from sleuth.evals.nezha import nezha_root
        from sleuth.sandbox.nezha import nezha_server

        # a fixed phase of the alert within its minute, so that two runs see the same buckets
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        server = nezha_server(
            case.name, anchor=minute + timedelta(seconds=anchor_second), root=nezha_root(dataset)
        )
    elif at is not None and not dataset.startswith("nezha"):
        from sleuth.sandbox.server import SandboxServer

        # a sandbox world's noise is keyed by absolute time: a fixed "now" makes a run repeatable
        server = SandboxServer(case.name, anchor=datetime.fromisoformat(at))
    else:
        server = case.server()
    server.start()
    if metrics_outage:  # every metric query answered 503, as in a Datadog metrics outage
        server.faults.add("/api/v2/query", "503", times=1_000_000)
    server.ctx.advance(late)  # as when a loaded worker starts the investigation late
    lines: list[str] = []
    try:
        gw = DatadogGateway(
            GatewayConfig(
                base_url=server.url,
                api_key=server.ctx.api_key,
                app_key=server.ctx.app_key,
                max_retries=settings.datadog_max_retries,
            ),
            CallBudget(budget.max_datadog_calls),
        )
        alert = WebhookPayload.model_validate(server.alert_payload()).to_alert()
        # At a fixed anchor, the world as it stood `late` seconds after it, however long the server
        # took to start: otherwise where the window ends moves by that start-up time from run to run.
        fixed = anchor_second is not None or at is not None
        now = datetime.fromtimestamp(server.ctx.anchor + late, tz=UTC) if fixed else server.now()
        ctx = context_agent.gather(gw, alert, now)
        if verbose:
            lines.append(
                f"context: service={ctx.service} alert={ctx.alert_time:%H:%M:%S} window={ctx.window_start:%H:%M:%S}-{ctx.window_end:%H:%M:%S} "
                f"baseline={ctx.baseline_start:%H:%M}-{ctx.baseline_end:%H:%M}"
            )
            for h in ctx.health[:12]:
                lines.append(f"  health {h.model_dump(exclude_defaults=True)}")
        planner, tester = OfflinePlanner(), OfflineTester()
        tested: dict[str, Hypothesis] = {}
        for round_no in range(1, budget.max_rounds + 1):
            room = budget.max_hypotheses - len(tested)
            plan = planner.plan(
                PlanInput(
                    investigation_id="diag",
                    context=ctx,
                    round=round_no,
                    tested=list(tested.values()),
                    max_new=room,
                )
            )
            fresh = [h for h in plan.hypotheses if h.id not in tested][:room]
            if not fresh:
                break
            for h in fresh:
                r = tester.test(
                    TestInput(investigation_id="diag", context=ctx, hypothesis=h, max_datadog_calls=200), gw
                )
                tested[h.id] = r.hypothesis
        conclusion = OfflineConcluder().conclude(
            ConcludeInput(investigation_id="diag", context=ctx, hypotheses=list(tested.values()))
        )
    finally:
        server.stop()
    ranked = [c.service for c in conclusion.ranked_causes]
    predicted = conclusion.root_cause.service if conclusion.root_cause else None
    top1, top3, _ = top_k(case.truth, conclusion.verdict, predicted, ranked)
    head = (
        f"{'ok  ' if top1 else 'MISS'} {case.name:<34} truth {case.truth.service}/{case.truth.kind} → "
        f"{conclusion.verdict} {predicted}/{conclusion.root_cause.kind if conclusion.root_cause else None} "
        f"ranked {[(c.service, c.kind, c.score) for c in conclusion.ranked_causes[:4]]}"
    )
    if verbose:
        for h in sorted(tested.values(), key=lambda h: -h.confidence):
            lines.append(
                f"  [{h.status:<12}] {h.confidence:.2f} r{h.round} {h.service}/{h.kind}: {h.statement}"
            )
            for e in sorted(h.evidence, key=lambda e: -e.strength)[:6]:
                lines.append(
                    f"      {'+' if e.supports else '-'} {e.strength:.2f} {e.signal}: {e.observation}"
                )
            for g in h.gaps[:3]:
                lines.append(f"      gap: {g.reason}")
    return head + ("\n" + "\n".join(lines) if lines else ""), top1, top3, case.name, predicted


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cases", nargs="*")
    p.add_argument("--dataset", default="nezha-ob")
    p.add_argument("--all", action="store_true")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--verbose", "-v", action="store_true")
    p.add_argument("--anchor-second", type=int, help="Nezha: fire the alert at this second of the minute")
    p.add_argument("--at", help="sandbox: simulate the world with its alert firing at this ISO time")
    p.add_argument(
        "--late", type=float, default=0.0, help="start the investigation this many seconds after the alert"
    )
    a = p.parse_args(argv)
    cases = cases_for(a.dataset, None if a.all else a.cases)
    started = datetime.now(UTC)
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        n = len(cases)
        results = list(
            pool.map(
                investigate,
                [a.dataset] * n,
                [c.name for c in cases],
                [a.verbose] * n,
                [a.anchor_second] * n,
                [a.at] * n,
                [a.late] * n,
            )
        )
    for text, *_ in results:
        print(text)
    n = len(results)
    top1 = sum(r[1] for r in results)
    top3 = sum(r[2] for r in results)
    print(
        f"\n{a.dataset}: AC@1 {top1}/{n} = {top1 / n:.1%}, AC@3 {top3}/{n} = {top3 / n:.1%} "
        f"in {(datetime.now(UTC) - started).total_seconds():.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
