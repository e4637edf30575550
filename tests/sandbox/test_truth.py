"""Ground truth never leaves truth.json: not served by any endpoint, never even opened by the server."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sleuth.sandbox import SandboxServer, list_worlds, load_truth
from sleuth.sandbox.catalog import WORLDS_DIR

from .conftest import API_KEY, APP_KEY

KEYS = {"DD-API-KEY": API_KEY, "DD-APPLICATION-KEY": APP_KEY}
FORBIDDEN = ("root_cause", "red_herring", "truth", "acceptable_services")
_opened: list[str] = []
_watching = threading.Event()


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _watching.is_set() and event == "open" and args and isinstance(args[0], str | Path):
        _opened.append(str(args[0]))


sys.addaudithook(
    _audit
)  # audit hooks cannot be removed; the event flag keeps this one inert outside the test


def crawl(srv: SandboxServer, window: str) -> list[str]:
    """Every endpoint, everything in the window, as raw response bodies."""
    bodies: list[str] = []
    with httpx.Client(base_url=srv.url, headers=KEYS, timeout=60) as http:

        def get(path: str, **params: object) -> httpx.Response:
            r = http.get(path, params=params)
            bodies.append(r.text)
            return r

        def post(path: str, body: dict[str, object]) -> httpx.Response:
            r = http.post(path, json=body)
            bodies.append(r.text)
            return r

        get(f"/api/v1/monitor/{srv.world.monitor().id}", group_states="all")
        now = srv.now().timestamp()
        names = get("/api/v1/metrics", **{"from": int(now - 7200)}).json()["metrics"]
        queries = [
            {"data_source": "metrics", "name": f"q{i}", "query": f"avg:{n}{{*}} by {{service}}"}
            for i, n in enumerate(names)
        ]
        post(
            "/api/v2/query/timeseries",
            {
                "data": {
                    "type": "timeseries_request",
                    "attributes": {
                        "from": int((now - 7200) * 1000),
                        "to": int(now * 1000),
                        "interval": 300_000,
                        "queries": queries,
                    },
                }
            },
        )
        for path, wrap in (("/api/v2/logs/events/search", False), ("/api/v2/spans/events/search", True)):
            cursor = None
            for _ in range(40):
                attrs: dict[str, object] = {
                    "filter": {"query": "*", "from": window, "to": "now"},
                    "page": {"limit": 1000},
                }
                if cursor:
                    attrs["page"] = {"limit": 1000, "cursor": cursor}
                page = post(
                    path, {"data": {"type": "search_request", "attributes": attrs}} if wrap else attrs
                ).json()
                cursor = (page.get("meta", {}).get("page") or {}).get("after")
                if not cursor:
                    break
        post(
            "/api/v2/logs/analytics/aggregate",
            {"filter": {"query": "*", "from": window}, "group_by": [{"facet": "service"}]},
        )
        post(
            "/api/v2/spans/analytics/aggregate",
            {
                "data": {
                    "type": "aggregate_request",
                    "attributes": {
                        "filter": {"query": "*", "from": window},
                        "group_by": [{"facet": "service"}],
                    },
                }
            },
        )
        # events other tests posted through this server are theirs, not the world's
        get(
            "/api/v2/events",
            **{
                "filter[from]": "now-30h",
                "page[limit]": 1000,
                "filter[query]": "-source:my_apps -source:custom-events",
            },
        )
        get(
            "/api/v1/query",
            **{
                "from": int(now - 3600),
                "to": int(now),
                "query": "avg:kubernetes.cpu.usage.total{*} by {service}",
            },
        )
        get("/api/v1/does-not-exist")
    return bodies


@pytest.mark.parametrize("name", list_worlds())
def test_truth_is_never_served(name: str, sandbox: Callable[[str], SandboxServer]) -> None:
    truth = load_truth(name)
    bodies = crawl(sandbox(name), "now-30m")
    blob = "\n".join(bodies)
    assert len(blob) > 100_000
    assert truth.notes not in blob
    for sentence in truth.notes.split(". "):
        assert sentence not in blob or len(sentence) < 40
    lowered = blob.lower()
    for word in FORBIDDEN:
        assert word not in lowered, f"{word!r} served by the {name} sandbox"


def test_server_never_opens_truth(tmp_path: Path) -> None:
    name = "telecom-two-changes"
    copy = tmp_path / name
    shutil.copytree(WORLDS_DIR / name, copy)
    (copy / "truth.json").unlink()
    _opened.clear()
    _watching.set()
    try:
        with SandboxServer(copy, api_key=API_KEY, app_key=APP_KEY) as srv:
            bodies = crawl(srv, "now-15m")
        with SandboxServer(name, api_key=API_KEY, app_key=APP_KEY) as srv:
            bodies += crawl(srv, "now-5m")
    finally:
        _watching.clear()
    assert json.loads(bodies[0])["id"] == srv.world.monitor().id
    assert any(p.endswith("world.json") for p in _opened)
    assert not [p for p in _opened if Path(p).name == "truth.json"]


def test_only_the_truth_module_reads_truth() -> None:
    package = Path(__file__).resolve().parents[2] / "sleuth" / "sandbox"
    mine = [p for p in package.rglob("*.py") if "nezha" not in p.parts]  # the replay world has its own labels
    readers = [p.relative_to(package).as_posix() for p in mine if "truth.json" in p.read_text()]
    assert readers == ["truth.py"]
