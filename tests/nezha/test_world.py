"""A Nezha case through the `TelemetryWorld` protocol: alert timing, metric names and units, span
structure and stitching, and that the fault's characteristic signal really moves."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from sleuth.sandbox.monitor_eval import monitor_triggered
from sleuth.sandbox.nezha import NezhaWorld, read_cases
from sleuth.sandbox.nezha.alert import FALLBACK_S
from sleuth.sandbox.protocol import TelemetryWorld
from tests.nezha.conftest import ANCHOR, CROSSING_CASE

FALLBACK_CASE = "nezha-hipster-2022-08-22-06"  # the frontend's p90 never crosses: the alert falls back
CPU_CASE = "nezha-hipster-2022-08-22-19"


@pytest.fixture(scope="module")
def world(nezha_root: Path) -> NezhaWorld:
    return NezhaWorld.load(CROSSING_CASE, ANCHOR, root=nezha_root)


def _label(case_id: str) -> tuple[float, str, str]:
    inc, label = next((i, lab) for i, lab in read_cases() if i.case_id == case_id)
    return inc.inject, label.service, label.fault_type


def test_loads_fast_and_speaks_the_protocol(nezha_root: Path) -> None:
    started = time.perf_counter()
    w = NezhaWorld.load("nezha-hipster-2022-08-23-07", ANCHOR, root=nezha_root)
    a = w.anchor.timestamp()
    assert w.spans(a - 1200, a + 600) and w.metric_names(a - 3600, a)
    assert time.perf_counter() - started < 15.0  # a few seconds; generous for loaded CI machines
    assert isinstance(w, TelemetryWorld)
    assert w.events(a - 86400, a + 3600) == []


def test_alert_fires_at_the_anchor_when_the_signal_crosses(world: NezhaWorld) -> None:
    a = world.anchor.timestamp()
    inject, _, _ = _label(CROSSING_CASE)
    assert (
        world.plan.crossing is not None
        and inject <= world.plan.crossing < world.fired < world.plan.crossing + 61
    )
    q = world.monitor().query
    assert q.startswith("avg(last_1m):p90:trace.grpc.server{service:frontend,env:nezha-ob} > ")
    assert monitor_triggered(world, q, a)
    assert not monitor_triggered(world, q, a - 120)  # not long before: the previous minutes were normal


def test_alert_falls_back_to_two_minutes_after_injection(nezha_root: Path, world: NezhaWorld) -> None:
    w = NezhaWorld.load(FALLBACK_CASE, ANCHOR, root=nezha_root)
    # Every case is the same monitor's kind of alert, but each world is its own org: ids follow the anchor.
    assert w.monitor().id == world.monitor().id
    later = NezhaWorld.load(FALLBACK_CASE, ANCHOR + timedelta(seconds=1), root=nezha_root)
    assert later.monitor().id != w.monitor().id
    inject, _, _ = _label(FALLBACK_CASE)
    assert w.plan.crossing is None
    assert inject + FALLBACK_S <= w.fired < inject + FALLBACK_S + 61
    assert w.shift == pytest.approx(ANCHOR.timestamp() - w.fired)


def test_kubernetes_and_apm_metrics_with_datadog_names_and_units(world: NezhaWorld) -> None:
    a = world.anchor.timestamp()
    names = set(world.metric_names(a - 3 * 3600, a))
    assert {
        "kubernetes.cpu.usage.total",
        "kubernetes.cpu.limits",
        "kubernetes.memory.usage",
        "kubernetes.memory.limits",
        "kubernetes.network.rx_bytes",
        "kubernetes.network.tx_bytes",
        "trace.grpc.server",
        "trace.grpc.server.hits",
        "trace.grpc.server.duration",
    } <= names
    frontend_only = world.metric_names(a - 3600, a, lambda tags: "service:cartservice" in tags)
    assert "trace.grpc.server.errors" not in frontend_only  # no invented error signal
    units = {}
    for metric in (
        "kubernetes.cpu.usage.total",
        "kubernetes.cpu.limits",
        "kubernetes.memory.usage",
        "kubernetes.memory.limits",
        "trace.grpc.server.hits",
        "trace.grpc.server",
    ):
        _, series = world.metric_series(metric, a - 1800, a, 60)
        assert len(series) == 10, metric  # one context per service, one pod each
        units[metric] = series[0].unit
        for s in series:
            service = next(t for t in s.tags if t.startswith("service:"))[8:]
            if metric.startswith("kubernetes."):
                assert {f"kube_deployment:{service}", "kube_namespace:hipster", "env:nezha-ob"} <= set(s.tags)
                assert any(t.startswith(f"pod_name:{service}-") for t in s.tags)
    assert units == {
        "kubernetes.cpu.usage.total": "nanocore",
        "kubernetes.cpu.limits": "core",
        "kubernetes.memory.usage": "byte",
        "kubernetes.memory.limits": "byte",
        "trace.grpc.server.hits": "hit",
        "trace.grpc.server": "second",
    }
    match = lambda tags: "service:frontend" in tags  # noqa: E731
    usage = world.metric_series("kubernetes.cpu.usage.total", a - 1800, a, 60, match)[1][0].values
    limit = world.metric_series("kubernetes.cpu.limits", a - 1800, a, 60, match)[1][0].values
    assert 1e5 < np.nanmedian(usage) < 1e10 and 0.001 <= np.nanmedian(limit) <= 8  # nanocores vs cores
    mem = world.metric_series("kubernetes.memory.usage", a - 1800, a, 60, match)[1][0].values
    assert 2**20 < np.nanmedian(mem) < 2**34
    dist = world.metric_series("trace.grpc.server", a - 1800, a, 60, match)[1][0]
    assert dist.kind == "distribution" and dist.percentiles is not None and dist.weights is not None
    p50, p90, p99 = (dist.percentiles[k] for k in ("p50", "p90", "p99"))
    ok = np.isfinite(p90)
    assert ok.sum() >= 20 and np.all(p50[ok] <= p90[ok]) and np.all(p90[ok] <= p99[ok] + 1e-9)


def test_metrics_start_no_earlier_than_three_hours_before_the_alert(world: NezhaWorld) -> None:
    a = world.anchor.timestamp()
    assert not world.metric_names(a - 86400, a - 3 * 3600 - 60)


def test_spans_keep_parent_child_structure_and_stitching_is_clean(world: NezhaWorld) -> None:
    a = world.anchor.timestamp()
    spans = world.spans(a - 3 * 3600, a + 3600)
    by_id = {s.span_id: s for s in spans}
    assert len(by_id) == len(spans)  # copied minutes got fresh ids
    assert all(s.parent_id == "0" or s.parent_id in by_id for s in spans)
    assert all(s.start <= s.end and s.custom["duration"] > 0 and s.custom["status"] == "ok" for s in spans)
    edges = {(by_id[s.parent_id].service, s.service) for s in spans if s.parent_id != "0"}
    assert {
        ("frontend", "currencyservice"),
        ("frontend", "productcatalogservice"),
        ("checkoutservice", "paymentservice"),
        ("recommendationservice", "productcatalogservice"),
    } <= {e for e in edges if e[0] != e[1]}
    for s in spans:
        parent = by_id.get(s.parent_id)
        if s.operation_name == "grpc.client":
            assert s.custom["peer"]["service"] != s.service  # type: ignore[index]
        if parent is not None and parent.service != s.service:
            assert s.operation_name == "grpc.server" and parent.operation_name == "grpc.client"
    roots = [s for s in spans if s.parent_id == "0"]
    assert {s.service for s in roots} == {"frontend"} and all(s.type == "web" for s in roots)
    # About 15+ minutes of normal traffic precede the incident's own spans, every minute populated.
    minutes = {int((s.start - a) // 60) for s in spans}
    first = min(minutes)
    assert first <= -16 and set(range(first, -3)) <= minutes


def test_the_root_cause_pods_cpu_really_moves(nezha_root: Path) -> None:
    w = NezhaWorld.load(CPU_CASE, ANCHOR, root=nezha_root)
    _, service, fault = _label(CPU_CASE)
    assert fault.startswith("cpu")
    a = w.anchor.timestamp()
    times, series = w.metric_series(
        "kubernetes.cpu.usage.total", a - 3600, a + 60, 60, lambda tags: f"service:{service}" in tags
    )
    v = series[0].values
    before = np.nanmedian(v[(times >= a - 2400) & (times < a - 600)])
    during = np.nanmax(v[(times >= a - 180) & (times <= a)])
    assert during > 4 * before
