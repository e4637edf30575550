"""Living evaluation: a labelled investigation, with the telemetry it actually saw, as a replayable case.

`sleuth export-case <investigation-id> [--out DIR]` reads the investigation's Temporal history (the
activity results the workflow recorded: the gathered context, every tested hypothesis with its
evidence, the conclusion, the report) and the human verdict from `sleuth feedback`, and writes

    <out>/<investigation>/case.json     context + hypotheses with evidence + label + original score
    <out>/<investigation>/history.json  the raw workflow history (also replayable by Temporal's Replayer)

Replaying a case runs the *current* judge and concluder over the recorded evidence and scores the
result against the label: no Datadog and no server needed. `sleuth eval --dataset living` replays
every case under SLEUTH_DATA_DIR/living-cases (or `--cases NAME...`) into a scorecard.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sleuth.activities import names
from sleuth.agents.concluder import OfflineConcluder
from sleuth.agents.judge import judge
from sleuth.config import Settings
from sleuth.evals.feedback import DEFAULT_TEMPORAL, Feedback, load_feedback, safe_name
from sleuth.evals.scorecard import CaseResult, Scorecard, Truth, score_case, summarise
from sleuth.models.investigation import Hypothesis, InvestigationContext, Report, Timings
from sleuth.models.requests import (
    ConcludeInput,
    Conclusion,
    EvaluateResult,
    GatherContextResult,
    InvestigationRequest,
    PlanResult,
    TestResult,
)

CASES_DIR = "living-cases"
RESULT_TYPES: dict[str, type[BaseModel]] = {
    names.GATHER_CONTEXT: GatherContextResult,
    names.PLAN_HYPOTHESES: PlanResult,
    names.TEST_HYPOTHESIS: TestResult,
    names.CONCLUDE: Conclusion,
    names.EVALUATE: EvaluateResult,
}


class Recorded(BaseModel):
    """What one investigation's workflow history holds, decoded."""

    investigation_id: str
    request: InvestigationRequest | None = None
    gather: GatherContextResult | None = None
    plans: list[PlanResult] = Field(default_factory=list)
    tests: list[TestResult] = Field(default_factory=list)
    conclusion: Conclusion | None = None
    evaluation: EvaluateResult | None = None
    report: Report | None = None


class LivingCase(BaseModel):
    name: str
    investigation_id: str
    exported_at: datetime
    model: str
    label: Feedback
    truth: Truth
    context: InvestigationContext
    hypotheses: list[Hypothesis]  # each with the evidence (telemetry summaries) it was judged on
    original: CaseResult | None = None  # the investigation's own report, scored against the label
    report: Report | None = None


async def recorded(client: Any, investigation_id: str, run_id: str | None = None) -> tuple[Recorded, Any]:
    """Decode the activity results (and the workflow's input and result) from its history."""
    from temporalio.service import RPCError

    handle = client.get_workflow_handle(investigation_id, run_id=run_id)
    try:
        history = await handle.fetch_history()
    except RPCError as err:
        raise ValueError(f"no investigation {investigation_id!r} in Temporal: {err}") from None
    conv = client.data_converter
    rec = Recorded(investigation_id=investigation_id)
    scheduled: dict[int, str] = {}
    for event in history.events:
        which = event.WhichOneof("attributes")
        if which == "workflow_execution_started_event_attributes":
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            if payloads:
                rec.request = (await conv.decode(list(payloads)[:1], [InvestigationRequest]))[0]
        elif which == "activity_task_scheduled_event_attributes":
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif which == "activity_task_completed_event_attributes":
            attrs = event.activity_task_completed_event_attributes
            kind = scheduled.get(attrs.scheduled_event_id, "")
            model = RESULT_TYPES.get(kind)
            if model is None or not attrs.result.payloads:
                continue
            value = (await conv.decode(list(attrs.result.payloads)[:1], [model]))[0]
            _keep(rec, value)
        elif which == "workflow_execution_completed_event_attributes":
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
            if payloads:
                rec.report = (await conv.decode(list(payloads)[:1], [Report]))[0]
    return rec, history


def _keep(rec: Recorded, value: Any) -> None:
    if isinstance(value, GatherContextResult):
        rec.gather = value
    elif isinstance(value, PlanResult):
        rec.plans.append(value)
    elif isinstance(value, TestResult):
        rec.tests.append(value)
    elif isinstance(value, Conclusion):
        rec.conclusion = value
    elif isinstance(value, EvaluateResult):
        rec.evaluation = value


def case_from(rec: Recorded, label: Feedback, now: datetime | None = None) -> LivingCase:
    if rec.gather is None:
        raise ValueError(f"investigation {rec.investigation_id} recorded no context: nothing to replay")
    tested: dict[str, Hypothesis] = {}
    for t in rec.tests:  # the last attempt of each hypothesis is what the workflow kept
        tested[t.hypothesis.id] = t.hypothesis
    for h in rec.report.hypotheses if rec.report else []:
        if h.id not in tested and h.status != "pending":
            tested[h.id] = h  # e.g. a test that failed and was recorded inconclusive by the workflow
    truth = label.truth()
    name = safe_name(rec.investigation_id)
    return LivingCase(
        name=name,
        investigation_id=rec.investigation_id,
        exported_at=now or datetime.now(UTC),
        model=rec.report.model if rec.report else (rec.request.model if rec.request else "unknown"),
        label=label,
        truth=truth,
        context=rec.gather.context,
        hypotheses=list(tested.values()),
        original=score_case(name, truth, rec.report) if rec.report else None,
        report=rec.report,
    )


async def export_case(client: Any, data_dir: Path, investigation_id: str, out: Path | None = None) -> Path:
    label = load_feedback(data_dir, investigation_id)
    if label is None:
        raise ValueError(
            f"no human verdict for {investigation_id}: first run "
            f"`sleuth feedback {investigation_id} --correct` or `--wrong --cause <service>:<kind>`"
        )
    rec, history = await recorded(client, investigation_id)
    case = case_from(rec, label)
    folder = (out or data_dir / CASES_DIR) / case.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.json").write_text(case.model_dump_json(indent=2))
    (folder / "history.json").write_text(history.to_json())
    return folder


def load_case(folder: Path) -> LivingCase:
    return LivingCase.model_validate_json((folder / "case.json").read_text())


def living_cases(directory: Path, names: list[str] | None = None) -> list[LivingCase]:
    """Every exported case under `directory` (each a folder holding case.json), by name."""
    if not directory.is_dir():
        return []
    folders = sorted(p for p in directory.iterdir() if (p / "case.json").is_file())
    cases = [load_case(p) for p in folders if not names or p.name in names]
    missing = set(names or ()) - {c.name for c in cases}
    if missing:
        raise ValueError(f"no living case named {', '.join(sorted(missing))} under {directory}")
    return cases


def replay(case: LivingCase) -> tuple[CaseResult, Report]:
    """The current judge and concluder over the recorded evidence, scored against the label."""
    hypotheses = [judge(h, case.context) for h in case.hypotheses]
    conclusion = OfflineConcluder().conclude(
        ConcludeInput(investigation_id=case.investigation_id, context=case.context, hypotheses=hypotheses)
    )
    report = Report(
        investigation_id=case.investigation_id,
        monitor_id=case.context.alert.monitor_id,
        service=case.context.service,
        env=case.context.env,
        title=case.context.alert.title,
        verdict=conclusion.verdict,
        root_cause=conclusion.root_cause,
        ranked_causes=conclusion.ranked_causes,
        hypotheses=hypotheses,
        summary=conclusion.summary,
        usage=case.report.usage if case.report else conclusion.usage,
        timings=Timings(started_at=case.context.alert_time),
        model="replay:offline",
    )
    return score_case(case.name, case.truth, report), report


def run_living(directory: Path, names: list[str] | None = None, say: Any = print) -> Scorecard:
    from sleuth.evals.suite import git_commit, machine

    results = []
    for case in living_cases(directory, names):
        r, _ = replay(case)
        was = "" if case.original is None else f" (was {'ok' if case.original.top1 else 'MISS'})"
        say(
            f"{'ok ' if r.top1 else 'MISS'} {case.name:<36} label {case.truth.service}/{case.truth.kind}/"
            f"{case.truth.verdict} → {r.verdict} {r.predicted_service}/{r.predicted_kind}{was}"
        )
        results.append(r)
    return summarise("living", "replay:offline", git_commit(), machine(), results, datetime.now(UTC))


def main_export(settings: Settings, investigation_id: str, out: Path | None) -> int:
    from sleuth.worker import connect

    async def run() -> Path:
        client = await connect(
            settings.temporal_address or DEFAULT_TEMPORAL,
            settings.temporal_namespace,
            settings.temporal_access,
        )
        return await export_case(client, settings.data_dir, investigation_id, out)

    folder = asyncio.run(run())
    case = load_case(folder)
    result, _ = replay(case)
    print(f"exported {investigation_id} → {folder} ({len(case.hypotheses)} hypotheses with their evidence)")
    print(
        f"replayed now: {result.verdict} {result.predicted_service}/{result.predicted_kind}, "
        f"label {case.truth.service}/{case.truth.kind}: {'right' if result.top1 else 'wrong'}"
    )
    return 0


def main_living(
    settings: Settings, out: Path | None, cases: list[str] | None, directory: Path | None = None
) -> int:
    from sleuth.evals.suite import default_out

    directory = directory or settings.data_dir / CASES_DIR
    card = run_living(directory, cases)
    if not card.cases:
        print(
            f"no living cases under {directory}: label investigations with `sleuth feedback`, "
            "then `sleuth export-case`"
        )
        return 1
    path = out or default_out("living", "replay-offline")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(card.model_dump_json(indent=2))
    print(
        f"\nliving ({len(card.cases)} cases): AC@1 {card.ac1:.1%}  AC@3 {card.ac3:.1%}  "
        f"kind {card.kind_accuracy:.1%}  hypothesis states {card.hypothesis_state_accuracy:.1%}\n"
        f"scorecard written to {path}"
    )
    return 0
