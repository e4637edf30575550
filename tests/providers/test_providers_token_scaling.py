"""Tokens for one LLM test step do not grow with telemetry volume (1× vs 10×)."""

from __future__ import annotations

import json

from sleuth.agents.llm import LLMTester
from sleuth.models.requests import PlanInput
from sleuth.models.requests import TestInput as StepInput
from tests.fixtures.wire_stubs import Call, WireStub, text_turn, tool_turn
from tests.providers.conftest import make_provider
from tests.providers.llm_world import FakeGateway, World, offline_roles


async def one_step(stub: WireStub, kind: str, volume: int) -> dict[str, int]:
    world = World(volume=volume)
    ctx = world.context()
    off = offline_roles()
    h = off.planner.plan(PlanInput(investigation_id="inv", context=ctx, round=1, max_new=8)).hypotheses[0]
    stub.reset()
    stub.script(
        tool_turn(
            Call("search_logs", {"query": "service:checkout"}),
            Call("query_metrics", {"query": "avg:trace.http.request.duration{service:checkout} by {host}"}),
        ),
        tool_turn(
            Call("search_spans", {"query": "service:checkout"}),
            Call("search_events", {"query": "service:checkout"}),
        ),
        tool_turn(Call("search_logs", {"query": "service:checkout status:error"})),
    )
    step = StepInput(
        investigation_id="inv", context=ctx, hypothesis=h, max_datadog_calls=400, remaining_tokens=200_000
    )
    gateway = FakeGateway(world)
    result = await LLMTester(make_provider(stub, kind), off.tester).test(step, gateway)
    assert result.usage.model_calls == 3
    return {
        "raw_records": gateway.raw_records,
        "chars": stub.received_chars(),
        "input_tokens": result.usage.input_tokens,
    }


async def test_tokens_flat_from_1x_to_10x_telemetry(stub: WireStub, kind: str) -> None:
    small = await one_step(stub, kind, 1)
    large = await one_step(stub, kind, 10)
    print(
        f"\n[{kind}] 1x: {json.dumps(small)}  10x: {json.dumps(large)}  "
        f"ratio chars {large['chars'] / small['chars']:.3f} tokens {large['input_tokens'] / small['input_tokens']:.3f}"
    )
    # The telemetry really grew (~9×: the queries' own record limits shave the largest answers).
    assert large["raw_records"] >= 8 * small["raw_records"]
    assert large["chars"] / small["chars"] <= 1.1
    assert large["input_tokens"] / small["input_tokens"] <= 1.1


async def test_final_turn_is_not_needed(stub: WireStub) -> None:
    """A model that stops early ends the step early: fewer calls, fewer tokens."""
    world = World()
    off = offline_roles()
    ctx = world.context()
    h = off.planner.plan(PlanInput(investigation_id="inv", context=ctx, round=1, max_new=8)).hypotheses[0]
    stub.script(text_turn("Nothing more to check."))
    step = StepInput(
        investigation_id="inv", context=ctx, hypothesis=h, max_datadog_calls=400, remaining_tokens=200_000
    )
    result = await LLMTester(make_provider(stub, "openai"), off.tester).test(step, FakeGateway(world))
    assert result.usage.model_calls == 1 and len(stub.requests) == 1
