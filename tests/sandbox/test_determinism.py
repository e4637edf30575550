"""Same (world, anchor): same telemetry, whichever order windows are asked for and whichever server answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sleuth.sandbox import SandboxServer

from .conftest import API_KEY, APP_KEY

KEYS = {"DD-API-KEY": API_KEY, "DD-APPLICATION-KEY": APP_KEY}
WORLD = "logistics-cpu"


def _strip(body: dict[str, Any]) -> dict[str, Any]:
    body.pop("meta", None)  # request ids and elapsed times differ by design
    body.pop("links", None)
    return body


def snapshot(srv: SandboxServer, start: datetime, end: datetime, warm_first: bool) -> list[Any]:
    frm, to = start.isoformat(), end.isoformat()
    with httpx.Client(base_url=srv.url, headers=KEYS, timeout=60) as http:
        if warm_first:  # fill caches with an overlapping window first, so chunks are cut differently
            http.post(
                "/api/v2/logs/events/search",
                json={
                    "filter": {"query": "*", "from": (end - timedelta(minutes=7)).isoformat(), "to": to},
                    "page": {"limit": 5},
                },
            )
            http.post(
                "/api/v2/spans/events/search",
                json={
                    "data": {
                        "type": "search_request",
                        "attributes": {
                            "filter": {
                                "query": "*",
                                "from": (end - timedelta(minutes=3)).isoformat(),
                                "to": to,
                            }
                        },
                    }
                },
            )
        out = []
        out.append(
            http.post(
                "/api/v2/query/timeseries",
                json={
                    "data": {
                        "type": "timeseries_request",
                        "attributes": {
                            "from": int(start.timestamp() * 1000),
                            "to": int(end.timestamp() * 1000),
                            "interval": 60_000,
                            "queries": [
                                {
                                    "data_source": "metrics",
                                    "name": "a",
                                    "query": "p95:trace.grpc.server{env:prod} by {service}",
                                },
                                {
                                    "data_source": "metrics",
                                    "name": "b",
                                    "query": "avg:kubernetes.cpu.usage.total{*} by {pod_name}",
                                },
                            ],
                        },
                    }
                },
            ).json()
        )
        out.append(
            _strip(
                http.post(
                    "/api/v2/logs/events/search",
                    json={"filter": {"query": "*", "from": frm, "to": to}, "page": {"limit": 1000}},
                ).json()
            )
        )
        out.append(
            _strip(
                http.post(
                    "/api/v2/spans/events/search",
                    json={
                        "data": {
                            "type": "search_request",
                            "attributes": {
                                "filter": {"query": "*", "from": frm, "to": to},
                                "page": {"limit": 1000},
                            },
                        }
                    },
                ).json()
            )
        )
        out.append(
            _strip(
                http.get(
                    "/api/v2/events", params={"filter[from]": frm, "filter[to]": to, "page[limit]": 1000}
                ).json()
            )
        )
    return out


def test_same_world_and_anchor_give_the_same_telemetry() -> None:
    anchor = datetime(2026, 2, 3, 14, 7, 30, tzinfo=UTC)
    start, end = anchor - timedelta(minutes=10), anchor
    with SandboxServer(WORLD, api_key=API_KEY, app_key=APP_KEY, anchor=anchor) as a:
        first = snapshot(a, start, end, warm_first=False)
    with SandboxServer(WORLD, api_key=API_KEY, app_key=APP_KEY, anchor=anchor) as b:
        second = snapshot(b, start, end, warm_first=True)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert (
        first[0]["data"]["attributes"]["series"]
        and first[1]["data"]
        and first[2]["data"]
        and first[3]["data"]
    )
    later = anchor + timedelta(hours=5)
    with SandboxServer(WORLD, api_key=API_KEY, app_key=APP_KEY, anchor=later) as c:
        other = snapshot(c, later - timedelta(minutes=10), later, warm_first=False)
    assert json.dumps(other[1], sort_keys=True) != json.dumps(first[1], sort_keys=True)


def test_the_server_clock_starts_at_the_anchor() -> None:
    anchor = datetime(2026, 2, 3, 14, 7, 30, tzinfo=UTC)
    with SandboxServer(WORLD, api_key=API_KEY, app_key=APP_KEY, anchor=anchor) as srv:
        assert srv.anchor == anchor
        assert timedelta(0) <= srv.now() - anchor < timedelta(seconds=30)
        payload = srv.alert_payload()
        again = srv.alert_payload()
        with httpx.Client(base_url=srv.url, headers=KEYS) as http:
            logs = http.post(
                "/api/v2/logs/events/search",
                json={"filter": {"query": "*", "from": "now-5m"}, "sort": "-timestamp", "page": {"limit": 1}},
            ).json()
    assert payload["date"] == str(int(anchor.timestamp() * 1000))
    assert payload["alert_cycle_key"] == again["alert_cycle_key"] and payload["id"] != again["id"]
    newest = datetime.fromisoformat(logs["data"][0]["attributes"]["timestamp"].replace("Z", "+00:00"))
    assert anchor - timedelta(minutes=2) < newest <= srv.now()


def test_the_clock_can_be_moved_ahead_as_for_a_late_investigation() -> None:
    anchor = datetime(2026, 2, 3, 14, 7, 30, tzinfo=UTC)
    with SandboxServer(WORLD, api_key=API_KEY, app_key=APP_KEY, anchor=anchor) as srv:
        srv.ctx.advance(90)
        assert timedelta(seconds=90) <= srv.now() - anchor < timedelta(seconds=120)
        assert srv.alert_payload()["date"] == str(int(anchor.timestamp() * 1000)), (
            "the alert stays where it fired"
        )
