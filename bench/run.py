"""Sleuth benchmarks (issue 7). `.venv/bin/python -m bench.run [--quick] [--sections a,b,c,d]`

(a) latency: webhook POST → findings event recorded by the sandbox Datadog, over every sandbox world,
    offline model; intake (uvicorn) and worker (`sleuth worker`) are processes of their own. Goal p50 ≤ 10 s.
(b) parallel hypothesis testing: the testing phase's wall time with SLEUTH_MAX_PARALLEL_TESTS=N vs 1 on
    the same world (fresh sandbox and worker per run), on the sandbox as it is and with an emulated
    Datadog round-trip latency. Goal: speed-up ≥ 0.8 × the tests that could run at once.
(c) concurrency: K investigations started at once on one worker process; the largest K that completes
    within a bounded time with correct verdicts, with the worker's CPU and peak RSS read from /proc.
    Goal ≥ 50 on 2 cores.
(d) telemetry volume: model tokens and Datadog calls per investigation at 1× and 10× telemetry
    (traffic, log and trace rates scaled in the world spec), offline and with the LLM path against the
    local OpenAI wire stub (tests/fixtures/wire_stubs.py).

Writes bench/results/benchmarks.json and benchmarks.md with the machine, the commit and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.stack import (
    RESULTS,
    ProcSampler,
    finding_time,
    free_port,
    fresh_alert,
    git,
    intake_proc,
    loadavg,
    logs_dir,
    machine,
    now_iso,
    pct,
    post_webhook,
    sandbox_proc,
    start_sandbox,
    temporal,
    wait_http,
    worker_env,
    worker_proc,
)
from sleuth.config import Settings
from sleuth.gateway import CallBudget, DatadogGateway, GatewayConfig
from sleuth.intake.delivery import deliver
from sleuth.intake.payload import WebhookPayload
from sleuth.models.investigation import Report
from sleuth.sandbox import SandboxServer, World, list_worlds, load_truth, load_world

PARALLEL_WORLD = "streaming-cache-failure"  # many first-round hypotheses
CONCURRENCY_WORLD = "logistics-cpu"
VOLUME_WORLD = "logistics-cpu"
EMULATED_LATENCY_MS = 300  # a typical Datadog query round trip; the sandbox answers in a few ms


def say(*parts: Any) -> None:
    print(*parts, flush=True)


def correct(report: Report, world: str) -> bool:
    truth = load_truth(world)
    if report.verdict != truth.verdict:
        return False
    if truth.verdict == "root_cause_found":
        return report.root_cause is not None and report.root_cause.service == truth.root_cause_service
    return True


def bench_settings(task_queue: str, **kw: Any) -> Settings:
    """What the intake puts in each InvestigationRequest (budgets travel with the request)."""
    return Settings(
        SLEUTH_TASK_QUEUE=task_queue,
        SLEUTH_WEBHOOK_TOKEN="x",
        SLEUTH_APPROVAL_TIMEOUT_SECONDS=1,
        SLEUTH_RATE_LIMIT_SECONDS=0,
        **kw,
    )


async def start_one(client: Client, settings: Settings, payload: dict[str, Any]) -> str:
    alert = WebhookPayload.model_validate(payload).to_alert()
    accepted = await deliver(client, settings, alert, rpc_timeout=timedelta(seconds=30))
    assert accepted.status == "started", accepted
    return accepted.investigation_id


async def result(client: Client, wid: str, timeout: float) -> Report:
    handle = client.get_workflow_handle(wid, result_type=Report)
    return await asyncio.wait_for(handle.result(rpc_timeout=None), timeout)


# -- (a) webhook → findings ---------------------------------------------------------------------------


async def latency(client: Client, address: str, worlds: list[str], logs: Path) -> dict[str, Any]:
    tq = f"bench-a-{uuid.uuid4().hex[:6]}"
    port = free_port()
    intake = intake_proc(
        address, tq, port, logs / "intake.log", SLEUTH_APPROVAL_TIMEOUT_SECONDS=1, SLEUTH_RATE_LIMIT_SECONDS=0
    )
    intake.start()
    rows: list[dict[str, Any]] = []
    load0 = loadavg()
    try:
        await wait_http(f"http://127.0.0.1:{port}/livez")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for world in worlds:
                server = await asyncio.to_thread(start_sandbox, world)
                env = worker_env(address, tq, server.url, server.ctx.api_key, server.ctx.app_key)
                worker = await asyncio.to_thread(worker_proc(env, logs / f"worker-a-{world}.log").start)
                try:
                    payload = server.alert_payload()
                    t0 = time.monotonic()
                    resp = await post_webhook(http, payload)
                    ack = time.monotonic() - t0
                    assert resp.status_code == 202, resp.text
                    wid = resp.json()["investigation_id"]
                    found: float | None = None
                    while found is None and time.monotonic() - t0 < 240:
                        await asyncio.sleep(0.05)
                        found = finding_time(server, wid)
                    report = await result(client, wid, 120)
                    row = {
                        "world": world,
                        "webhook_to_findings_s": round(found - t0, 2) if found else None,
                        "webhook_ack_ms": round(ack * 1000, 1),
                        "verdict": report.verdict,
                        "root_cause": f"{report.root_cause.service}/{report.root_cause.kind}"
                        if report.root_cause
                        else None,
                        "correct": correct(report, world),
                        "hypotheses": len(report.hypotheses),
                        "datadog_calls": report.usage.datadog_calls,
                        "loadavg_1m": loadavg()[0],
                    }
                finally:
                    await asyncio.to_thread(worker.stop)
                    await asyncio.to_thread(server.stop)
                say(
                    f"  (a) {world:32} {row['webhook_to_findings_s']} s  {row['verdict']} {row['root_cause']}"
                )
                rows.append(row)
    finally:
        intake.stop()
    times = [r["webhook_to_findings_s"] for r in rows if r["webhook_to_findings_s"] is not None]
    return {
        "what": "webhook POST to the intake (uvicorn process) → findings event recorded by the sandbox; "
        "worker = `sleuth worker` process, offline model, one investigation at a time",
        "worlds": len(rows),
        "p50_s": pct(times, 0.5),
        "p90_s": pct(times, 0.9),
        "max_s": max(times) if times else None,
        "mean_s": round(statistics.mean(times), 2) if times else None,
        "correct": sum(r["correct"] for r in rows),
        "goal": "p50 ≤ 10 s",
        "met": bool(times) and (pct(times, 0.5) or 1e9) <= 10,
        "loadavg_start": load0,
        "loadavg_end": loadavg(),
        "runs": rows,
    }


# -- (b) parallel vs sequential hypothesis tests ---------------------------------------------------


async def test_phase(client: Client, wid: str) -> dict[str, Any]:
    """Round-1 test_hypothesis activities from the history: testing wall time and summed work."""
    handle = client.get_workflow_handle(wid)
    kinds: dict[int, str] = {}
    scheduled: dict[int, float] = {}
    started: dict[int, float] = {}
    finished: dict[int, float] = {}
    async for e in handle.fetch_history_events():
        t = e.event_time.ToDatetime().timestamp()
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            kinds[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[e.event_id] = t
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[e.activity_task_started_event_attributes.scheduled_event_id] = t
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            finished[e.activity_task_completed_event_attributes.scheduled_event_id] = t
    tests = [i for i, k in kinds.items() if k == "test_hypothesis" and i in finished]
    if not tests:
        return {"tests": 0}
    wall = max(finished[i] for i in tests) - min(scheduled[i] for i in tests)
    each = [finished[i] - started.get(i, scheduled[i]) for i in tests]
    return {
        "tests": len(tests),
        "wall_s": round(wall, 2),
        "work_s": round(sum(each), 2),
        "longest_test_s": round(max(each), 2),
    }


async def parallel(client: Client, address: str, n: int, repeats: int, logs: Path) -> dict[str, Any]:
    load0 = loadavg()
    modes: dict[str, Any] = {}
    for latency_ms in (0, EMULATED_LATENCY_MS):
        mode = "sandbox as is" if not latency_ms else f"+{latency_ms} ms per Datadog call"
        per: dict[int, list[dict[str, Any]]] = {1: [], n: []}
        for r in range(repeats):
            for par in (1, n):
                server = await asyncio.to_thread(start_sandbox, PARALLEL_WORLD)
                if latency_ms:
                    server.faults.add("/api/", "slow", times=10**7, delay_seconds=latency_ms / 1000)
                tq = f"bench-b-{uuid.uuid4().hex[:6]}"
                env = worker_env(address, tq, server.url, server.ctx.api_key, server.ctx.app_key)
                worker = await asyncio.to_thread(worker_proc(env, logs / f"worker-b-{tq}.log").start)
                try:
                    s = bench_settings(tq, SLEUTH_MAX_PARALLEL_TESTS=par, SLEUTH_MAX_ROUNDS=1)
                    wid = await start_one(client, s, fresh_alert(server.alert_payload(), r))
                    report = await result(client, wid, 600)
                    phase = await test_phase(client, wid)
                    phase.update(correct=correct(report, PARALLEL_WORLD), loadavg_1m=loadavg()[0])
                finally:
                    await asyncio.to_thread(worker.stop)
                    await asyncio.to_thread(server.stop)
                say(f"  (b) {mode:28} parallel={par} run {r + 1}: {phase}")
                per[par].append(phase)
        seq = statistics.median(x["wall_s"] for x in per[1])
        par_wall = statistics.median(x["wall_s"] for x in per[n])
        tests = per[n][0]["tests"]
        ideal = min(n, tests)
        speedup = seq / par_wall if par_wall else None
        # No schedule beats the longest single test: seq / longest is the best any parallelism can do.
        longest = statistics.median(x["longest_test_s"] for x in per[1])
        bound = seq / longest if longest else None
        modes[mode] = {
            "sequential_wall_s": round(seq, 2),
            "parallel_wall_s": round(par_wall, 2),
            "tests": tests,
            "ideal_speedup": ideal,
            "speedup": round(speedup, 2) if speedup else None,
            "efficiency": round(speedup / ideal, 2) if speedup else None,
            "critical_path_speedup": round(bound, 2) if bound else None,
            "of_critical_path": round(speedup / bound, 2) if speedup and bound else None,
            "met": bool(speedup) and speedup >= 0.8 * ideal,
            "runs": {str(k): v for k, v in per.items()},
        }
    return {
        "what": f"round-1 testing phase of {PARALLEL_WORLD} (first test scheduled → last test completed, "
        f"from the workflow history), SLEUTH_MAX_PARALLEL_TESTS={n} vs 1, SLEUTH_MAX_ROUNDS=1; "
        f"median of {repeats}; fresh sandbox and worker process per run",
        "n": n,
        "goal": "speed-up ≥ 0.8 × min(N, tests)",
        "notes": (
            "*speed-up* = sequential wall / parallel wall. *ideal* = min(N, tests). *critical path* = sequential "
            "wall / the longest single test (measured sequentially): no amount of parallelism can beat it, because "
            "tests are not equally long (the culprit's test queries more). On the sandbox as is, a test is ~0.2 s "
            "of CPU (the sandbox computing telemetry in one Python process, the worker's statistics) on 2 shared "
            "cores, so running tests at once mostly queues them for the same CPUs: there is little to overlap. "
            "Real Datadog queries are network round trips the worker waits on; the second mode emulates that with "
            f"an async {EMULATED_LATENCY_MS} ms delay per API call in the sandbox, and that is where parallel "
            "testing pays."
        ),
        "loadavg_start": load0,
        "loadavg_end": loadavg(),
        "modes": modes,
    }


# -- (c) concurrent investigations on one worker ----------------------------------------------------


async def findings_by_investigation(url: str, since: datetime) -> dict[str, int]:
    """Findings events per investigation id, read back through the Datadog events API."""
    gw = DatadogGateway(
        GatewayConfig(base_url=url, api_key="sandbox-api-key", app_key="sandbox-app-key"), CallBudget(10)
    )
    events = await asyncio.to_thread(
        gw.search_events, "source:sleuth", since, datetime.now(UTC) + timedelta(days=1), 1000
    )
    out: dict[str, int] = {}
    for e in events:
        if "sleuth_kind:finding" in e.tags:
            for t in e.tags:
                if t.startswith("investigation_id:"):
                    out[t.split(":", 1)[1]] = out.get(t.split(":", 1)[1], 0) + 1
    return out


async def concurrency_step(
    client: Client,
    address: str,
    temporal_pid: int,
    sandbox_pid: int,
    url: str,
    base: dict[str, Any],
    k: int,
    bound: float,
    logs: Path,
) -> dict[str, Any]:
    tq = f"bench-c-{k}-{uuid.uuid4().hex[:6]}"
    env = worker_env(address, tq, url, "sandbox-api-key", "sandbox-app-key")
    worker = await asyncio.to_thread(worker_proc(env, logs / f"worker-c-{k}.log").start)
    sampler = ProcSampler({"worker": worker.pid, "sandbox": sandbox_pid, "temporal": temporal_pid}).start()
    settings = bench_settings(tq)
    since = datetime.now(UTC) - timedelta(minutes=5)
    t0 = time.monotonic()
    sem = asyncio.Semaphore(25)

    async def start(i: int) -> str:
        async with sem:
            return await start_one(client, settings, fresh_alert(base, i))

    wids = await asyncio.gather(*(start(i) for i in range(k)))
    started_in = time.monotonic() - t0
    done_at: dict[str, float] = {}
    reports: dict[str, Report] = {}

    async def wait(wid: str) -> None:
        left = bound - (time.monotonic() - t0)
        reports[wid] = await result(client, wid, max(1.0, left))
        done_at[wid] = time.monotonic() - t0

    await asyncio.gather(*(wait(w) for w in wids), return_exceptions=True)
    wall = time.monotonic() - t0
    _, _, peak_kb = ProcSampler.read(worker.pid)
    await sampler.stop()
    for wid in wids:
        if wid not in reports:
            handle = client.get_workflow_handle(wid)
            await asyncio.gather(handle.terminate("benchmark bound reached"), return_exceptions=True)
    await asyncio.to_thread(worker.stop)
    posted = await findings_by_investigation(url, since)
    ok = [w for w, r in reports.items() if correct(r, CONCURRENCY_WORLD)]
    durations = sorted(done_at.values())
    step: dict[str, Any] = {
        "k": k,
        "completed": len(reports),
        "correct": len(ok),
        "published_exactly_once": sum(1 for w in wids if posted.get(w) == 1),
        "started_in_s": round(started_in, 2),
        "wall_s": round(wall, 1),
        "completion_p50_s": pct(durations, 0.5),
        "completion_max_s": round(durations[-1], 1) if durations else None,
        "stop_reasons": sorted({str(r.stop_reason) for r in reports.values()}),
        "worker": sampler.summary("worker", peak_kb),
        "sandbox": sampler.summary("sandbox"),
        "temporal": sampler.summary("temporal"),
        "loadavg_1m": loadavg()[0],
    }
    step["passed"] = step["completed"] == k and step["correct"] == k and step["published_exactly_once"] == k
    return step


async def concurrency(
    client: Client, address: str, temporal_pid: int, ladder: list[int], bound: float, logs: Path
) -> dict[str, Any]:
    load0 = loadavg()
    anchor = datetime.now(UTC).replace(microsecond=0)
    port = free_port()
    sandbox = sandbox_proc(CONCURRENCY_WORLD, port, anchor, logs / "sandbox-c.log")
    await asyncio.to_thread(sandbox.start)
    url = f"http://127.0.0.1:{port}"
    base = SandboxServer(CONCURRENCY_WORLD, anchor=anchor).alert_payload()  # never started: the payload only
    steps: list[dict[str, Any]] = []
    try:
        for k in ladder:
            step = await concurrency_step(
                client, address, temporal_pid, sandbox.pid, url, base, k, bound, logs
            )
            say(
                f"  (c) K={k}: "
                + json.dumps({x: step[x] for x in ("completed", "correct", "wall_s", "passed")})
                + f" worker {step['worker']}"
            )
            steps.append(step)
            if not step["passed"]:
                break
    finally:
        sandbox.stop()
    best = max((s["k"] for s in steps if s["passed"]), default=0)
    return {
        "what": f"K investigations of {CONCURRENCY_WORLD} (distinct alert cycles) started at once on one "
        f"`sleuth worker` process (64 activity slots); sandbox Datadog in its own process; bound {bound:.0f} s "
        "per step; passed = all completed within the bound, all verdicts correct, each published exactly once",
        "bound_s": bound,
        "largest_k_passed": best,
        "notes": (
            "All K start within a second or two (signal-with-start, no worker needed); the worker then runs "
            "them interleaved. Worker cores = its CPU seconds / wall time from /proc (utime+stime); peak RSS = "
            "VmHWM. The sandbox Datadog (one Python process computing every answer) and the Temporal dev "
            "server share the same 2 CPUs, so completion time at large K measures the whole box, not the "
            "worker alone; the ladder stops at the first K that fails."
        ),
        "goal": "≥ 50 concurrent investigations on 2 cores",
        "met": best >= 50,
        "loadavg_start": load0,
        "loadavg_end": loadavg(),
        "steps": steps,
    }


# -- (d) tokens and Datadog calls at 1× and 10× telemetry --------------------------------------------


def scaled(world: World, factor: float) -> World:
    """Traffic, log and trace rates × factor: every query returns ~factor× the telemetry, same incident."""
    return world.model_copy(
        update={
            "services": [
                s.model_copy(update={"rps": s.rps * factor, "log_rate": s.log_rate * factor})
                for s in world.services
            ],
            "traces_per_min": min(60.0, world.traces_per_min * factor),
        }
    )


def stub_responder() -> Any:
    """A model that, as a tester, asks for logs, spans and metrics once, then stops; adds nothing elsewhere."""
    from tests.fixtures.wire_stubs import Call, Captured, Turn, text_turn, tool_turn

    def answer(c: Captured) -> Turn:
        body = c.json
        tools = {t.get("function", {}).get("name") for t in body.get("tools") or []}
        if "search_logs" not in tools:
            return text_turn("Nothing to add.")
        if any(m.get("role") == "tool" for m in body.get("messages") or []):
            return text_turn("Checked.")
        return tool_turn(
            Call("search_logs", {"query": "status:error"}),
            Call("search_spans", {"query": "status:error"}),
            Call("query_metrics", {"query": "avg:kubernetes.cpu.usage.total{*} by {service}"}),
        )

    return answer


async def volume(client: Client, address: str, logs: Path) -> dict[str, Any]:
    from tests.fixtures.wire_stubs import WireStub

    load0 = loadavg()
    base = load_world(VOLUME_WORLD)
    rows: list[dict[str, Any]] = []
    for label, spec in (("1x", base), ("10x", scaled(base, 10))):
        for model in ("offline", "openai:gpt-4o-mini"):
            stub = WireStub().start()
            stub.responder = stub_responder()
            server = await asyncio.to_thread(start_sandbox, spec, count_bytes=True)
            tq = f"bench-d-{uuid.uuid4().hex[:6]}"
            env = worker_env(
                address, tq, server.url, server.ctx.api_key, server.ctx.app_key,
                SLEUTH_MODEL=model, OPENAI_BASE_URL=stub.openai_base_url, OPENAI_API_KEY="sk-bench",
            )  # fmt: skip
            worker = await asyncio.to_thread(worker_proc(env, logs / f"worker-d-{tq}.log").start)
            try:
                wid = await start_one(client, bench_settings(tq, SLEUTH_MODEL=model), server.alert_payload())
                report = await result(client, wid, 600)
            finally:
                await asyncio.to_thread(worker.stop)
                await asyncio.to_thread(server.stop)
                stub.stop()
            counter = server.counter  # type: ignore[attr-defined]
            row = {
                "telemetry": label,
                "model": model,
                "verdict": report.verdict,
                "correct": correct(report, VOLUME_WORLD),
                "model_calls": report.usage.model_calls,
                "input_tokens": report.usage.input_tokens,
                "output_tokens": report.usage.output_tokens,
                "chars_sent_to_model": stub.received_chars(),
                "datadog_calls": report.usage.datadog_calls,
                "datadog_http_requests": counter.requests,
                "datadog_response_mib": round(counter.response_bytes / 2**20, 2),
                "hypotheses": len(report.hypotheses),
                "input_tokens_per_model_call": round(report.usage.input_tokens / report.usage.model_calls)
                if report.usage.model_calls
                else 0,
                "datadog_calls_per_hypothesis": round(
                    report.usage.datadog_calls / max(1, len(report.hypotheses)), 1
                ),
            }
            say(f"  (d) {label} {model}: {row}")
            rows.append(row)

    def ratio(model: str, key: str) -> float | None:
        one = next(r[key] for r in rows if r["model"] == model and r["telemetry"] == "1x")
        ten = next(r[key] for r in rows if r["model"] == model and r["telemetry"] == "10x")
        return round(ten / one, 2) if one else None

    return {
        "what": f"one investigation of {VOLUME_WORLD} per row; 10× = every service's rps and log rate × 10 and "
        "traces per minute × 10 in the world spec (World, loaded in memory); the LLM path is openai:gpt-4o-mini "
        "against the local wire stub (tokens = what the stub reports: request bytes / 4), the stub's tester asks "
        "for error logs, error spans and a CPU metric once per hypothesis",
        "rows": rows,
        "ratios_10x_over_1x": {
            m: {
                k: ratio(m, k)
                for k in (
                    "input_tokens",
                    "input_tokens_per_model_call",
                    "chars_sent_to_model",
                    "datadog_calls",
                    "datadog_calls_per_hypothesis",
                    "datadog_response_mib",
                )
            }
            for m in ("offline", "openai:gpt-4o-mini")
        },
        "notes": (
            "The planner may form one more hypothesis at 10× (the sampled topology is richer), so per-call and "
            "per-hypothesis ratios are the like-for-like comparison. Datadog returns several times more data at "
            "10× (MiB column; query page limits cap it below 10×); what reaches the model is digests of bounded size."
        ),
        "loadavg_start": load0,
        "loadavg_end": loadavg(),
    }


# -- report --------------------------------------------------------------------------------------


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    out = [
        "# Sleuth benchmarks",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, {m['platform']}, Python {m['python']}. "
        f"Commit `{r['commit']}`{' (working tree has uncommitted changes)' if r['dirty'] else ''}, {r['date']}. "
        f"Load average (1/5/15 min) at start {r['loadavg_start']}, at end {r['loadavg_end']}: the machine was "
        "shared with other work while this ran, so times are pessimistic. "
        f"Run: `.venv/bin/python -m bench.run{' --quick' if r['quick'] else ''}` ({r['duration_s']:.0f} s).",
        "",
    ]
    if a := r.get("latency"):
        out += [
            "## (a) Webhook → findings (offline model)",
            "",
            f"{a['what']}.",
            "",
            f"**p50 {a['p50_s']} s, p90 {a['p90_s']} s**, max {a['max_s']} s over {a['worlds']} worlds "
            f"({a['correct']}/{a['worlds']} verdicts correct). Goal {a['goal']}: **{'met' if a['met'] else 'not met'}**.",
            "",
            "| world | webhook → findings (s) | 202 in (ms) | verdict | root cause | correct | hypotheses | Datadog calls | load 1m |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        out += [
            f"| {x['world']} | {x['webhook_to_findings_s']} | {x['webhook_ack_ms']} | {x['verdict']} | {x['root_cause']} "
            f"| {x['correct']} | {x['hypotheses']} | {x['datadog_calls']} | {x['loadavg_1m']} |"
            for x in a["runs"]
        ]
        out.append("")
    if b := r.get("parallel"):
        out += ["## (b) Parallel vs sequential hypothesis testing", "", f"{b['what']}.", ""]
        out += [
            f"| mode | tests | sequential (s) | parallel N={b['n']} (s) | speed-up | ideal | efficiency "
            "| critical-path bound | share of bound | goal met |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for mode, x in b["modes"].items():
            out.append(
                f"| {mode} | {x['tests']} | {x['sequential_wall_s']} | {x['parallel_wall_s']} | {x['speedup']}× | "
                f"{x['ideal_speedup']}× | {x['efficiency']} | {x['critical_path_speedup']}× | "
                f"{x['of_critical_path']} | {x['met']} |"
            )
        out += ["", b.get("notes", ""), ""]
    if c := r.get("concurrency"):
        out += [
            "## (c) Concurrent investigations on one worker",
            "",
            f"{c['what']}.",
            "",
            f"**Largest K passed: {c['largest_k_passed']}** (goal {c['goal']}: {'met' if c['met'] else 'not met'}).",
            "",
            "| K | completed | correct | published once | wall (s) | completion p50 / max (s) | worker CPU s / avg cores / busiest 5 s | worker peak RSS (MiB) | sandbox cores | Temporal cores | load 1m |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in c["steps"]:
            w, sb, tp = s["worker"], s["sandbox"], s["temporal"]
            out.append(
                f"| {s['k']} | {s['completed']} | {s['correct']} | {s['published_exactly_once']} | {s['wall_s']} | "
                f"{s['completion_p50_s'] and round(s['completion_p50_s'], 1)} / {s['completion_max_s']} | "
                f"{w.get('cpu_s')} / {w.get('avg_cores')} / {w.get('busiest_5s_cores')} | {w.get('peak_rss_mib')} | "
                f"{sb.get('avg_cores')} | {tp.get('avg_cores')} | {s['loadavg_1m']} |"
            )
        out += ["", c.get("notes", ""), ""]
    if d := r.get("volume"):
        out += [
            "## (d) Tokens and Datadog calls at 1× and 10× telemetry",
            "",
            f"{d['what']}.",
            "",
            "| telemetry | model | verdict | hypotheses | model calls | input tokens | tokens / call | output tokens "
            "| chars to model | Datadog calls | calls / hypothesis | HTTP requests | MiB returned by Datadog |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        out += [
            f"| {x['telemetry']} | {x['model']} | {x['verdict']} | {x['hypotheses']} | {x['model_calls']} | "
            f"{x['input_tokens']} | {x['input_tokens_per_model_call']} | {x['output_tokens']} | "
            f"{x['chars_sent_to_model']} | {x['datadog_calls']} | {x['datadog_calls_per_hypothesis']} | "
            f"{x['datadog_http_requests']} | {x['datadog_response_mib']} |"
            for x in d["rows"]
        ]
        out += ["", f"10× / 1× ratios: `{json.dumps(d['ratios_10x_over_1x'])}`", "", d.get("notes", ""), ""]
    return "\n".join(out).rstrip() + "\n"


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    sections = set(args.sections.split(","))
    t0 = time.monotonic()
    out: dict[str, Any] = {
        "machine": machine(),
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "date": now_iso(),
        "quick": args.quick,
        "loadavg_start": loadavg(),
    }
    worlds = list_worlds()
    if args.quick:
        worlds = ["logistics-cpu", "ecommerce-deploy", "payments-config-flag", "insurance-missing-telemetry"]
    with logs_dir() as logs:
        async with temporal() as (server, client):
            assert server.process is not None
            if "a" in sections:
                say("(a) webhook → findings")
                out["latency"] = await latency(client, server.address, worlds, logs)
            if "b" in sections:
                say("(b) parallel vs sequential")
                out["parallel"] = await parallel(client, server.address, 8, 1 if args.quick else 3, logs)
            if "c" in sections:
                say("(c) concurrent investigations")
                ladder = [5, 15] if args.quick else [10, 25, 50, 75, 100]
                out["concurrency"] = await concurrency(
                    client, server.address, server.process.pid, ladder, 180 if args.quick else 300, logs
                )
            if "d" in sections:
                say("(d) telemetry volume")
                out["volume"] = await volume(client, server.address, logs)
    out["loadavg_end"] = loadavg()
    out["duration_s"] = round(time.monotonic() - t0, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few worlds, one repeat, a short ladder")
    ap.add_argument("--sections", default="a,b,c,d", help="which of a,b,c,d to run (default all)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = ap.parse_args(argv)
    results = asyncio.run(main_async(args))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "benchmarks" if args.sections == "a,b,c,d" else f"benchmarks-{args.sections.replace(',', '')}"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(results))
    say(f"wrote {args.out / (stem + '.json')} and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
