"""Recorded histories of completed investigations must replay against today's workflow code:
a change that would break running investigations fails here. Re-record deliberately with
`python -m tests.record_histories` (and a workflow.patched() guard for live runs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from sleuth.workflows import InvestigateAlert

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_kept() -> None:
    assert len(HISTORIES) >= 3, "record golden histories with: python -m tests.record_histories"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_deterministically(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[InvestigateAlert], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
