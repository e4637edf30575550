"""LLMPlanner / LLMTester / LLMConcluder against scripted models over the real wire protocols."""

from __future__ import annotations

from typing import Any

import pytest

from sleuth.agents.llm import LLMConcluder, LLMPlanner, LLMTester
from sleuth.agents.llm.tester import MAX_TOOL_RESULT_CHARS
from sleuth.agents.providers.base import ModelProvider
from sleuth.gateway.errors import DatadogUnavailable
from sleuth.models.investigation import Hint, Hypothesis
from sleuth.models.requests import ConcludeInput, PlanInput, PlanResult
from sleuth.models.requests import TestInput as StepInput
from tests.fixtures.wire_stubs import Call, WireStub, error_turn, text_turn, tool_turn
from tests.providers.llm_world import FakeGateway, World, offline_roles

WORLD = World()
CTX = WORLD.context()
OFF = offline_roles()


def plan_input(**kw: Any) -> PlanInput:
    return PlanInput(
        **{
            "investigation_id": "inv-1",
            "context": CTX,
            "round": 1,
            "max_new": 8,
            "remaining_tokens": 50_000,
            **kw,
        }
    )


def checkout_hypothesis() -> Hypothesis:
    return OFF.planner.plan(plan_input()).hypotheses[0]


def step_input(h: Hypothesis | None = None, **kw: Any) -> StepInput:
    base = {
        "investigation_id": "inv-1",
        "context": CTX,
        "hypothesis": h or checkout_hypothesis(),
        "max_datadog_calls": 200,
        "remaining_tokens": 50_000,
    }
    return StepInput(**{**base, **kw})


def propose(*items: tuple[str, str, str]) -> Call:
    return Call(
        "propose_hypotheses", {"hypotheses": [{"service": s, "kind": k, "statement": t} for s, k, t in items]}
    )


def tool_texts(stub: WireStub, index: int = -1) -> list[str]:
    """The tool results the model was shown in one request, whatever the protocol."""
    body = stub.requests[index].json
    if stub.requests[index].protocol == "openai":
        return [m["content"] for m in body["messages"] if m["role"] == "tool"]
    return [
        b["content"]
        for m in body["messages"]
        if m["role"] == "user"
        for b in m["content"]
        if b["type"] == "tool_result"
    ]


# -- planner -------------------------------------------------------------------------------------


async def test_planner_merges_validated_proposals(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(
        tool_turn(
            propose(
                ("payments-db", "database", "payments-db lock contention slows payments"),
                ("inventory", "network", "packet loss between checkout and inventory"),
                ("checkout", "deployment", "duplicate of the offline candidate"),
            ),
            usage=(900, 60),
        )
    )
    offline = OFF.planner.plan(plan_input())
    result = await LLMPlanner(provider, OFF.planner).plan(plan_input())
    assert result.hypotheses[: len(offline.hypotheses)] == offline.hypotheses
    added = result.hypotheses[len(offline.hypotheses) :]
    assert [(h.id, h.service, h.kind, h.status, h.confidence) for h in added] == [
        ("h1-1", "payments-db", "database", "pending", 0.0),
        ("h1-2", "inventory", "network", "pending", 0.0),
    ]
    assert (result.usage.model_calls, result.usage.input_tokens, result.usage.output_tokens) == (1, 900, 60)
    assert result.usage.cost_usd > 0
    tool = stub.requests[0].json["tools"][0]
    assert (tool.get("function") or tool)["name"] == "propose_hypotheses"


async def test_planner_reasks_once_with_the_validation_error(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(
        tool_turn(propose(("billing", "database", "made up"), ("payments", "banana", "bad kind"))),
        tool_turn(propose(("payments", "dependency_failure", "payments is failing"))),
    )
    result = await LLMPlanner(provider, OFF.planner).plan(plan_input())
    assert [h.service for h in result.hypotheses] == ["checkout", "payments"]
    feedback = " ".join(tool_texts(stub, 1))
    assert "unknown service 'billing'" in feedback and "'banana' is not one of" in feedback
    assert result.usage.model_calls == 2


async def test_planner_falls_back_after_two_invalid_answers(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(
        tool_turn(propose(("nope", "database", "x"))),
        tool_turn(Call("propose_hypotheses", {"hypotheses": "all of them"})),
    )
    offline = OFF.planner.plan(plan_input())
    result = await LLMPlanner(provider, OFF.planner).plan(plan_input())
    assert result.hypotheses == offline.hypotheses
    assert any("invalid twice" in n for n in result.notes)
    assert result.usage.model_calls == 2 and len(stub.requests) == 2


async def test_planner_text_answer_is_reasked(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(
        text_turn("I think it's the database."), tool_turn(propose(("payments-db", "database", "db")))
    )
    result = await LLMPlanner(provider, OFF.planner).plan(plan_input())
    assert [h.service for h in result.hypotheses] == ["checkout", "payments-db"]


async def test_planner_model_error_falls_back(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(error_turn(500), error_turn(500), error_turn(500))
    result = await LLMPlanner(provider, OFF.planner).plan(plan_input())
    assert result.hypotheses == OFF.planner.plan(plan_input()).hypotheses
    assert any("fell back to offline" in n and "500" in n for n in result.notes)
    assert result.usage.model_calls == 0


async def test_planner_without_token_budget_never_calls(stub: WireStub, provider: ModelProvider) -> None:
    result = await LLMPlanner(provider, OFF.planner).plan(plan_input(remaining_tokens=0))
    assert stub.requests == [] and any("budget exhausted" in n for n in result.notes)
    assert result.hypotheses == OFF.planner.plan(plan_input()).hypotheses


async def test_planner_accepts_services_named_by_hints(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(tool_turn(propose(("fraud-check", "external_dependency", "the fraud API times out"))))
    hints = [Hint(text="have a look at fraud-check, it flapped yesterday")]
    result = await LLMPlanner(provider, OFF.planner).plan(plan_input(hints=hints))
    assert "fraud-check" in [h.service for h in result.hypotheses]


async def test_planner_keeps_the_offline_top_when_offline_filled_the_slots(
    stub: WireStub, provider: ModelProvider
) -> None:
    full = [
        Hypothesis(id=f"h{i}", service="checkout", kind=k, statement=k)
        for i, k in enumerate(
            [
                "deployment",
                "code_error",
                "cpu_saturation",
                "memory_pressure",
                "network",
                "database",
                "traffic_surge",
                "disk_pressure",
            ],
            1,
        )
    ]

    class FullPlanner:
        def plan(self, inp: PlanInput) -> PlanResult:
            return PlanResult(hypotheses=full)

    stub.script(
        tool_turn(
            propose(
                ("payments-db", "database", "a"),
                ("inventory", "network", "b"),
                ("payments", "code_error", "c"),
            )
        )
    )
    result = await LLMPlanner(provider, FullPlanner()).plan(plan_input(max_new=8))
    assert len(result.hypotheses) == 8
    assert result.hypotheses[:6] == full[:6]  # the offline top ¾ is never displaced
    assert [h.service for h in result.hypotheses[6:]] == ["payments-db", "inventory"]


# -- tester --------------------------------------------------------------------------------------


async def test_tester_runs_bounded_tool_rounds_and_code_judges(
    stub: WireStub, provider: ModelProvider
) -> None:
    stub.script(
        tool_turn(
            Call("search_logs", {"query": "service:checkout status:warn"}),
            Call("search_logs", {"query": "service:checkout env:prod"}),
        ),  # repeats an offline probe
        tool_turn(
            Call("query_metrics", {"query": "avg:postgresql.connections{service:checkout}"}),
            Call("search_spans", {"query": "service:payments"}),
        ),
        text_turn("This is definitely VALIDATED, confidence 1.0."),
    )
    gw = FakeGateway(WORLD)
    offline = OFF.tester.test(step_input(), FakeGateway(WORLD))
    result = await LLMTester(provider, OFF.tester).test(step_input(), gw)
    h = result.hypothesis
    mine = [e for e in h.evidence if e.observation.startswith("[model-chosen query]")]
    # New measurements only: the repeat of the offline log probe adds nothing, spans are never evidence.
    assert {(e.query, e.signal) for e in mine} == {
        ("service:checkout status:warn", "log_errors"),
        ("service:checkout status:warn", "new_log_patterns"),
        ("avg:postgresql.connections{service:checkout}", "db_connections"),
    }
    assert h.evidence[: len(offline.hypothesis.evidence)] == offline.hypothesis.evidence
    from sleuth.agents.judge import judge

    assert (h.status, h.confidence) == (judge(h, CTX).status, judge(h, CTX).confidence)
    assert result.usage.model_calls == 3
    assert result.usage.datadog_calls == gw.budget.used
    assert all(len(t) <= MAX_TOOL_RESULT_CHARS + 120 for t in tool_texts(stub))
    assert "not counted as evidence" in tool_texts(stub)[-1]


async def test_tester_caps_rounds_and_calls_per_round(stub: WireStub, provider: ModelProvider) -> None:
    many = [Call("search_events", {"query": f"service:checkout v{i}"}) for i in range(5)]
    stub.responder = lambda _req: tool_turn(*many)
    result = await LLMTester(provider, OFF.tester).test(step_input(), FakeGateway(WORLD))
    assert len(stub.requests) == 3  # at most 3 tool rounds
    assert (
        sum("skipped: at most 3 tool calls" in t for t in tool_texts(stub)) == 4
    )  # 2 per round, 2 rounds shown
    assert result.usage.model_calls == 3


async def test_tester_model_error_falls_back_to_offline(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(error_turn(500), error_turn(500), error_turn(500))
    offline = OFF.tester.test(step_input(), FakeGateway(WORLD))
    result = await LLMTester(provider, OFF.tester).test(step_input(), FakeGateway(WORLD))
    assert result.hypothesis == offline.hypothesis


async def test_tester_budget_exhausted_mid_step_falls_back(stub: WireStub, provider: ModelProvider) -> None:
    stub.responder = lambda _req: tool_turn(
        Call("search_logs", {"query": "service:checkout"}), usage=(3000, 100)
    )
    offline = OFF.tester.test(step_input(), FakeGateway(WORLD))
    result = await LLMTester(provider, OFF.tester).test(step_input(remaining_tokens=4500), FakeGateway(WORLD))
    assert result.hypothesis == offline.hypothesis
    assert result.usage.model_calls == 1 and result.usage.input_tokens == 3000


async def test_tester_datadog_failure_becomes_a_gap(stub: WireStub, provider: ModelProvider) -> None:
    class Flaky(FakeGateway):
        def search_spans(self, query: str, *a: Any, **kw: Any) -> Any:
            raise DatadogUnavailable("503", "/api/v2/spans/events/search")

    stub.script(tool_turn(Call("search_spans", {"query": "service:checkout"})), text_turn("done"))
    result = await LLMTester(provider, OFF.tester).test(step_input(), Flaky(WORLD))
    assert any(g.source == "spans" and "503" in g.reason for g in result.hypothesis.gaps)
    assert "unavailable" in tool_texts(stub)[-1]


# -- concluder -----------------------------------------------------------------------------------


def conclude_input(**kw: Any) -> ConcludeInput:
    tested = [OFF.tester.test(step_input(), FakeGateway(WORLD)).hypothesis]
    return ConcludeInput(
        **{
            "investigation_id": "inv-1",
            "context": CTX,
            "hypotheses": tested,
            "remaining_tokens": 50_000,
            **kw,
        }
    )


async def test_concluder_model_writes_only_the_prose(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(
        text_turn(
            "Checkout's 11:47 deploy introduced a NullPointerException in PromoService.", usage=(700, 40)
        )
    )
    offline = OFF.concluder.conclude(conclude_input())
    result = await LLMConcluder(provider, OFF.concluder).conclude(conclude_input())
    assert result.model_dump(exclude={"summary", "usage"}) == offline.model_dump(exclude={"summary", "usage"})
    assert result.summary.startswith("Root cause: deployment in checkout")
    assert result.summary.endswith("NullPointerException in PromoService.")
    assert (result.usage.model_calls, result.usage.input_tokens, result.usage.output_tokens) == (1, 700, 40)
    assert "DECISION" in stub.requests[0].body.decode()


@pytest.mark.parametrize("failure", ["error", "empty"])
async def test_concluder_falls_back(stub: WireStub, provider: ModelProvider, failure: str) -> None:
    stub.script(*([error_turn(500)] * 3 if failure == "error" else [text_turn("   ")]))
    offline = OFF.concluder.conclude(conclude_input())
    result = await LLMConcluder(provider, OFF.concluder).conclude(conclude_input())
    assert result.model_dump(exclude={"usage"}) == offline.model_dump(exclude={"usage"})


async def test_concluder_does_not_delay_a_stop(stub: WireStub, provider: ModelProvider) -> None:
    result = await LLMConcluder(provider, OFF.concluder).conclude(conclude_input(stopped=True))
    assert result == OFF.concluder.conclude(conclude_input(stopped=True)) and stub.requests == []


async def test_offline_provider_means_offline(stub: WireStub) -> None:
    assert await LLMPlanner(None, OFF.planner).plan(plan_input()) == OFF.planner.plan(plan_input())
    assert (await LLMConcluder(None, OFF.concluder).conclude(conclude_input())) == OFF.concluder.conclude(
        conclude_input()
    )
    assert stub.requests == []
