"""Both providers through the official SDKs against the loopback wire stub."""

from __future__ import annotations

import time

import pytest

from sleuth.agents.providers.base import Message, ModelError, ModelProvider, ModelRequest, ToolCall, ToolSpec
from sleuth.agents.providers.pricing import cost_usd, price_table
from sleuth.agents.providers.transport import RetryPolicy
from tests.fixtures.wire_stubs import (
    ANTHROPIC_PATH,
    OPENAI_PATH,
    Call,
    Turn,
    WireStub,
    error_turn,
    malformed_turn,
    slow_turn,
    text_turn,
    tool_turn,
)
from tests.providers.conftest import make_provider

WEATHER = ToolSpec(
    name="lookup",
    description="Look something up.",
    parameters={"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
)


def request(*messages: Message, tools: list[ToolSpec] | None = None) -> ModelRequest:
    return ModelRequest(
        role="planner",
        system="You are a test.",
        messages=list(messages) or [Message(role="user", content="hello")],
        tools=[WEATHER] if tools is None else tools,
        max_tokens=256,
    )


async def test_tool_call_turn_then_final_turn(stub: WireStub, provider: ModelProvider, kind: str) -> None:
    stub.script(
        tool_turn(Call("lookup", {"q": "checkout p99"}), usage=(120, 30)),
        text_turn("all done", usage=(200, 10)),
    )
    first = await provider.complete(request())
    assert [(c.name, c.arguments) for c in first.tool_calls] == [("lookup", {"q": "checkout p99"})]
    call = first.tool_calls[0]

    second = await provider.complete(
        request(
            Message(role="user", content="hello"),
            Message(role="assistant", content="", tool_calls=[call]),
            Message(role="tool", tool_call_id=call.id, content='{"p99_ms": 840}'),
        )
    )
    assert second.text == "all done" and second.tool_calls == []
    body = stub.requests[-1].json
    if kind == "openai":
        assert stub.requests[-1].path == OPENAI_PATH
        assert body["messages"][0] == {"role": "system", "content": "You are a test."}
        assistant = body["messages"][2]
        assert assistant["tool_calls"][0]["id"] == call.id
        assert assistant["tool_calls"][0]["function"] == {
            "name": "lookup",
            "arguments": '{"q": "checkout p99"}',
        }
        assert body["messages"][3] == {"role": "tool", "tool_call_id": call.id, "content": '{"p99_ms": 840}'}
        assert body["tools"][0]["function"]["name"] == "lookup"
        assert body["max_completion_tokens"] == 256
    else:
        assert stub.requests[-1].path == ANTHROPIC_PATH
        assert body["system"] == "You are a test."
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
        assert body["messages"][1]["content"] == [
            {"type": "tool_use", "id": call.id, "name": "lookup", "input": {"q": "checkout p99"}}
        ]
        assert body["messages"][2]["content"] == [
            {"type": "tool_result", "tool_use_id": call.id, "content": '{"p99_ms": 840}'}
        ]
        assert body["tools"][0]["input_schema"]["required"] == ["q"]
        assert body["max_tokens"] == 256


async def test_token_and_cost_accounting(stub: WireStub, kind: str) -> None:
    model = "gpt-4o-mini" if kind == "openai" else "claude-haiku-4-5"
    provider = make_provider(stub, kind, model)
    stub.script(text_turn("ok", usage=(1_000_000, 200_000)))
    r = await provider.complete(request())
    assert (r.usage.input_tokens, r.usage.output_tokens) == (1_000_000, 200_000)
    expected = 0.15 + 0.2 * 0.60 if kind == "openai" else 1.0 + 0.2 * 5.0
    assert r.usage.cost_usd == pytest.approx(expected)
    assert r.model == model


async def test_unknown_model_counts_tokens_at_zero_cost(stub: WireStub, kind: str) -> None:
    provider = make_provider(stub, kind, "my-local-llama")
    stub.script(text_turn("ok", usage=(500, 50)))
    r = await provider.complete(request())
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.cost_usd) == (500, 50, 0.0)


async def test_price_override_from_env(stub: WireStub, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLEUTH_PRICES", '{"my-local-llama": {"input": 1.0, "output": 2.0}}')
    provider = make_provider(stub, kind, "my-local-llama")
    stub.script(text_turn("ok", usage=(1_000_000, 1_000_000)))
    assert (await provider.complete(request())).usage.cost_usd == pytest.approx(3.0)


async def test_429_with_retry_after_then_success(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(error_turn(429, retry_after="1"), text_turn("recovered"))
    t0 = time.monotonic()
    r = await provider.complete(request())
    assert r.text == "recovered"
    assert len(stub.requests) == 2
    assert time.monotonic() - t0 >= 0.95  # the retry-after was honoured, not the 10 ms backoff


async def test_retry_after_too_long_gives_up_at_once(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(error_turn(429, retry_after="3600"))
    with pytest.raises(ModelError, match="asked to wait"):
        await provider.complete(request())
    assert len(stub.requests) == 1


async def test_500s_beyond_the_cap_raise_model_error(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(error_turn(500), error_turn(500), error_turn(500), text_turn("too late"))
    with pytest.raises(ModelError, match="gave up after 3 attempts: 500"):
        await provider.complete(request())
    assert len(stub.requests) == 3
    assert stub.pending == 1


async def test_500_then_success(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(error_turn(500), error_turn(500), text_turn("third time"))
    assert (await provider.complete(request())).text == "third time"


async def test_client_errors_are_not_retried(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(error_turn(400), text_turn("never"))
    with pytest.raises(ModelError, match="400"):
        await provider.complete(request())
    assert len(stub.requests) == 1


async def test_timeout_is_retried_then_raises(stub: WireStub, kind: str) -> None:
    provider = make_provider(stub, kind, timeout_seconds=0.3)
    stub.script(slow_turn(1.0), slow_turn(1.0), slow_turn(1.0))
    with pytest.raises(ModelError, match="timeout"):
        await provider.complete(request())
    assert len(stub.requests) == 3


async def test_timeout_then_success(stub: WireStub, kind: str) -> None:
    provider = make_provider(stub, kind, timeout_seconds=0.3)
    stub.script(slow_turn(1.0), text_turn("fast now"))
    assert (await provider.complete(request())).text == "fast now"


async def test_malformed_body_is_retried(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(malformed_turn(), text_turn("valid"))
    assert (await provider.complete(request())).text == "valid"
    assert len(stub.requests) == 2


async def test_malformed_bodies_beyond_the_cap(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(malformed_turn(), malformed_turn("not json at all"), malformed_turn('{"id": 1}'))
    with pytest.raises(ModelError, match="malformed"):
        await provider.complete(request())
    assert len(stub.requests) == 3


async def test_unparseable_tool_arguments_are_retried(stub: WireStub, provider: ModelProvider) -> None:
    stub.script(
        Turn(calls=[Call("lookup", raw_arguments="{not json")], usage=(100, 10)),
        tool_turn(Call("lookup", {"q": "x"}), usage=(120, 12)),
    )
    r = await provider.complete(request())
    assert r.tool_calls[0].arguments == {"q": "x"}
    assert len(stub.requests) == 2
    # The unusable answer was paid for: it is counted with the good one.
    assert (r.usage.input_tokens, r.usage.output_tokens) == (220, 22)


def test_retry_after_forms() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from sleuth.agents.providers.transport import retry_after_seconds

    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds({"retry-after": later}) or 0) <= 31
    assert retry_after_seconds({"retry-after": "soon"}) is None and retry_after_seconds({}) is None


async def test_sdk_env_vars_pick_the_endpoint(
    stub: WireStub, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sleuth.agents.providers.factory import provider_for

    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai")
    monkeypatch.setenv("OPENAI_BASE_URL", stub.openai_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.anthropic_base_url)
    provider = provider_for(f"{kind}:some-model", retry=RetryPolicy(attempts=1))
    assert provider is not None and provider.name == f"{kind}:some-model"
    stub.script(text_turn("via env"))
    assert (await provider.complete(request())).text == "via env"
    assert stub.requests[0].headers["authorization"] in ("Bearer sk-env-openai", "Bearer sk-ant-env")


async def test_consecutive_tool_results_share_one_anthropic_user_turn(stub: WireStub) -> None:
    provider = make_provider(stub, "anthropic")
    calls = [
        ToolCall(id="toolu_a", name="lookup", arguments={"q": "a"}),
        ToolCall(id="toolu_b", name="lookup", arguments={"q": "b"}),
    ]
    stub.script(text_turn("ok"))
    await provider.complete(
        request(
            Message(role="user", content="go"),
            Message(role="assistant", content="two lookups", tool_calls=calls),
            Message(role="tool", tool_call_id="toolu_a", content="A"),
            Message(role="tool", tool_call_id="toolu_b", content="B"),
            Message(role="user", content="and now?"),
        )
    )
    msgs = stub.requests[0].json["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert [b["type"] for b in msgs[2]["content"]] == ["tool_result", "tool_result", "text"]


def test_price_table_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="SLEUTH_PRICES"):
        price_table({"SLEUTH_PRICES": "{not json"})
    with pytest.raises(ValueError, match="gpt-x"):
        price_table({"SLEUTH_PRICES": '{"gpt-x": "cheap"}'})
    table = price_table({"SLEUTH_PRICES": '{"gpt-x": [1, 2]}'})
    assert table["gpt-x"] == (1.0, 2.0)
    # Dated snapshots are priced by their family, the longest prefix winning.
    assert cost_usd("gpt-4o-mini-2024-07-18", 1_000_000, 0, table) == pytest.approx(0.15)
    assert cost_usd("claude-sonnet-4-5-20250929", 0, 1_000_000, table) == pytest.approx(15.0)
