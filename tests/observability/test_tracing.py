"""LLM Observability on real investigations: one trace each, evaluations joined to it, metrics sent;
and a broken intake (500, or nothing listening) never fails an investigation.

LLMObs is process-global, so each traced investigation runs in a subprocess (tests/observability/
traced_run.py) against this session's Temporal dev server, with the intake captured on loopback
(`DD_LLMOBS_OVERRIDE_ORIGIN`, agentless, platform notes §2.3 mode A). The three runs go in parallel.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from sleuth.observability import metrics
from sleuth.observability.tracing import SPAN_ID_KEY, TRACE_ID_KEY
from tests.observability.capture import LLMObsIntake, StatsdSink, llmobs_env
from tests.observability.traced_run import quick_world

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 150  # generous: a loaded 2-core CI box; idle, each run takes 10-15 s


@dataclass
class TracedRun:
    result: dict[str, Any]
    intake: LLMObsIntake | None
    statsd: StatsdSink | None


class Traced:
    """A traced_run subprocess; `next()` reads its next investigation's result."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stderr = bytearray()
        # Drained all along: ddtrace logs every failed send, and a full pipe would block the child.
        self._drain = asyncio.ensure_future(self._read_stderr())

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self.stderr.extend(chunk[-100_000:])
            del self.stderr[:-100_000]

    @classmethod
    async def start(cls, address: str, world: str, env: dict[str, str], *extra: str) -> Traced:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.observability.traced_run",
            "--address",
            address,
            "--world",
            world,
            *extra,
            env=env,
            cwd=str(ROOT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=2**24,  # a RESULT line holds a whole report
        )
        return cls(proc)

    async def next(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = (await asyncio.wait_for(self.proc.stdout.readline(), RUN_TIMEOUT)).decode()
            if not line:
                code = await self.proc.wait()
                raise AssertionError(
                    f"traced run ended ({code}):\n{self.stderr.decode(errors='replace')[-4000:]}"
                )
            if line.startswith("RESULT "):
                return dict(json.loads(line[len("RESULT ") :]))

    def go_on(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")

    async def finish(self) -> None:
        try:
            assert await asyncio.wait_for(self.proc.wait(), RUN_TIMEOUT) == 0
            await self._drain
        finally:
            if self.proc.returncode is None:
                self.proc.kill()


@pytest.fixture(scope="module")
async def runs(temporal_client: Client) -> AsyncIterator[dict[str, TracedRun]]:
    """Two processes in parallel: one traced investigation (+ model calls) against a healthy intake;
    and one against an intake answering 500, then — the same process — against a closed port."""
    address = temporal_client.service_client.config.target_host
    world = quick_world()
    with LLMObsIntake() as ok, StatsdSink() as sink, LLMObsIntake(status=500) as broken:
        healthy = await Traced.start(
            address, world, llmobs_env(ok.url, sink.port), "--max-rounds", "2", "--llm-check"
        )
        failing = await Traced.start(
            address, world, llmobs_env(broken.url), "--max-rounds", "1", "--runs", "2"
        )

        async def broken_then_closed() -> tuple[dict[str, Any], dict[str, Any]]:
            first = await failing.next()
            broken.close()  # the intake goes away: its port is closed from now on
            failing.go_on()
            return first, await failing.next()

        try:
            good, (on_500, on_closed) = await asyncio.gather(healthy.next(), broken_then_closed())
            await asyncio.gather(healthy.finish(), failing.finish())
        finally:
            for t in (healthy, failing):
                if t.proc.returncode is None:
                    t.proc.kill()
        print("traced runs took", [r["seconds"] for r in (good, on_500, on_closed)], "s")
        ok.wait_for(lambda: len(ok.evaluations()) >= 4 and any(s["name"] == "llm_roles" for s in ok.spans()))
        yield {
            "ok": TracedRun(good, ok, sink),
            "500": TracedRun(on_500, broken, None),
            "closed": TracedRun(on_closed, None, None),
        }


def _tags(span: dict[str, Any]) -> dict[str, str]:
    return dict(t.split(":", 1) for t in span["tags"])


async def test_one_investigation_is_one_trace(runs: dict[str, TracedRun]) -> None:
    run = runs["ok"]
    assert run.intake is not None
    wid, report = run.result["investigation_id"], run.result["report"]
    # The verdict is the world's business (a loaded machine can time queries out): any but "failed".
    assert run.result["enabled"] and report["verdict"] in ("root_cause_found", "inconclusive")
    everything = run.intake.spans()
    assert len({s["trace_id"] for s in everything}) == 1, "every span of the investigation is in one trace"
    llm_check = {s["span_id"] for s in everything if s["name"] == "llm_roles"}
    spans = [s for s in everything if s["span_id"] not in llm_check and s["parent_id"] not in llm_check]
    by_id = {s["span_id"]: s for s in spans}
    roots = [s for s in spans if s["parent_id"] == "undefined"]
    assert [r["name"] for r in roots] == ["investigation"]
    root = roots[0]
    assert root["meta"]["span"]["kind"] == "workflow"
    kinds = Counter((s["name"], s["meta"]["span"]["kind"]) for s in spans)
    assert kinds[("gather_context", "task")] == 1 and kinds[("concluder", "agent")] == 1
    assert kinds[("planner", "agent")] >= 1 and kinds[("test_hypothesis", "task")] >= 2
    assert kinds[("publish_findings", "task")] == 1 and kinds[("online_evaluation", "task")] == 1
    # Spans made by different activities (and different attempts' headers) hang off the root.
    direct = [s for s in spans if s["parent_id"] == root["span_id"]]
    assert {_tags(s)["temporal.activity_type"] for s in direct} == {
        "gather_context",
        "plan_hypotheses",
        "test_hypothesis",
        "conclude_investigation",
        "publish_findings",
        "evaluate_investigation",
    }
    tests = [s for s in spans if s["name"] == "test_hypothesis"]
    assert len({_tags(s)["temporal.activity_id"] for s in tests}) == len(tests)
    # One tool span per Datadog query, under the activity span that made it.
    tools = [s for s in spans if s["meta"]["span"]["kind"] == "tool"]
    assert tools and all(s["name"].startswith("datadog.") for s in tools)
    parents = Counter(by_id[s["parent_id"]]["name"] for s in tools)
    assert set(parents) == {"gather_context", "test_hypothesis", "publish_findings"}
    assert (
        sum(by_id[s["parent_id"]]["name"] != "publish_findings" for s in tools)
        <= report["usage"]["datadog_calls"]
    )
    # Tags: monitor, service, model, investigation; the session is the investigation.
    assert all(s["session_id"] == wid for s in spans)
    for s in [root, *direct]:
        tags = _tags(s)
        assert tags["investigation_id"] == wid and tags["monitor_id"] == report["monitor_id"]
        assert tags["temporal.workflow_id"] == wid and tags["temporal.attempt"] == "1"
        assert tags["temporal.run_id"] and tags["temporal.activity_id"]
    for s in direct:
        if s["name"] != "gather_context":
            assert _tags(s)["model"] == "offline" and _tags(s)["alert_service"] == report["service"]
    # The trace context the workflow carried names this root span.
    assert run.result["trace"][SPAN_ID_KEY] == root["span_id"]
    assert run.result["trace"][TRACE_ID_KEY] == root["trace_id"]


async def test_llm_spans_from_auto_instrumentation_join_the_trace(runs: dict[str, TracedRun]) -> None:
    assert runs["ok"].intake is not None
    spans = runs["ok"].intake.spans()
    root = next(s for s in spans if s["name"] == "investigation")
    agent = next(s for s in spans if s["name"] == "llm_roles")
    assert agent["parent_id"] == root["span_id"] and agent["meta"]["span"]["kind"] == "agent"
    llms = {s["meta"]["model_name"]: s for s in spans if s["meta"]["span"]["kind"] == "llm"}
    assert set(llms) == {"gpt-4o-mini", "claude-haiku-4-5"}
    for s in llms.values():
        assert s["parent_id"] == agent["span_id"] and s["trace_id"] == root["trace_id"]
        assert s["session_id"] == runs["ok"].result["investigation_id"]
    assert llms["gpt-4o-mini"]["metrics"]["input_tokens"] == 11
    assert llms["claude-haiku-4-5"]["metrics"]["output_tokens"] == 6


async def test_evaluations_are_joined_to_the_investigation_span(runs: dict[str, TracedRun]) -> None:
    run = runs["ok"]
    assert run.intake is not None and run.result["evaluation"]["submitted"] is True
    root = next(s for s in run.intake.spans() if s["name"] == "investigation")
    evals = {e["label"]: e for e in run.intake.evaluations() if e["label"] != "human_verdict"}
    expected = {s["label"] for s in run.result["evaluation"]["scores"]}
    assert {"evidence_grounded_claims", "budget_use", "tool_error_rate", "verdict"} <= expected
    assert set(evals) == expected
    for e in evals.values():
        assert e["join_on"]["span"] == {"span_id": root["span_id"], "trace_id": root["trace_id"]}
        assert f"investigation_id:{run.result['investigation_id']}" in e["tags"]
    assert evals["verdict"]["categorical_value"] == run.result["report"]["verdict"]
    assert evals["evidence_grounded_claims"]["assessment"] in ("pass", "fail")
    assert 0 < evals["budget_use"]["score_value"] < 1


async def test_human_feedback_is_joined_to_the_investigation_span(runs: dict[str, TracedRun]) -> None:
    run = runs["ok"]
    assert run.intake is not None
    root = next(s for s in run.intake.spans() if s["name"] == "investigation")
    [fb] = [e for e in run.intake.evaluations() if e["label"] == "human_verdict"]
    assert fb["event_kind"] == "feedback" and fb["span_id"] == root["span_id"]
    assert fb["categorical_value"] == "wrong" and fb["assessment"] == "fail"
    assert fb["submitter"] == {"id": "alice", "type": "human"} and fb["reasoning"] == "it was the db"
    assert "true_cause:ledger-db:database" in fb["tags"]


async def test_metrics_reach_dogstatsd(runs: dict[str, TracedRun]) -> None:
    sink = runs["ok"].statsd
    assert sink is not None
    names = sink.names()
    assert {
        metrics.STARTED,
        metrics.FINISHED,
        metrics.CONCLUDED,
        metrics.DURATION,
        metrics.TIME_TO_CONCLUSION,
        metrics.TOKENS,
        metrics.COST,
        metrics.DATADOG_CALLS,
        metrics.INTAKE_REQUESTS,
    } <= names
    assert names <= metrics.EMITTED
    finished = next(ln for ln in sink.lines if ln.startswith(metrics.FINISHED + ":"))
    verdict = runs["ok"].result["report"]["verdict"]
    assert (
        f"verdict:{verdict}" in finished and "model:offline" in finished and "service:sleuth-test" in finished
    )
    assert any("status_class:2xx" in ln for ln in sink.lines if ln.startswith(metrics.INTAKE_REQUESTS))


@pytest.mark.parametrize("mode", ["500", "closed"])
async def test_failing_intake_never_fails_an_investigation(runs: dict[str, TracedRun], mode: str) -> None:
    run = runs[mode]
    assert run.result["enabled"], "tracing was on, talking to a broken intake"
    assert run.result["report"]["verdict"] in ("root_cause_found", "inconclusive")  # one round: either
    assert run.result["evaluation"] is not None and run.result["evaluation"]["scores"]
    assert run.result["trace"], "the trace context still travelled through the workflow"
    if run.intake is not None:  # the 500 intake was really tried, and refused everything
        assert run.intake.bodies("/api/v2/llmobs")
