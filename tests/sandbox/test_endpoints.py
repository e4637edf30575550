"""Every endpoint, for every world, through datadog-api-client: it deserializes and carries the incident."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pytest

from sleuth.sandbox import SandboxServer, list_worlds, load_truth

from . import calls
from .conftest import assert_parsed, client

WORLDS = list_worlds()


@pytest.mark.parametrize("name", WORLDS)
def test_every_endpoint_deserializes_with_data(name: str, sandbox: Callable[[str], SandboxServer]) -> None:
    srv = sandbox(name)
    world = srv.world
    mon = world.monitor()
    alert_service = load_truth(name).alert_service  # only to pick what to query; the server never sees it
    now_ms = int(time.time() * 1000)
    with client(srv) as api:
        m = calls.monitor(api, mon.id)
        assert_parsed(m)
        assert m.id == mon.id and str(m.overall_state) == "Alert" and f"service:{alert_service}" in m.tags
        assert "http" in m.message and m.query == mon.query

        names = calls.active_metrics(api, int(time.time()) - 3600, f"service:{alert_service}")
        assert_parsed(names)
        trace_hits = [n for n in names.metrics if n.startswith("trace.") and n.endswith(".hits")]
        assert trace_hits and any(n.startswith("kubernetes.") for n in names.metrics)
        everything = calls.active_metrics(api, int(time.time()) - 3600)
        assert len(everything.metrics) > len(names.metrics)

        op = (
            next(n for n in trace_hits if n.removeprefix("trace.").removesuffix(".hits") in mon.query)
            .removeprefix("trace.")
            .removesuffix(".hits")
            if any(n.removeprefix("trace.").removesuffix(".hits") in mon.query for n in trace_hits)
            else trace_hits[0][6:-5]
        )
        ts = calls.timeseries(
            api,
            now_ms - 3600_000,
            now_ms,
            {
                "a": f"sum:trace.{op}.errors{{service:{alert_service},env:prod}}.as_count()",
                "b": f"sum:trace.{op}.hits{{service:{alert_service},env:prod}}.as_count()",
            },
            formula="a / b * 100",
        )
        assert_parsed(ts)
        values = ts.data.attributes.values.value[0].value
        assert len(ts.data.attributes.times.value) == len(values) >= 60
        assert any(v is not None and not math.isnan(v) for v in values[-5:])
        grouped = calls.timeseries(
            api, now_ms - 3600_000, now_ms, {"a": f"p95:trace.{op}{{env:prod}} by {{service}}"}
        )
        assert_parsed(grouped)
        assert {tuple(s.group_tags.value) for s in grouped.data.attributes.series.value} >= {
            (f"service:{alert_service}",)
        }
        missing = calls.timeseries(api, now_ms - 3600_000, now_ms, {"a": "avg:no.such.metric{*}"})
        assert_parsed(missing)
        assert missing.data.attributes.series.value == []
        v1 = calls.query_v1(
            api,
            int(time.time()) - 1800,
            int(time.time()),
            f"avg:kubernetes.cpu.usage.total{{service:{alert_service}}} by {{pod_name}}",
        )
        assert_parsed(v1)
        assert v1.series and v1.series[0].pointlist

        lg = calls.logs(api, f"service:{alert_service} status:error", limit=10)
        assert_parsed(lg)
        assert lg.data and all(d.attributes.service == alert_service for d in lg.data)
        agg = calls.logs_aggregate(api, "status:error")
        assert_parsed(agg)
        assert agg.data.buckets and alert_service in {b.by["service"] for b in agg.data.buckets}

        sp = calls.spans(api, f"service:{alert_service} env:prod", limit=10)
        assert_parsed(sp)
        assert sp.data and sp.data[0].attributes.custom["duration"] > 0
        sagg = calls.spans_aggregate(api, "env:prod")
        assert_parsed(sagg)
        assert sagg.data and all(b.attributes.computes["c0"] > 0 for b in sagg.data)

        ev = calls.events(api, limit=20)
        assert_parsed(ev)
        assert ev.data

        posted = calls.post_event_v1(api, mon.id)
        assert_parsed(posted)
        assert posted.status == "ok" and posted.event.id > 0
        posted2 = calls.post_event_v2(api, mon.id)
        assert_parsed(posted2)
        assert posted2.data.attributes.attributes.evt.id
        nb = calls.post_notebook(api, f"Sleuth: {name}")
        assert_parsed(nb)
        assert nb.data.id > 0 and nb.data.attributes.cells[0].id
    assert srv.recorded.events[-2]["title"] == "Sleuth: root cause found"
    assert srv.recorded.events[-1]["data"]["attributes"]["category"] == "alert"
    assert srv.recorded.notebooks[-1]["data"]["attributes"]["name"] == f"Sleuth: {name}"
    assert all(status < 400 for _, _, status in srv.requests)
