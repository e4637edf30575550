"""Tracing is off without Datadog settings, and neither tracing nor metrics can fail the work."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from sleuth.models.investigation import Report, RootCause, Timings, Usage
from sleuth.models.requests import EvaluationScore, TraceContext
from sleuth.observability import metrics, submit, tracing
from sleuth.observability.tools import traced_gateway
from tests.observability.capture import StatsdSink


@pytest.fixture
def no_datadog_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in [k for k in os.environ if k.startswith(("DD_", "_DD_"))]:
        monkeypatch.delenv(key)
    tracing._reset_for_tests()
    metrics._reset_for_tests()
    yield
    tracing._reset_for_tests()
    metrics._reset_for_tests()


def test_what_turns_tracing_on() -> None:
    assert not tracing.requested({})
    assert tracing.requested({"DD_API_KEY": "k"})
    assert not tracing.requested({"DD_API_KEY": "k", "DD_LLMOBS_ENABLED": "false"})
    assert tracing.requested({"DD_LLMOBS_ENABLED": "1"})
    assert not tracing.requested({"DD_LLMOBS_ENABLED": "0", "DD_API_KEY": ""})


class Gateway:
    def query_metrics(self, queries: list[str]) -> list[str]:
        return queries


def test_tracing_is_off_without_keys(no_datadog_env: None) -> None:
    assert not tracing.ensure_enabled() and not tracing.enabled()
    trace = TraceContext()
    with tracing.investigation("inv-1", trace, input={"title": "x"}) as t:
        assert not t.root.active and not t.task.active
        t.annotate(output="ignored", tags={"a": "b"})
    assert t.trace is trace and t.trace.headers == {}
    with tracing.activity_span("agent", "planner", trace, investigation_id="inv-1") as s:
        assert not s.active and s.exported() is None
    gw = Gateway()
    assert traced_gateway(gw) is gw and "query_metrics" not in vars(gw)
    scores = [EvaluationScore(label="verdict", metric_type="categorical", value="inconclusive")]
    assert not submit.submit_evaluations(scores, {"span_id": "1", "trace_id": "2"})
    assert not submit.submit_feedback("human_verdict", "correct", submitter="me", session_id="inv-1")
    submit.flush()
    assert metrics.client() is None
    metrics.investigation_started(["monitor_id:1"])  # no agent configured: nothing, and no error


class Boom:
    """A ddtrace span whose every method fails."""

    def __exit__(self, *args: Any) -> None:
        raise RuntimeError("ddtrace broke")


def test_a_broken_tracer_never_changes_what_the_body_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "enabled", lambda: True)
    monkeypatch.setattr(tracing, "_start", lambda *a: Boom())
    with tracing.span("task", "t") as s:
        assert s.active
    with pytest.raises(ValueError, match="the body's own"), tracing.span("task", "t"):
        raise ValueError("the body's own")

    def no_start(*a: Any) -> Any:
        raise RuntimeError("cannot start")

    monkeypatch.setattr(tracing, "_start", no_start)
    with tracing.span("tool", "t") as s:
        assert not s.active
    with pytest.raises(ValueError, match="unknown LLMObs span kind"), tracing.span("bogus", "t"):
        pass


def test_dogstatsd_lines_and_targets(no_datadog_env: None) -> None:
    assert metrics.target_from_env({}) is None
    assert metrics.target_from_env({"DD_AGENT_HOST": "agent"}) == ("agent", 8125)
    assert metrics.target_from_env({"DD_AGENT_HOST": "a", "DD_DOGSTATSD_PORT": "9125"}) == ("a", 9125)
    assert metrics.target_from_env({"DD_DOGSTATSD_URL": "unix:///var/run/datadog/dsd.socket"}) == (
        "/var/run/datadog/dsd.socket"
    )
    assert metrics.target_from_env({"DD_DOGSTATSD_URL": "udp://127.0.0.1:9"}) == ("127.0.0.1", 9)
    with StatsdSink() as sink:
        os.environ["DD_DOGSTATSD_URL"] = f"udp://127.0.0.1:{sink.port}"
        os.environ["DD_ENV"] = "prod"
        try:
            t0 = datetime(2026, 3, 1, tzinfo=UTC)
            report = Report(
                investigation_id="inv-1",
                monitor_id="42",
                service="checkout",
                verdict="stopped",
                root_cause=RootCause(service="db", kind="database", summary="", confidence=0.7),
                usage=Usage(input_tokens=100, output_tokens=20, cost_usd=0.0125, datadog_calls=9),
                timings=Timings(started_at=t0, concluded_at=t0 + timedelta(seconds=30)),
            )
            metrics.investigation_finished(report, now=t0 + timedelta(seconds=42))
            assert StatsdSink.wait(sink, 8)
        finally:
            del os.environ["DD_DOGSTATSD_URL"], os.environ["DD_ENV"]
    lines = {ln.split(":", 1)[0]: ln for ln in sink.lines}
    tags = "service:sleuth,env:prod,monitor_id:42,alert_service:checkout,model:offline,verdict:stopped"
    assert lines[metrics.STOPPED] == f"{metrics.STOPPED}:1|c|#{tags},root_cause_kind:database"
    assert lines[metrics.DURATION].startswith(f"{metrics.DURATION}:42|d|#")
    assert lines[metrics.TIME_TO_CONCLUSION].startswith(f"{metrics.TIME_TO_CONCLUSION}:30|d|")
    assert lines[metrics.COST].startswith(f"{metrics.COST}:0.0125|d|")
    assert lines[metrics.TOKENS].startswith(f"{metrics.TOKENS}:120|d|")
    assert metrics.CONCLUDED not in lines and metrics.FAILED not in lines


async def test_intake_middleware_installs_on_fastapi(no_datadog_env: None) -> None:
    """The one line the intake needs: `app.add_middleware(IntakeMetrics)` in create_app."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/webhooks/datadog", status_code=503)
    async def hook() -> dict[str, str]:
        return {"detail": "Temporal unavailable"}

    app.add_middleware(metrics.IntakeMetrics)
    with StatsdSink() as sink:
        os.environ["DD_DOGSTATSD_URL"] = f"udp://127.0.0.1:{sink.port}"
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as http:
                assert (await http.post("/webhooks/datadog")).status_code == 503
            assert StatsdSink.wait(sink, 2)
        finally:
            del os.environ["DD_DOGSTATSD_URL"]
    assert any(ln.startswith(metrics.INTAKE_REQUESTS) and "status_class:5xx" in ln for ln in sink.lines)


async def test_intake_middleware_counts_5xx(no_datadog_env: None) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/boom":
            raise RuntimeError("unhandled")
        status = 503 if scope["path"] == "/webhooks/datadog" else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with StatsdSink() as sink:
        os.environ["DD_DOGSTATSD_URL"] = f"udp://127.0.0.1:{sink.port}"
        try:
            transport = httpx.ASGITransport(app=metrics.IntakeMetrics(app), raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
                assert (await http.post("/webhooks/datadog")).status_code == 503
                assert (await http.get("/healthz")).status_code == 200
                assert (await http.get("/boom")).status_code == 500
            assert StatsdSink.wait(sink, 6)
        finally:
            del os.environ["DD_DOGSTATSD_URL"]
    counts = sorted(ln for ln in sink.lines if ln.startswith(metrics.INTAKE_REQUESTS))
    assert any("status_class:5xx,status:503,path:/webhooks/datadog" in ln for ln in counts)
    assert any("status_class:2xx,status:200,path:/healthz" in ln for ln in counts)
    assert any("status_class:5xx,status:500,path:other" in ln for ln in counts)
