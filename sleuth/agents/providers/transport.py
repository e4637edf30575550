"""What both SDK providers share: the redaction gate, the capped retry loop, argument parsing.

The SDKs' own retries are off (`max_retries=0`): one loop here owns the policy, so attempts,
waits and the final `ModelError` behave the same for every provider, and a retry-after that
would block an activity for minutes is refused instead of obeyed.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sleuth.agents.providers.base import ModelError, ModelRequest, ModelResponse, TokenUsage
from sleuth.agents.providers.pricing import Price, price_for, price_table, warn_unpriced
from sleuth.agents.redaction import redact, redact_obj

T = TypeVar("T")


class MalformedOutput(Exception):
    """The response parsed as HTTP but not as a usable answer (e.g. tool arguments that are not JSON)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    # A 429 asking for longer than this is treated as "not now": the caller falls back offline.
    max_retry_after_seconds: float = 30.0

    def backoff(self, attempt: int) -> float:
        base = min(self.max_backoff_seconds, self.backoff_seconds * (2**attempt))
        return float(base * (0.5 + random.random() / 2))  # jitter: parallel tests must not retry in lockstep


@dataclass(frozen=True)
class Failure:
    reason: str
    retryable: bool
    retry_after: float | None = None


Classifier = Callable[[BaseException], Failure | None]


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """`retry-after-ms`, then `retry-after` as seconds or as an HTTP date."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify_common(exc: BaseException) -> Failure | None:
    """Failures that look the same whatever the SDK: bodies that are not JSON, answers we cannot use."""
    if isinstance(exc, MalformedOutput):
        return Failure(f"malformed output: {exc}", retryable=True)
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return Failure("malformed response body", retryable=True)
    return None


async def with_retries(
    op: Callable[[], Awaitable[T]], classify: Classifier, policy: RetryPolicy, what: str
) -> T:
    last: Failure | None = None
    for attempt in range(max(1, policy.attempts)):
        try:
            return await op()
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            if not failure.retryable:
                raise ModelError(f"{what}: {failure.reason}") from exc
            last = failure
            if attempt + 1 >= policy.attempts:
                break
            wait = failure.retry_after if failure.retry_after is not None else policy.backoff(attempt)
            if wait > policy.max_retry_after_seconds:
                raise ModelError(f"{what}: {failure.reason}; asked to wait {wait:.0f}s") from exc
            await asyncio.sleep(wait)
    reason = last.reason if last else "no attempt made"
    raise ModelError(f"{what}: gave up after {policy.attempts} attempts: {reason}")


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, Any]] = (
    weakref.WeakKeyDictionary()
)


def shared_client(key: Hashable, factory: Callable[[], T]) -> T:
    """One SDK client per endpoint, key and event loop.

    Building a client costs ~0.5 s of CPU (its TLS context), and activities build providers per
    step without closing them: sharing bounds both the cost and the open connections. Clients
    are tied to their loop (their connection pool is), so the loop is part of the key and a
    closed loop's clients go with it.
    """
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(key)
    if client is None:
        client = per_loop[key] = factory()
    return client  # type: ignore[no-any-return]


def redact_request(request: ModelRequest) -> ModelRequest:
    """The gate every provider passes a request through before translating it to its wire format.

    Ids are left alone: they are ours or the provider's, and mangling one would unpair a tool
    call from its result.
    """
    return request.model_copy(
        update={
            "system": redact(request.system),
            "messages": [
                m.model_copy(
                    update={
                        "content": redact(m.content),
                        "tool_calls": [
                            tc.model_copy(update={"arguments": redact_obj(tc.arguments)})
                            for tc in m.tool_calls
                        ],
                    }
                )
                for m in request.messages
            ],
            "tools": [t.model_copy(update={"description": redact(t.description)}) for t in request.tools],
        }
    )


def parse_arguments(raw: Any) -> dict[str, Any]:
    """Tool arguments must be a JSON object; anything else is a malformed answer (retried)."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise MalformedOutput(f"tool arguments are not JSON: {exc.msg}") from None
        if isinstance(value, dict):
            return value
    raise MalformedOutput(f"tool arguments are not a JSON object: {type(raw).__name__}")


def with_wasted(response: ModelResponse, wasted: list[TokenUsage]) -> ModelResponse:
    """Unusable answers that were retried were still paid for: count them with the good one."""
    if not wasted:
        return response
    u = response.usage
    total = TokenUsage(
        input_tokens=u.input_tokens + sum(w.input_tokens for w in wasted),
        output_tokens=u.output_tokens + sum(w.output_tokens for w in wasted),
        cost_usd=round(u.cost_usd + sum(w.cost_usd for w in wasted), 8),
    )
    return response.model_copy(update={"usage": total})


def estimate_tokens(chars: int) -> int:
    """~4 characters a token: good enough for budgets when a response carries no usage."""
    return max(1, chars // 4)


class SdkProvider:
    """What the OpenAI and Anthropic providers share: key and base URL from the SDK's own
    environment variables, our capped retry policy, prices, and one pooled SDK client."""

    vendor = ""
    key_env = ""
    url_env = ""

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_seconds: float = 60.0,
        retry: RetryPolicy | None = None,
        prices: Mapping[str, Price] | None = None,
    ) -> None:
        key = api_key or os.environ.get(self.key_env)
        if not key:
            raise ValueError(f"{self.vendor}:{model} needs an API key: set {self.key_env} (or pass api_key=)")
        self.model = model
        self.name = f"{self.vendor}:{model}"
        self.retry = retry or RetryPolicy()
        self.prices = dict(prices) if prices is not None else price_table()
        if price_for(model, self.prices) is None:
            warn_unpriced(self.name)
        self._client_args: dict[str, Any] = {
            "api_key": key,
            "base_url": base_url or os.environ.get(self.url_env) or None,
            "max_retries": 0,  # our loop retries, with a cap and retry-after
            "timeout": timeout_seconds,
        }
        self._client_key = (self.vendor, key, self._client_args["base_url"], timeout_seconds)
