"""Fixtures for the model-provider tests: one loopback wire stub, providers pointed at it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sleuth.agents.providers.anthropic_provider import AnthropicProvider  # noqa: E402
from sleuth.agents.providers.base import ModelProvider  # noqa: E402
from sleuth.agents.providers.openai_provider import OpenAIProvider  # noqa: E402
from sleuth.agents.providers.transport import RetryPolicy  # noqa: E402
from tests.fixtures.wire_stubs import WireStub  # noqa: E402

FAST_RETRY = RetryPolicy(
    attempts=3, backoff_seconds=0.01, max_backoff_seconds=0.05, max_retry_after_seconds=5
)
PROVIDERS = ("openai", "anthropic")


@pytest.fixture(scope="session")
def _stub_server() -> Iterator[WireStub]:
    stub = WireStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def stub(_stub_server: WireStub) -> Iterator[WireStub]:
    _stub_server.reset()
    yield _stub_server
    _stub_server.reset()


MakeProvider = Callable[..., ModelProvider]


def make_provider(stub: WireStub, kind: str, model: str | None = None, **kw: Any) -> ModelProvider:
    kw.setdefault("retry", FAST_RETRY)
    kw.setdefault("timeout_seconds", 5.0)
    if kind == "openai":
        return OpenAIProvider(
            model or "gpt-4o-mini", api_key="sk-test-key", base_url=stub.openai_base_url, **kw
        )
    return AnthropicProvider(
        model or "claude-haiku-4-5", api_key="sk-ant-test-key", base_url=stub.anthropic_base_url, **kw
    )


@pytest.fixture(params=PROVIDERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def provider(stub: WireStub, kind: str) -> ModelProvider:
    return make_provider(stub, kind)
