"""Model specs, per-role choice, and the Investigator wiring the activities use."""

from __future__ import annotations

import pytest

from sleuth.agents.llm.common import BudgetExhausted, ModelSession
from sleuth.agents.llm.investigator import LLMInvestigator
from sleuth.agents.providers.anthropic_provider import AnthropicProvider
from sleuth.agents.providers.base import Message
from sleuth.agents.providers.factory import (
    parse_spec,
    provider_for,
    providers_for,
    providers_from_settings,
    role_specs,
)
from sleuth.agents.providers.openai_provider import OpenAIProvider
from sleuth.config import Settings
from sleuth.models.requests import ConcludeInput, PlanInput
from sleuth.models.requests import TestInput as StepInput
from tests.fixtures.wire_stubs import Call, WireStub, text_turn, tool_turn
from tests.providers.conftest import make_provider
from tests.providers.llm_world import FakeGateway, World, offline_roles


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("offline", ("offline", None)),
        (" Offline ", ("offline", None)),
        ("openai:gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("anthropic:claude-haiku-4-5", ("anthropic", "claude-haiku-4-5")),
        ("OpenAI: gpt-5.1 ", ("openai", "gpt-5.1")),
    ],
)
def test_parse_spec(spec: str, parsed: tuple[str, str | None]) -> None:
    assert parse_spec(spec) == parsed


@pytest.mark.parametrize(
    "spec", ["", "gpt-4o", "openai:", "azure:gpt-4o", "anthropic", "openai:gpt 4o", "local"]
)
def test_bad_specs_name_the_accepted_forms(spec: str) -> None:
    with pytest.raises(ValueError, match=r"'offline', 'openai:<model>' or 'anthropic:<model>'"):
        parse_spec(spec)


def test_provider_for() -> None:
    assert provider_for("offline") is None
    p = provider_for("openai:gpt-4o-mini")
    assert isinstance(p, OpenAIProvider) and p.name == "openai:gpt-4o-mini"
    a = provider_for("anthropic:claude-haiku-4-5")
    assert isinstance(a, AnthropicProvider) and a.name == "anthropic:claude-haiku-4-5"


def test_missing_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        provider_for("openai:gpt-4o")
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        provider_for("anthropic:claude-haiku-4-5")


def test_role_specs_forms() -> None:
    assert role_specs("openai:gpt-5") == dict.fromkeys(("planner", "summariser", "concluder"), "openai:gpt-5")
    assert role_specs("anthropic:claude-opus-4-5,summariser=anthropic:claude-haiku-4-5") == {
        "planner": "anthropic:claude-opus-4-5",
        "summariser": "anthropic:claude-haiku-4-5",
        "concluder": "anthropic:claude-opus-4-5",
    }
    assert role_specs({"planner": "openai:gpt-5", "summariser": None}) == {
        "planner": "openai:gpt-5",
        "summariser": "offline",
        "concluder": "offline",
    }
    # A mapping value may itself be the combined string the workflow carries.
    combined = "openai:gpt-5,summariser=openai:gpt-5-mini"
    assert (
        role_specs(dict.fromkeys(("planner", "summariser", "concluder"), combined))["summariser"]
        == "openai:gpt-5-mini"
    )
    with pytest.raises(ValueError, match="unknown model role"):
        role_specs("openai:gpt-5,judge=openai:gpt-5")
    with pytest.raises(ValueError, match="more than one default"):
        role_specs("openai:gpt-5,anthropic:claude-haiku-4-5")
    with pytest.raises(ValueError, match="accepted|expected"):
        role_specs({"planner": "gpt-5"})


def test_roles_sharing_a_spec_share_a_provider() -> None:
    provs = providers_for("openai:gpt-5,summariser=openai:gpt-5-mini")
    assert provs["planner"] is provs["concluder"] and provs["planner"] is not provs["summariser"]
    assert providers_for("offline") == {"planner": None, "summariser": None, "concluder": None}


def test_providers_from_settings() -> None:
    settings = Settings(
        SLEUTH_MODEL="anthropic:claude-opus-4-5", SLEUTH_MODEL_SUMMARISER="openai:gpt-4o-mini"
    )
    provs = providers_from_settings(settings)
    assert {r: p.name if p else None for r, p in provs.items()} == {
        "planner": "anthropic:claude-opus-4-5",
        "summariser": "openai:gpt-4o-mini",
        "concluder": "anthropic:claude-opus-4-5",
    }


def test_investigator_for_builds_the_llm_investigator() -> None:
    from sleuth.agents.roles import OfflineInvestigator, investigator_for

    assert isinstance(investigator_for("offline"), OfflineInvestigator)
    inv = investigator_for("openai:gpt-5", {"summariser": "openai:gpt-5-mini"})
    assert isinstance(inv, LLMInvestigator)
    assert inv.planner.provider is not None and inv.planner.provider.name == "openai:gpt-5"
    assert inv.tester.provider is not None and inv.tester.provider.name == "openai:gpt-5-mini"


async def test_llm_investigator_end_to_end(stub: WireStub) -> None:
    world = World()
    ctx = world.context()
    provider = make_provider(stub, "anthropic")
    inv = LLMInvestigator(
        {}, offline_roles(), providers=dict.fromkeys(("planner", "summariser", "concluder"), provider)
    )
    stub.script(
        tool_turn(
            Call(
                "propose_hypotheses",
                {"hypotheses": [{"service": "payments", "kind": "code_error", "statement": "s"}]},
            )
        )
    )
    plan = await inv.plan(
        PlanInput(investigation_id="i", context=ctx, round=1, max_new=4, remaining_tokens=100_000)
    )
    assert [h.service for h in plan.hypotheses] == ["checkout", "payments"]
    stub.script(text_turn("nothing more"))
    tested = [
        (
            await inv.test(
                StepInput(
                    investigation_id="i",
                    context=ctx,
                    hypothesis=h,
                    max_datadog_calls=100,
                    remaining_tokens=100_000,
                ),
                FakeGateway(world),
            )
        ).hypothesis
        for h in plan.hypotheses
    ]
    stub.script(text_turn("Checkout's deploy broke PromoService."))
    conclusion = await inv.conclude(
        ConcludeInput(investigation_id="i", context=ctx, hypotheses=tested, remaining_tokens=100_000)
    )
    assert conclusion.root_cause is not None and conclusion.root_cause.service == "checkout"
    assert conclusion.summary.endswith("Checkout's deploy broke PromoService.")


async def test_session_shrinks_max_tokens_to_what_is_left(stub: WireStub) -> None:
    session = ModelSession(make_provider(stub, "openai"), "planner", remaining_tokens=1_000)
    stub.script(text_turn("ok", usage=(500, 10)))
    await session.ask("sys", [Message(role="user", content="hi")], max_tokens=1024)
    sent = stub.requests[0].json["max_completion_tokens"]
    assert 128 <= sent < 1024
    with pytest.raises(BudgetExhausted):  # 510 spent, the next prompt plus a useful answer no longer fit
        await session.ask("sys", [Message(role="user", content="x" * 3_200)], max_tokens=1024)
    assert len(stub.requests) == 1
