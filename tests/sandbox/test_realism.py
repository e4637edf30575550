"""Each fault kind leaves the signal an SRE would look for on the root-cause service, and only there."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest

from sleuth.sandbox import list_worlds, load_truth, load_world
from sleuth.sandbox.api.records import span_lookup, span_text
from sleuth.sandbox.metric_query import MetricQuery, run_query
from sleuth.sandbox.query import parse_search
from sleuth.sandbox.sim import SimulatedWorld

ANCHOR = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
WINDOW, BASELINE = (-3, 0), (-75, -15)  # minutes around the anchor


def mean(world: SimulatedWorld, query: str, minutes: tuple[int, int]) -> float:
    at = ANCHOR.timestamp()
    ev = run_query(
        world, MetricQuery.parse(query), at + minutes[0] * 60, at + minutes[1] * 60, 60.0, lambda _: False
    )
    values = np.concatenate(list(ev.groups.values())) if ev.groups else np.array([np.nan])
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def ratio(world: SimulatedWorld, query: str) -> float:
    return mean(world, query, WINDOW) / max(mean(world, query, BASELINE), 1e-9)


def server_op(world: SimulatedWorld, service: str) -> str:
    names = world.metric_names(
        ANCHOR.timestamp() - 3600,
        ANCHOR.timestamp(),
        lambda tags: f"service:{service}" in tags and "span.kind:server" in tags,
    )
    return next(n for n in names if n.endswith(".hits"))[len("trace.") : -len(".hits")]


def client_metric(world: SimulatedWorld, peer: str, suffix: str) -> str:
    names = world.metric_names(
        ANCHOR.timestamp() - 3600, ANCHOR.timestamp(), lambda tags: f"peer.service:{peer}" in tags
    )
    return next(n for n in names if n.endswith(suffix))


def error_rate(world: SimulatedWorld, svc: str) -> Callable[[tuple[int, int]], float]:
    op = server_op(world, svc)
    return lambda m: (
        mean(world, f"sum:trace.{op}.errors{{service:{svc}}}.as_count()", m)
        / mean(world, f"sum:trace.{op}.hits{{service:{svc}}}.as_count()", m)
    )


def check(world: SimulatedWorld, kind: str, svc: str) -> None:  # noqa: C901 - one branch per kind, on purpose
    at = ANCHOR.timestamp()
    changes = [c for c in world.spec.changes if c.service == svc and -30 <= c.at_min <= 0]
    if kind in ("deployment", "code_error", "config_change"):
        op = server_op(world, svc)
        err = error_rate(world, svc)
        moved = err(WINDOW) > 5 * err(BASELINE) + 0.01
        slower = ratio(world, f"p95:trace.{op}{{service:{svc}}}") > 3
        assert moved or slower
        spans = [s for s in world.spans(at - 180, at) if s.service == svc and s.custom["status"] == "error"]
        if moved:
            assert spans and any("error" in s.custom for s in spans)
        kinds_near = {c.kind for c in changes}
        assert kinds_near == (
            {"deployment"}
            if kind == "deployment"
            else {"config_change"}
            if kind == "config_change"
            else set()
        )
        if kind == "deployment":
            new = next(c.version for c in changes if c.kind == "deployment")
            assert mean(world, f"sum:trace.{op}.hits{{service:{svc},version:{new}}}.as_count()", WINDOW) > 0
    elif kind == "dependency_failure":
        errors = client_metric(world, svc, ".errors")
        assert ratio(world, f"sum:{errors}{{peer.service:{svc}}}.as_count()") > 20
        assert ratio(world, f"min:kubernetes_state.statefulset.replicas_ready{{service:{svc}}}") < 0.8
    elif kind == "database":
        assert ratio(world, f"avg:postgresql.locks{{service:{svc},role:primary}}") > 4
        assert mean(world, f"max:postgresql.percent_usage_connections{{service:{svc}}}", WINDOW) > 0.9
        assert ratio(world, f"avg:{client_metric(world, svc, '.duration')}{{peer.service:{svc}}}") > 5
    elif kind == "cpu_saturation":
        cpu = mean(world, f"avg:kubernetes.cpu.usage.total{{service:{svc}}}", WINDOW) / 1e9
        limit = mean(world, f"avg:kubernetes.cpu.limits{{service:{svc}}}", WINDOW)
        assert cpu / limit > 0.9 and ratio(world, f"avg:kubernetes.cpu.usage.total{{service:{svc}}}") > 1.5
        assert ratio(world, f"avg:kubernetes.cpu.cfs.throttled.seconds{{service:{svc}}}") > 10
        op = server_op(world, svc)
        assert (
            0.7 < ratio(world, f"sum:trace.{op}.hits{{service:{svc}}}.as_count()") < 1.3
        )  # not a traffic change
    elif kind == "memory_pressure":
        assert mean(world, f"max:kubernetes.memory.usage_pct{{service:{svc}}}", (-10, -4)) > 0.9
        assert ratio(world, f"sum:kubernetes.containers.restarts{{service:{svc}}}") > 1.5
        ooms = [e for e in world.events(at - 600, at) if e.service == svc and "OOMKilled" in e.text]
        assert ooms
    elif kind == "disk_pressure":
        assert mean(world, f"max:system.disk.in_use{{service:{svc}}}", WINDOW) > 0.98
        assert mean(world, f"max:system.disk.in_use{{service:{svc}}}", BASELINE) < 0.95
        logs = world.logs(at - 180, at, frozenset({svc}))
        assert any("No space left on device" in rec.message for rec in logs)
    elif kind == "network":
        op = server_op(world, svc)
        own = ratio(world, f"avg:trace.{op}.duration{{service:{svc}}}")
        seen = ratio(world, f"avg:{client_metric(world, svc, '.duration')}{{peer.service:{svc}}}")
        assert seen > 3 and own < 1.3, (seen, own)
        assert ratio(world, f"sum:kubernetes.network.rx_errors{{service:{svc}}}") > 20
    elif kind == "traffic_surge":
        op = server_op(world, svc)
        assert ratio(world, f"sum:trace.{op}.hits{{service:{svc}}}.as_count()") > 3
    elif kind == "external_dependency":
        errors = client_metric(world, svc, ".errors")
        assert ratio(world, f"sum:{errors}{{peer.service:{svc}}}.as_count()") > 20
        assert ratio(world, f"avg:{client_metric(world, svc, '.duration')}{{peer.service:{svc}}}") > 4
        node = parse_search(f"@peer.service:{svc} status:error")
        assert any(node.match(span_lookup(s), span_text(s)) for s in world.spans(at - 180, at))
    elif kind == "unknown":
        errors = client_metric(world, svc, ".errors")
        assert ratio(world, f"sum:{errors}{{peer.service:{svc}}}.as_count()") > 20
    else:  # pragma: no cover - every kind has a branch
        raise AssertionError(kind)


@pytest.mark.parametrize("name", list_worlds())
def test_root_cause_signal_moves(name: str) -> None:
    truth = load_truth(name)
    world = SimulatedWorld(load_world(name), ANCHOR)
    assert truth.root_cause_service
    check(world, truth.root_cause_kind, truth.root_cause_service)


@pytest.mark.parametrize("name", list_worlds())
def test_the_alert_service_is_affected_and_bystanders_are_not(name: str) -> None:
    truth = load_truth(name)
    world = SimulatedWorld(load_world(name), ANCHOR)
    spec = world.spec
    affected = {truth.alert_service, spec.fault.service}
    # a service with no path to the fault keeps its baseline error rate
    reach: dict[str, set[str]] = {s.name: {c.to for c in s.calls} for s in spec.services}
    changed = True
    while changed:
        changed = False
        for callees in reach.values():
            extra = set().union(*(reach[c] for c in callees)) - callees
            if extra:
                callees |= extra
                changed = True
    blast = {spec.fault.service}
    if spec.fault.kind == "traffic_surge":  # the surge's load saturates shared dependencies for every caller
        blast |= reach[spec.fault.service]
    bystanders = [
        s.name
        for s in spec.services
        if s.instrumented
        and s.name not in affected | blast
        and not blast & (reach[s.name] | {s.consumes})
        and s.name not in spec.untraced
    ]
    assert bystanders
    for svc in bystanders[:4]:
        err = error_rate(world, svc)
        assert err(WINDOW) < 3 * err(BASELINE) + 0.01, svc


def test_insurance_world_hides_the_cause() -> None:
    world = SimulatedWorld(load_world("insurance-missing-telemetry"), ANCHOR)
    at = ANCHOR.timestamp()
    svc = world.spec.fault.service
    assert not [n for n in world.metric_names(at - 3600, at, lambda tags: f"service:{svc}" in tags)]
    assert not world.logs(at - 600, at, frozenset({svc}))
    assert not [s for s in world.spans(at - 300, at) if s.service == svc]
    assert [s for s in world.spans(at - 300, at) if s.custom.get("peer", {}).get("service") == svc]
