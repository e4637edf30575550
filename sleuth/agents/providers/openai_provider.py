"""`openai:<model>`: chat completions with function tools, through the official `openai.AsyncOpenAI`.

Any OpenAI-compatible endpoint works through `OPENAI_BASE_URL` (or `base_url=`), which is also
how the tests point it at a loopback stub.
"""

from __future__ import annotations

import json
from typing import Any

import openai

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


class OpenAIProvider(SdkProvider):
    vendor = "openai"
    key_env = "OPENAI_API_KEY"
    url_env = "OPENAI_BASE_URL"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        safe = redact_request(request)
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(safe),
            "max_completion_tokens": safe.max_tokens,
        }
        if safe.tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in safe.tools
            ]

        client = shared_client(self._client_key, lambda: openai.AsyncOpenAI(**self._client_args))
        wasted: list[TokenUsage] = []

        async def attempt() -> ModelResponse:
            raw = await client.chat.completions.create(**kwargs)
            usage = self._usage(raw, kwargs)
            try:
                return with_wasted(self._parse(raw, usage), wasted)
            except MalformedOutput:
                wasted.append(usage)
                raise

        return await with_retries(attempt, classify, self.retry, self.name)

    def _usage(self, raw: Any, sent: dict[str, Any]) -> TokenUsage:
        usage = getattr(raw, "usage", None)
        if usage is not None:
            inp, out = int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)
        else:  # some compatible servers omit usage; an estimate keeps the token budget honest
            inp = estimate_tokens(len(json.dumps(sent["messages"])))
            out = estimate_tokens(len(str(getattr(raw, "choices", "") or "")))
        return TokenUsage(
            input_tokens=inp, output_tokens=out, cost_usd=cost_usd(self.model, inp, out, self.prices)
        )

    def _parse(self, raw: Any, usage: TokenUsage) -> ModelResponse:
        choices = getattr(raw, "choices", None)
        if not choices:
            raise MalformedOutput("no choices in the response")
        message = choices[0].message
        calls = [
            ToolCall(id=tc.id, name=tc.function.name, arguments=parse_arguments(tc.function.arguments))
            for tc in (message.tool_calls or [])
            if getattr(tc, "function", None) is not None
        ]
        return ModelResponse(
            text=message.content or "",
            tool_calls=calls,
            usage=usage,
            model=str(getattr(raw, "model", "") or self.model),
        )


def to_openai_messages(request: ModelRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": request.system}]
    for m in request.messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content})
        elif m.role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": m.content or None}
            if m.tool_calls:
                msg["tool_calls"] = [
                    {
                        "id": tc.id,
                        "type": "function",
                        "function": {"name": tc.name, "arguments": json.dumps(tc.arguments)},
                    }
                    for tc in m.tool_calls
                ]
            out.append(msg)
        else:
            out.append({"role": "user", "content": m.content})
    return out


def classify(exc: BaseException) -> Failure | None:
    common = classify_common(exc)
    if common is not None:
        return common
    if isinstance(exc, openai.APITimeoutError):
        return Failure("timeout", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return Failure("connection error", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 429:
            return Failure(
                "429 rate limited", retryable=True, retry_after=retry_after_seconds(exc.response.headers)
            )
        if status >= 500 or status in (408, 409):
            return Failure(f"{status} from the API", retryable=True)
        return Failure(f"{status} from the API: {exc.message[:200]}", retryable=False)
    if isinstance(exc, openai.APIResponseValidationError):
        return Failure("response did not match the API schema", retryable=True)
    if isinstance(exc, openai.OpenAIError):
        return Failure(f"{type(exc).__name__}: {str(exc)[:200]}", retryable=False)
    return None
