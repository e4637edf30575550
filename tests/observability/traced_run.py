"""Investigations in a process of their own (LLMObs and ddtrace are process-global), with tracing and
metrics configured by the environment; on the test session's Temporal dev server.

    python -m tests.observability.traced_run --address 127.0.0.1:PORT --world NAME [--runs N]

Prints one `RESULT {json}` line per investigation: whether tracing was on, the investigation id,
the report, the evaluation the workflow recorded and the trace context it carried. With --runs N,
it waits for a line on stdin before each further run (the test changes the intake in between).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid

from sleuth.models.requests import TraceContext
from tests.harness import world_with


def quick_world() -> str:
    """A world whose investigation is short (a few seconds), to keep this module fast."""
    for kind in ("network", "disk_pressure", "cpu_saturation"):
        try:
            return world_with(kind=kind)
        except LookupError:
            continue
    return world_with()


async def _llm_calls_in_an_agent_span(wid: str, trace: TraceContext) -> None:
    """What the LLM roles do, in miniature: SDK calls inside an agent span joined to the investigation.
    The llm spans below it come from ddtrace's openai/anthropic auto-instrumentation."""
    import anthropic
    import openai

    from sleuth.observability import tracing
    from tests.fixtures.wire_stubs import running_stub, text_turn

    with running_stub() as stub:
        stub.script(text_turn("a hypothesis", usage=(11, 7)), text_turn("a conclusion", usage=(12, 6)))
        with tracing.activity_span("agent", "llm_roles", trace, investigation_id=wid):
            oa = openai.AsyncOpenAI(base_url=stub.openai_base_url, api_key="sk-test", max_retries=0)
            await oa.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "plan"}]
            )
            an = anthropic.AsyncAnthropic(
                base_url=stub.anthropic_base_url, api_key="sk-ant-test", max_retries=0
            )
            await an.messages.create(
                model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "conclude"}]
            )


async def run(address: str, world: str, max_rounds: int, llm_check: bool, runs: int) -> None:
    for i in range(runs):
        if i:
            await asyncio.to_thread(sys.stdin.readline)
        started = time.monotonic()
        out = await investigate(address, world, max_rounds, llm_check and i == 0)
        out["seconds"] = round(time.monotonic() - started, 2)
        print("RESULT " + json.dumps(out), flush=True)


async def investigate(address: str, world: str, max_rounds: int, llm_check: bool) -> dict[str, object]:
    from sleuth.evals.living import recorded
    from sleuth.models.investigation import Report
    from sleuth.observability import submit, tracing
    from sleuth.worker import connect
    from tests.harness import harness

    client = await connect(address)
    async with harness(
        client, world, approval_timeout=1, SLEUTH_RATE_LIMIT_SECONDS=0, SLEUTH_MAX_ROUNDS=max_rounds
    ) as h:
        # Through the intake app (and its IntakeMetrics); a cycle key of its own, so the same
        # world's alert from another run cannot attach to this one.
        wid = await h.fire(alert_cycle_key=f"traced-{uuid.uuid4().hex}")
        report: Report = await h.handle(wid).result()
    rec, _ = await recorded(client, wid)
    if llm_check and rec.gather is not None:
        await _llm_calls_in_an_agent_span(wid, rec.gather.trace)
        # A human's verdict, as `sleuth feedback` submits it (without the CLI's own flush).
        from sleuth.evals.feedback import submit_to_llmobs, verdict_from

        fb = verdict_from(report, correct=False, cause="ledger-db:database", by="alice", note="it was the db")
        assert submit_to_llmobs(fb, submit.investigation_span(rec.gather.trace))
    submit.flush()
    return {
        "enabled": tracing.enabled(),
        "investigation_id": wid,
        "report": report.model_dump(mode="json"),
        "evaluation": rec.evaluation.model_dump(mode="json") if rec.evaluation else None,
        "trace": rec.gather.trace.headers if rec.gather else {},
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--address", required=True)
    ap.add_argument("--world", required=True)
    ap.add_argument("--max-rounds", type=int, default=3)
    ap.add_argument("--llm-check", action="store_true", help="also make model calls in an agent span")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args(argv)
    asyncio.run(run(args.address, args.world, args.max_rounds, args.llm_check, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
