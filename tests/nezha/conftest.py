"""Nezha tests read the real dataset from ../shared (or $SLEUTH_NEZHA_DIR) and skip when it is absent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sleuth.sandbox.nezha import ENV_VAR, available, dataset_dir

# A CPU case whose alert crosses its threshold, and which has the dataset's only logs of 2022-08-22.
CROSSING_CASE = "nezha-hipster-2022-08-22-11"
ANCHOR = datetime(2026, 3, 2, 9, 30, 12, 345000, tzinfo=UTC)
API_KEY, APP_KEY = "nezha-api-key", "nezha-app-key"


@pytest.fixture(scope="session")
def nezha_root() -> Path:
    root = dataset_dir()
    if not available(root):
        pytest.skip(f"Nezha OnlineBoutique dataset not found at {root}: set {ENV_VAR} to run these tests")
    return root


@pytest.fixture(scope="session")
def nezha_srv(nezha_root: Path) -> Iterator[object]:
    from sleuth.sandbox.nezha import nezha_server

    srv = nezha_server(CROSSING_CASE, ANCHOR, root=nezha_root, api_key=API_KEY, app_key=APP_KEY)
    srv.start()
    yield srv
    srv.stop()
