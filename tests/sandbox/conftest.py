"""Sandbox servers shared by the sandbox tests (one per world, started lazily), and client helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.model_utils import ModelComposed, ModelNormal, ModelSimple, OpenApiModel

from sleuth.sandbox import SandboxServer

API_KEY, APP_KEY = "test-api-key", "test-app-key"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Callable[[str], SandboxServer]]:
    servers: dict[str, SandboxServer] = {}

    def get(world: str) -> SandboxServer:
        if world not in servers:
            servers[world] = SandboxServer(world, api_key=API_KEY, app_key=APP_KEY).start()
        return servers[world]

    yield get
    for srv in servers.values():
        srv.stop()


def client(srv: SandboxServer, **kw: Any) -> ApiClient:
    cfg = Configuration(host=srv.url, api_key={"apiKeyAuth": API_KEY, "appKeyAuth": APP_KEY}, **kw)
    return ApiClient(cfg)


def assert_parsed(obj: Any, path: str = "response") -> None:
    """The client marks what it could not map onto its models `_unparsed` instead of raising: fail on it."""
    if isinstance(obj, OpenApiModel):
        assert not getattr(obj, "_unparsed", False), f"{path} ({type(obj).__name__}) did not deserialize"
        if isinstance(obj, ModelSimple):
            assert_parsed(obj.value, f"{path}.value")
        elif isinstance(obj, ModelNormal | ModelComposed):
            for k, v in obj._data_store.items():
                assert_parsed(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_parsed(v, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            assert_parsed(v, f"{path}.{k}")
