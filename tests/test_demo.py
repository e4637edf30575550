"""The README's demo, end to end: it prints a report naming the sandbox incident's root-cause service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sleuth.runtime import DEFAULT_WORLD, free_port
from sleuth.sandbox import load_truth


def test_demo_prints_the_report_with_the_root_cause_and_temporal_commands(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SLEUTH_DATA_DIR": str(tmp_path),
        "DD_API_KEY": "",
        "DD_APP_KEY": "",
        "SLEUTH_DATADOG_URL": "",
        "TEMPORAL_ADDRESS": "",
    }
    args = ["demo", "--port", str(free_port()), "--temporal-port", str(free_port()), "--ui-port", "0"]
    done = subprocess.run(
        [sys.executable, "-m", "sleuth.cli", *args], env=env, capture_output=True, text=True, timeout=180
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    truth = load_truth(DEFAULT_WORLD)
    assert f"Root cause: {truth.root_cause_service}" in out, out[-3000:]
    assert "[phase] testing" in out and "[phase] done" in out
    assert "temporal workflow query --workflow-id" in out and "--type status" in out
    assert "Posted to Datadog: event" in out
