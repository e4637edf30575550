"""The scenario library: every world loads, covers the design's root-cause kinds, and fires on time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sleuth.models.common import ROOT_CAUSE_KINDS
from sleuth.sandbox import list_worlds, load_truth, load_world
from sleuth.sandbox.monitor_eval import monitor_triggered, parse_monitor
from sleuth.sandbox.sim import SimulatedWorld
from sleuth.sandbox.world import MAX_SERVICES, MIN_SERVICES, World

WORLDS = list_worlds()


def test_library_size_and_coverage() -> None:
    assert len(WORLDS) >= 12
    truths = {w: load_truth(w) for w in WORLDS}
    assert {t.root_cause_kind for t in truths.values()} == set(ROOT_CAUSE_KINDS)
    assert sum(t.verdict == "inconclusive" for t in truths.values()) >= 2
    domains = {load_world(w).domain for w in WORLDS}
    assert len(domains) == len(WORLDS), "every world is a different business"


@pytest.mark.parametrize("name", WORLDS)
def test_world_is_consistent(name: str) -> None:
    world = load_world(name)
    truth = load_truth(name)
    assert world.name == name
    assert MIN_SERVICES <= len(world.services) <= MAX_SERVICES
    assert truth.root_cause_service in (None, *world.names)
    assert truth.alert_service in world.names and f"service:{truth.alert_service}" in world.monitor.query
    if truth.root_cause_service:
        assert world.fault.service == truth.root_cause_service
    if truth.verdict == "root_cause_found":
        assert world.fault.kind == truth.root_cause_kind
    assert truth.notes not in world.model_dump_json()
    # a red herring is always there: another change, a chatty service, or a telemetry gap
    others = [c for c in world.changes if c.service != world.fault.service]
    assert others or any(s.noisy for s in world.services) or world.missing_metrics


def test_red_herring_deploys_exist() -> None:
    with_herring = [
        w
        for w in WORLDS
        if any(
            c.kind == "deployment" and c.service != load_world(w).fault.service for c in load_world(w).changes
        )
    ]
    assert len(with_herring) >= 6


def test_names_do_not_repeat_across_worlds() -> None:
    """Nothing learnable from names: no service name is shared by most worlds."""
    counts: dict[str, int] = {}
    for w in WORLDS:
        for s in load_world(w).names:
            counts[s] = counts.get(s, 0) + 1
    assert max(counts.values()) <= len(WORLDS) // 2


@pytest.mark.parametrize("name", WORLDS)
@pytest.mark.parametrize("hour", [15, 4])
def test_monitor_fires_at_the_anchor_not_before(name: str, hour: int) -> None:
    anchor = datetime(2026, 3, 10, hour, 30, tzinfo=UTC)
    world = SimulatedWorld(load_world(name), anchor)
    query, at = world.spec.monitor.query, anchor.timestamp()
    parse_monitor(query)
    assert monitor_triggered(world, query, at)
    onset = world.spec.fault.onset_min
    assert not monitor_triggered(world, query, at + (onset - 1) * 60), "fires before the fault"
    assert not monitor_triggered(world, query, at - 45 * 60)


def test_invalid_worlds_are_rejected() -> None:
    spec = load_world(WORLDS[0]).model_dump()
    broken = {**spec, "services": spec["services"][:5]}
    with pytest.raises(ValueError, match="services"):
        World.model_validate(broken)
    cyclic = load_world("ecommerce-deploy").model_dump()
    first, second = cyclic["services"][0], cyclic["services"][0]["calls"][0]["to"]
    target = next(s for s in cyclic["services"] if s["name"] == second)
    target["calls"].append({"to": first["name"], "fanout": 1.0})
    with pytest.raises(ValueError, match="cycle"):
        World.model_validate(cyclic)
    no_change = load_world("ecommerce-deploy").model_dump()
    no_change["changes"] = [c for c in no_change["changes"] if c["service"] != no_change["fault"]["service"]]
    with pytest.raises(ValueError, match="matching change"):
        World.model_validate(no_change)
