"""An external API seen through its callers' client-side APM metrics (`peer.service`), read from the
sandbox over Datadog's HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sleuth.agents import context as context_agent
from sleuth.agents.peers import peer_evidence
from sleuth.gateway import CallBudget, DatadogGateway, GatewayConfig
from sleuth.intake.payload import WebhookPayload
from sleuth.models.investigation import Evidence, InvestigationContext
from sleuth.models.telemetry import EvidenceGap
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
