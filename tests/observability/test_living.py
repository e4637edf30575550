"""Living evaluation, end to end: a real investigation, a human verdict (`sleuth feedback`), the case
exported from Temporal's history (`sleuth export-case`), replayed by the current judge and
concluder and scored against the label (`sleuth eval --dataset living`)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from sleuth import cli
from sleuth.evals.feedback import feedback_path, load_feedback
from sleuth.evals.living import living_cases, recorded, replay, run_living
from sleuth.models.investigation import Report
from sleuth.workflows import InvestigateAlert
from tests.harness import harness
from tests.observability.traced_run import quick_world


async def _sleuth(*argv: str) -> int:
    return await asyncio.to_thread(cli.main, list(argv))


async def test_feedback_export_replay_round_trip(temporal_client: Client, tmp_path: Path) -> None:
    async with harness(temporal_client, quick_world(), approval_timeout=1, SLEUTH_RATE_LIMIT_SECONDS=0) as h:
        wid = await h.fire(alert_cycle_key=f"living-{uuid.uuid4().hex}")
        report: Report = await h.handle(wid).result()
    assert report.verdict in ("root_cause_found", "inconclusive")  # a loaded machine may time queries out
    predicted = report.root_cause.service if report.root_cause else None
    rec, _ = await recorded(temporal_client, wid)
    assert rec.gather is not None and rec.tests and rec.report is not None
    assert rec.gather.trace.headers == {}, "no Datadog keys in this process: tracing stayed off"
    assert rec.evaluation is not None and rec.evaluation.submitted is False and rec.evaluation.scores

    data = tmp_path / "data"
    common = [
        "--temporal-address",
        temporal_client.service_client.config.target_host,
        "--data-dir",
        str(data),
    ]
    # A human first confirms, then changes their mind: the latest verdict wins, both are logged.
    assert await _sleuth("feedback", wid, "--correct", *common) == 0
    truth = f"not-{predicted}:database"
    assert (
        await _sleuth(
            "feedback", wid, "--wrong", "--cause", truth, "--by", "alice", "--note", "it was the db", *common
        )
        == 0
    )
    fb = load_feedback(data, wid)
    assert fb is not None and not fb.correct and fb.by == "alice" and fb.note == "it was the db"
    assert (fb.cause_service, fb.cause_kind) == (f"not-{predicted}", "database")
    assert (fb.predicted_service, fb.predicted_verdict) == (predicted, report.verdict)
    log = (feedback_path(data, wid).parent / "log.jsonl").read_text().splitlines()
    assert [json.loads(x)["correct"] for x in log] == [True, False]
    assert await _sleuth("feedback", wid, "--wrong", *common) == 1, "--wrong needs the real cause"
    assert await _sleuth("feedback", wid, "--wrong", "--cause", "db:meteor", *common) == 1

    cases_dir = tmp_path / "cases"
    assert await _sleuth("export-case", wid, "--out", str(cases_dir), *common) == 0
    [case] = living_cases(cases_dir)
    folder = cases_dir / case.name
    assert (folder / "case.json").is_file() and (folder / "history.json").is_file()
    assert case.investigation_id == wid and case.label.cause_kind == "database"
    assert case.context.alert.monitor_id == report.monitor_id
    tested = {h.id for h in case.hypotheses}
    assert {t.hypothesis.id for t in rec.tests} <= tested
    assert all(h.evidence for h in case.hypotheses if h.status == "validated")
    assert case.original is not None and not case.original.top1, "the human said the report was wrong"

    # Replay: the current judge and concluder over the recorded evidence; no Datadog involved.
    result, replayed = replay(case)
    assert replayed.verdict == report.verdict
    assert (replayed.root_cause.service if replayed.root_cause else None) == predicted
    assert [h.status for h in replayed.hypotheses] == [h.status for h in case.hypotheses]
    assert result.truth.service == f"not-{predicted}" and not result.top1

    card = run_living(cases_dir, say=lambda *_: None)
    assert card.dataset == "living" and len(card.cases) == 1 and card.ac1 == 0.0
    out = tmp_path / "card.json"
    assert (
        await _sleuth("eval", "--dataset", "living", "--data-dir", str(tmp_path), "--out", str(out)) == 1
    ), "no cases under <data dir>/living-cases yet"
    (tmp_path / "living-cases").symlink_to(cases_dir)
    assert await _sleuth("eval", "--dataset", "living", "--data-dir", str(tmp_path), "--out", str(out)) == 0
    assert json.loads(out.read_text())["cases"][0]["case"] == case.name

    # The exported history is also a determinism fixture for Temporal's Replayer.
    history = WorkflowHistory.from_json(wid, (folder / "history.json").read_text())
    replayer = Replayer(workflows=[InvestigateAlert], data_converter=pydantic_data_converter)
    assert (await replayer.replay_workflow(history)).replay_failure is None
