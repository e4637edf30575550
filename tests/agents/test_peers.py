"""Services with no tracer of their own (external APIs, queues) seen through their callers: client-side
APM metrics tagged `peer.service` and error logs that name them, read from the sandbox over Datadog's
HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sleuth.agents import context as context_agent
from sleuth.agents.evidence import edge_evidence
from sleuth.agents.peers import caller_log_evidence, peer_evidence
from sleuth.agents.planner import rank_suspects
from sleuth.gateway import CallBudget, DatadogGateway, GatewayConfig
from sleuth.intake.payload import WebhookPayload
from sleuth.models.investigation import Evidence, InvestigationContext
from sleuth.models.telemetry import EdgeStats, EvidenceGap, ServiceSpanStats, SpanSummary
from sleuth.sandbox import SandboxServer

AT = datetime(2026, 11, 20, 3, 17, tzinfo=UTC)  # an instant where only a few calls to the API were traced


@pytest.fixture
def seen() -> Iterator[tuple[DatadogGateway, InvestigationContext]]:
    server = SandboxServer("marketplace-external-payments", anchor=AT).start()
    try:
        gw = DatadogGateway(
            GatewayConfig(base_url=server.url, api_key=server.ctx.api_key, app_key=server.ctx.app_key),
            CallBudget(400),
        )
        alert = WebhookPayload.model_validate(server.alert_payload()).to_alert()
        yield gw, context_agent.gather(gw, alert, server.now())
    finally:
        server.stop()


def seen_by_callers(seen: tuple[DatadogGateway, InvestigationContext], service: str) -> dict[str, Evidence]:
    gw, ctx = seen
    gaps: list[EvidenceGap] = []
    evidence = peer_evidence(gw, ctx, service, gaps)
    assert not gaps
    return {e.signal: e for e in evidence}


def test_a_failing_external_api_is_seen_failing_by_its_callers(
    seen: tuple[DatadogGateway, InvestigationContext],
) -> None:
    ev = seen_by_callers(seen, "adyen-payments")
    assert set(ev) <= {"external_errors", "external_latency"} and ev
    assert max(e.strength for e in ev.values() if e.supports) >= 0.5
    assert all(e.observation.startswith("as its callers see it: ") for e in ev.values())


def test_a_healthy_external_api_in_the_same_world_is_seen_healthy(
    seen: tuple[DatadogGateway, InvestigationContext],
) -> None:
    ev = seen_by_callers(seen, "maps-api")
    assert {"external_errors", "external_latency"} & set(ev), "its callers' client metrics were measured"
    assert not any(e.supports for e in ev.values())


def test_callers_error_logs_name_a_failing_external_api_and_not_a_healthy_one(
    seen: tuple[DatadogGateway, InvestigationContext],
) -> None:
    gw, ctx = seen
    gaps: list[EvidenceGap] = []
    failing = caller_log_evidence(gw, ctx, "adyen-payments", gaps)
    healthy = caller_log_evidence(gw, ctx, "maps-api", gaps)
    assert not gaps
    assert failing is not None and failing.source == "logs" and failing.supports
    assert failing.current is not None and failing.current > 10 * (failing.baseline or 0.0) + 5
    assert healthy is not None and not healthy.supports


def test_a_queue_without_a_tracer_is_seen_failing_through_its_producers() -> None:
    """clickstream-kafka has no APM of its own; its producers' `kafka.produce` client spans carry its
    failures, so the health scan gives it an error rate although no span into it was sampled."""
    server = SandboxServer(
        "analytics-disk-full", anchor=datetime(2026, 12, 4, 14, 43, 37, tzinfo=UTC)
    ).start()
    try:
        gw = DatadogGateway(
            GatewayConfig(base_url=server.url, api_key=server.ctx.api_key, app_key=server.ctx.app_key),
            CallBudget(400),
        )
        alert = WebhookPayload.model_validate(server.alert_payload()).to_alert()
        ctx = context_agent.gather(gw, alert, server.now())
    finally:
        server.stop()
    health = {h.service: h for h in ctx.health}
    kafka = health["clickstream-kafka"]
    assert kafka.seen_by_callers and kafka.error_rate_now > 0.2 > kafka.error_rate_before
    assert not health["ingest-api"].seen_by_callers, "a traced service speaks for itself"
    assert rank_suspects(ctx)[0][0] == "clickstream-kafka"


def test_one_slow_call_to_an_external_says_little_about_it() -> None:
    """The median of one call is whatever that call took: its latency reading is weighed by how many
    calls the window saw, as a service's own time is by its spans."""

    def latency(window_calls: int) -> Evidence:
        summary = SpanSummary(
            query="env:prod",
            services=[
                ServiceSpanStats(service="labels", baseline_spans=40, window_spans=10),
                ServiceSpanStats(service="label-storage", instrumented=False),
            ],
            edges=[
                EdgeStats(
                    caller="labels",
                    callee="label-storage",
                    callee_host="api.labelstorage.example.com",
                    baseline_calls=40,
                    window_calls=window_calls,
                    baseline_p50_ms=37.0,
                    window_p50_ms=93.0,
                )
            ],
        )
        [ev] = [e for e in edge_evidence(summary, "labels", set()) if e.signal == "external_latency"]
        return ev

    one, ten = latency(1), latency(10)
    assert ten.strength == 1.0 and ten.supports
    assert one.strength == pytest.approx(0.2) and not one.supports
    assert "(from 1 call)" in one.observation
