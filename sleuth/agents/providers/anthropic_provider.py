"""`anthropic:<model>`: the Messages API with tool use, through the official `anthropic.AsyncAnthropic`.

Wire differences from chat completions that the translation absorbs: the system prompt is a
top-level field, tool results are `tool_result` blocks inside a *user* turn, consecutive turns of
one role are merged (the API wants them alternating), and empty text blocks are not sent.
`ANTHROPIC_BASE_URL` has no `/v1` suffix: the SDK adds it.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic

from sleuth.agents.providers.base import ModelRequest, ModelResponse, TokenUsage, ToolCall
from sleuth.agents.providers.pricing import cost_usd
from sleuth.agents.providers.transport import (
    Failure,
    MalformedOutput,
    SdkProvider,
    classify_common,
    estimate_tokens,
    parse_arguments,
    redact_request,
    retry_after_seconds,
    shared_client,
    with_retries,
    with_wasted,
)


class AnthropicProvider(SdkProvider):
    vendor = "anthropic"
    key_env = "ANTHROPIC_API_KEY"
    url_env = "ANTHROPIC_BASE_URL"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        safe = redact_request(request)
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": safe.max_tokens,
            "messages": to_anthropic_messages(safe),
        }
        if safe.system:
            kwargs["system"] = safe.system
        if safe.tools:
            kwargs["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in safe.tools
            ]

        client = shared_client(self._client_key, lambda: anthropic.AsyncAnthropic(**self._client_args))
        wasted: list[TokenUsage] = []

        async def attempt() -> ModelResponse:
            raw = await client.messages.create(**kwargs)
            usage = self._usage(raw, kwargs)
            try:
                return with_wasted(self._parse(raw, usage), wasted)
            except MalformedOutput:
                wasted.append(usage)
                raise

        return await with_retries(attempt, classify, self.retry, self.name)

    def _usage(self, raw: Any, sent: dict[str, Any]) -> TokenUsage:
        usage = getattr(raw, "usage", None)
        if usage is None:  # an estimate keeps the token budget honest
            inp = estimate_tokens(len(json.dumps(sent["messages"])) + len(sent.get("system", "")))
            out = estimate_tokens(len(str(getattr(raw, "content", "") or "")))
        else:
            # Cache writes and reads are input the model processed; the budget counts them too.
            inp = int(usage.input_tokens or 0) + int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
            inp += int(getattr(usage, "cache_read_input_tokens", 0) or 0)
            out = int(usage.output_tokens or 0)
        return TokenUsage(
            input_tokens=inp, output_tokens=out, cost_usd=cost_usd(self.model, inp, out, self.prices)
        )

    def _parse(self, raw: Any, usage: TokenUsage) -> ModelResponse:
        blocks = getattr(raw, "content", None)
        if blocks is None:
            raise MalformedOutput("no content in the response")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in blocks:
            kind = getattr(block, "type", "")
            if kind == "text":
                texts.append(str(getattr(block, "text", "") or ""))
            elif kind == "tool_use":
                calls.append(ToolCall(id=block.id, name=block.name, arguments=parse_arguments(block.input)))
        return ModelResponse(
            text="".join(texts),
            tool_calls=calls,
            usage=usage,
            model=str(getattr(raw, "model", "") or self.model),
        )


def to_anthropic_messages(request: ModelRequest) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for m in request.messages:
        if m.role == "tool":
            add(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": m.tool_call_id or "",
                        "content": m.content or "(empty)",
                    }
                ],
            )
        elif m.role == "assistant":
            blocks: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
            blocks += [
                {"type": "tool_use", "id": tc.id, "name": tc.name, "input": tc.arguments}
                for tc in m.tool_calls
            ]
            add("assistant", blocks)
        else:
            add("user", [{"type": "text", "text": m.content}] if m.content else [])
    return turns


def classify(exc: BaseException) -> Failure | None:
    common = classify_common(exc)
    if common is not None:
        return common
    if isinstance(exc, anthropic.APITimeoutError):
        return Failure("timeout", retryable=True)
    if isinstance(exc, anthropic.APIConnectionError):
        return Failure("connection error", retryable=True)
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        if status == 429:
            return Failure(
                "429 rate limited", retryable=True, retry_after=retry_after_seconds(exc.response.headers)
            )
        if status >= 500 or status in (408, 409):  # 529 "overloaded" included
            return Failure(f"{status} from the API", retryable=True)
        return Failure(f"{status} from the API: {exc.message[:200]}", retryable=False)
    if isinstance(exc, anthropic.APIResponseValidationError):
        return Failure("response did not match the API schema", retryable=True)
    if isinstance(exc, anthropic.AnthropicError):
        return Failure(f"{type(exc).__name__}: {str(exc)[:200]}", retryable=False)
    return None
