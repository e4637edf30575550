"""The Datadog gateway against the sandbox over real HTTP: retries, 429 with reset, 5xx, timeouts,
malformed bodies and the call budget, each ending as a typed error that names its evidence gap."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest

from sleuth.gateway import (
    CallBudget,
    CallBudgetExhausted,
    DatadogAuthError,
    DatadogGateway,
    DatadogMalformedResponse,
    DatadogUnavailable,
    GatewayConfig,
)
from sleuth.sandbox import SandboxServer
from tests.harness import world_with

LOGS = "/api/v2/logs/events/search"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(world_with()) as srv:
        yield srv


def gateway(srv: SandboxServer, *, calls: int = 50, timeout: float = 5.0, retries: int = 2) -> DatadogGateway:
    cfg = GatewayConfig(
        base_url=srv.url,
        api_key=srv.ctx.api_key,
        app_key=srv.ctx.app_key,
        timeout_seconds=timeout,
        max_retries=retries,
        backoff_seconds=0.05,
    )
    return DatadogGateway(cfg, CallBudget(calls))


def search(gw: DatadogGateway, srv: SandboxServer) -> int:
    now = srv.now()
    return len(gw.search_logs("*", now - timedelta(minutes=5), now, limit=10, max_pages=1))


def test_reads_every_kind_of_telemetry(server: SandboxServer) -> None:
    gw = gateway(server)
    now = server.now()
    monitor = gw.get_monitor(str(server.alert_payload()["monitor_id"]))
    assert monitor.query and monitor.tags
    names = gw.list_metrics(now - timedelta(hours=1))
    assert any(n.startswith("trace.") for n in names)
    hits = next(n for n in names if n.startswith("trace.") and n.endswith(".hits"))
    series = gw.query_metrics(
        [f"sum:{hits}{{*}} by {{service}}.as_count()"], now - timedelta(minutes=30), now
    )
    assert series and series[0].scope.startswith("service:") and any(v for v in series[0].values)
    # Eight hours: at the world's quietest hour two held fewer than 1,500 spans (the test must page).
    spans = gw.search_spans("*", now - timedelta(hours=8), now, limit=1500, max_pages=2)
    assert len(spans) == 1500 and all(s.trace_id and s.service for s in spans)
    assert search(gw, server) == 10
    assert gw.search_events("", now - timedelta(hours=3), now)
    # Per-service log counts (one aggregate call) agree with the logs themselves.
    start = now - timedelta(minutes=5)
    counts = gw.count_logs("*", start, now)
    logs = gw.search_logs("*", start, now, limit=100_000, max_pages=200)
    assert counts and counts == dict(Counter(lg.service for lg in logs if lg.service))


def test_429_waits_for_the_rate_limit_reset_then_succeeds(server: SandboxServer) -> None:
    server.faults.add(LOGS, "429", times=2, reset_seconds=1)
    gw = gateway(server)
    t0 = time.monotonic()
    assert search(gw, server) == 10
    assert time.monotonic() - t0 >= 2.0  # two resets of 1 s honoured
    assert gw.budget.used == 3 and gw.budget.errors == 2


def test_5xx_burst_is_retried_with_a_cap(server: SandboxServer) -> None:
    server.faults.add(LOGS, "500", times=1)
    gw = gateway(server)
    assert search(gw, server) == 10
    server.faults.add(LOGS, "503", times=10)
    with pytest.raises(DatadogUnavailable) as err:
        search(gateway(server, retries=2), server)
    server.faults.clear()
    assert err.value.gap("logs", "*").reason == f"logs unavailable: 503 from {LOGS}"


def test_slower_than_the_timeout_becomes_a_named_gap(server: SandboxServer) -> None:
    server.faults.add(LOGS, "slow", times=5, delay_seconds=2.0)
    with pytest.raises(DatadogUnavailable) as err:
        search(gateway(server, timeout=0.5, retries=1), server)
    server.faults.clear()
    assert err.value.gap("logs", "*").reason == f"logs unavailable: timeout from {LOGS}"


def test_malformed_body_is_retried_then_named(server: SandboxServer) -> None:
    server.faults.add(LOGS, "malformed", times=1)
    assert search(gateway(server), server) == 10  # one bad body, then a good one
    server.faults.add(LOGS, "malformed", times=10)
    with pytest.raises(DatadogMalformedResponse):
        search(gateway(server, retries=1), server)
    server.faults.clear()


def test_forbidden_is_not_retried(server: SandboxServer) -> None:
    server.faults.add(LOGS, "403", times=5)
    gw = gateway(server)
    with pytest.raises(DatadogAuthError) as err:
        search(gw, server)
    server.faults.clear()
    assert gw.budget.used == 1
    assert err.value.gap("logs", "*").reason == f"logs unavailable: 403 from {LOGS}"


def test_the_call_budget_is_enforced(server: SandboxServer) -> None:
    gw = gateway(server, calls=2)
    search(gw, server)
    search(gw, server)
    with pytest.raises(CallBudgetExhausted) as err:
        search(gw, server)
    assert gw.budget.used == 2
    assert "budget exhausted" in err.value.gap("logs", "*").reason
