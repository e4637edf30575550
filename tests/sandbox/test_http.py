"""Keys, Datadog-shaped errors, injected faults, paging and keep-alive, on one world."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx
import pytest
from datadog_api_client import AsyncApiClient, Configuration
from datadog_api_client.exceptions import ApiException, ApiTypeError, ApiValueError, ForbiddenException
from datadog_api_client.v1.api.monitors_api import MonitorsApi

from sleuth.sandbox import SandboxServer

from . import calls
from .conftest import API_KEY, APP_KEY, assert_parsed, client

WORLD = "ecommerce-deploy"
KEYS = {"DD-API-KEY": API_KEY, "DD-APPLICATION-KEY": APP_KEY}


@pytest.fixture
def srv(sandbox: Callable[[str], SandboxServer]) -> SandboxServer:
    s = sandbox(WORLD)
    s.faults.clear()
    return s


def test_keys_are_required(srv: SandboxServer) -> None:
    mid = srv.world.monitor().id
    with httpx.Client(base_url=srv.url) as http:
        for headers in (
            {},
            {"DD-API-KEY": API_KEY},
            {"DD-APPLICATION-KEY": APP_KEY},
            {**KEYS, "DD-API-KEY": "wrong"},
        ):
            r = http.get(f"/api/v1/monitor/{mid}", headers=headers)
            assert r.status_code == 403 and r.json() == {"errors": ["Forbidden"]}
        # intake endpoints take the API key alone, like Datadog's event intake
        r = http.post("/api/v1/events", headers={"DD-API-KEY": API_KEY}, json={"title": "t", "text": "x"})
        assert r.status_code == 202
        assert http.post("/api/v1/events", json={"title": "t", "text": "x"}).status_code == 403
        assert http.post("/api/v1/notebooks", headers={"DD-API-KEY": API_KEY}, json={}).status_code == 403
    bad = Configuration(host=srv.url, api_key={"apiKeyAuth": API_KEY, "appKeyAuth": "nope"})
    from datadog_api_client import ApiClient

    with ApiClient(bad) as api, pytest.raises(ForbiddenException):
        MonitorsApi(api).get_monitor(monitor_id=mid)


def test_datadog_shaped_errors(srv: SandboxServer) -> None:
    with httpx.Client(base_url=srv.url, headers=KEYS) as http:
        r = http.get("/api/v1/dashboard")
        assert r.status_code == 404 and r.json() == {"errors": ["Not found"]}
        assert http.get("/api/v1/monitor/1").status_code == 404
        r = http.post(
            "/api/v2/query/timeseries",
            json={
                "data": {
                    "type": "timeseries_request",
                    "attributes": {
                        "from": 0,
                        "to": int(time.time() * 1000),
                        "queries": [{"data_source": "metrics", "name": "a", "query": "avg:x{"}],
                    },
                }
            },
        )
        assert r.status_code == 400 and "errors" in r.json()
        r = http.post("/api/v2/logs/events/search", json={"filter": {"query": "service:(a OR"}})
        assert r.status_code == 400
        r = http.post("/api/v1/events", json={"title": "no text"})
        assert r.status_code == 400
        r = http.post("/api/v1/events", json={"title": "t", "text": "x" * 4001})
        assert r.status_code == 400
        r = http.post(
            "/api/v2/events",
            json={
                "data": {"type": "event", "attributes": {"title": "t", "category": "alert", "attributes": {}}}
            },
        )
        assert r.status_code == 400
        r = http.post(
            "/api/v1/notebooks",
            json={"data": {"type": "notebooks", "attributes": {"name": "n", "cells": []}}},
        )
        assert r.status_code == 400
        r = http.post("/api/v2/logs/events/search", content=b"{not json")
        assert r.status_code == 400


def test_fault_injection(srv: SandboxServer) -> None:
    mid = srv.world.monitor().id
    with httpx.Client(base_url=srv.url, headers=KEYS) as http:
        srv.faults.add("/api/v1/monitor", "429", times=2, reset_seconds=3)
        for _ in range(2):
            r = http.get(f"/api/v1/monitor/{mid}")
            assert r.status_code == 429
            assert r.headers["X-RateLimit-Reset"] == "3" and r.headers["X-RateLimit-Remaining"] == "0"
            assert r.headers["X-RateLimit-Limit"] and r.headers["X-RateLimit-Period"]
        assert http.get(f"/api/v1/monitor/{mid}").status_code == 200
        for kind, code in (("500", 500), ("503", 503), ("403", 403)):
            srv.faults.add("/api/v2/logs", kind)  # type: ignore[arg-type]
            r = http.post("/api/v2/logs/events/search", json={"filter": {"query": "*"}})
            assert r.status_code == code and "errors" in r.json()
        srv.faults.add("/api/v2/spans", "malformed")
        r = http.post(
            "/api/v2/spans/events/search", json={"data": {"type": "search_request", "attributes": {}}}
        )
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            r.json()
        srv.faults.add("/api/v2/events", "slow", delay_seconds=0.4)
        t = time.monotonic()
        assert http.get("/api/v2/events").status_code == 200
        assert time.monotonic() - t >= 0.4
        assert srv.faults.pending == 0
    # the real client's retry honours X-RateLimit-Reset, and a malformed body is an error, not data
    srv.faults.add("/api/v1/monitor", "429", times=2, reset_seconds=1)
    with client(srv, enable_retry=True, max_retries=3) as api:
        t = time.monotonic()
        assert calls.monitor(api, mid).id == mid
        assert time.monotonic() - t >= 1.5
    srv.faults.add("/api/v2/logs", "malformed")
    with client(srv) as api, pytest.raises((ApiTypeError, ApiValueError, ApiException, ValueError)):
        calls.logs(api, "*")
    statuses = [s for m, p, s in srv.requests if p.startswith("/api/v1/monitor")]
    assert 429 in statuses and 200 in statuses


def test_cursor_paging_walks_a_frozen_window(srv: SandboxServer) -> None:
    with client(srv) as api:
        seen: list[str] = []
        cursor = None
        for _ in range(4):
            page = calls.logs(api, "service:storefront-web", frm="now-20m", limit=25, cursor=cursor)
            assert_parsed(page)
            seen += [d.id for d in page.data]
            cursor = page.meta.page.after if page.meta.page else None
            if not cursor:
                break
            assert page.links.next.startswith(srv.url + "/api/v2/logs/events?")
        assert len(seen) == len(set(seen)) == 100
        stamps = []
        cursor = None
        for _ in range(3):
            page = calls.spans(api, "env:prod", frm="now-10m", limit=50, cursor=cursor)
            stamps += [d.attributes.start_timestamp for d in page.data]
            cursor = page.meta.page.after
        assert stamps == sorted(stamps, reverse=True) and len(stamps) == 150
        events = calls.events(api, frm="now-6h", limit=5)
        more = calls.events(api, frm="now-6h", limit=5, cursor=events.meta.page.after)
        assert {e.id for e in events.data}.isdisjoint({e.id for e in more.data})


def test_query_syntax_through_the_api(srv: SandboxServer) -> None:
    with client(srv) as api:
        errors = calls.logs(
            api, 'service:(storefront-web OR checkout-api) status:error -"client closed"', limit=100
        )
        assert errors.data and all(
            d.attributes.service in {"storefront-web", "checkout-api"} for d in errors.data
        )
        assert all(
            d.attributes.status == "error" and "client closed" not in d.attributes.message
            for d in errors.data
        )
        by_attr = calls.logs(api, "@http.status_code:[500 TO 599]", frm="now-30m", limit=20)
        assert all(500 <= d.attributes.attributes["http"]["status_code"] <= 599 for d in by_attr.data)
        slow = calls.spans(api, "service:cart-service @duration:>5ms", limit=20)
        assert slow.data and all(d.attributes.custom["duration"] > 5_000_000 for d in slow.data)
        peer = calls.spans(api, "@peer.service:cart-db", limit=20)
        assert peer.data and all(d.attributes.custom["peer"]["service"] == "cart-db" for d in peer.data)
        deploys = calls.events(api, "change_type:deployment service:cart-service", frm="now-1h")
        assert len(deploys.data) == 1 and "cart-service" in deploys.data[0].attributes.attributes.title
        rate = calls.timeseries(
            api,
            int(time.time() * 1000) - 600_000,
            int(time.time() * 1000),
            {"a": "sum:trace.grpc.server.hits{service:cart-service,!version:3.7.2}.as_rate()"},
        )
        assert rate.data.attributes.series.value


async def test_async_client_keeps_connections_alive(srv: SandboxServer) -> None:
    cfg = Configuration(host=srv.url, api_key={"apiKeyAuth": API_KEY, "appKeyAuth": APP_KEY})
    mid = srv.world.monitor().id
    async with AsyncApiClient(cfg) as api:
        for _ in range(3):
            m = await MonitorsApi(api).get_monitor(monitor_id=mid)
            assert m.id == mid
            await asyncio.sleep(0.05)
        results = await asyncio.gather(*(MonitorsApi(api).get_monitor(monitor_id=mid) for _ in range(5)))
        assert {r.id for r in results} == {mid}
