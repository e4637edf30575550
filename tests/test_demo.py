"""The README's demo, end to end: it prints a report naming the sandbox incident's root-cause service."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sleuth.runtime import DEFAULT_WORLD, free_port
from sleuth.sandbox import load_truth


def run_demo(tmp_path: Path) -> str:
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
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_demo_prints_the_report_with_the_root_cause_and_temporal_commands(tmp_path: Path) -> None:
    out = run_demo(tmp_path)
    truth = load_truth(DEFAULT_WORLD)
    assert f"Root cause: {truth.root_cause_service}" in out, out[-3000:]
    assert "[phase] testing" in out and "[phase] done" in out
    assert "temporal workflow query --workflow-id" in out and "--type status" in out
    assert "Posted to Datadog: event" in out


def test_a_second_demo_on_the_same_machine_runs_a_new_investigation(tmp_path: Path) -> None:
    """The embedded Temporal persists, and with it the per-monitor rate limit: a second demo must not
    be answered with the first one's finished investigation."""
    first = re.search(r"intake answered 202 \(started\): investigation (\S+)", run_demo(tmp_path))
    again = run_demo(tmp_path)
    second = re.search(r"intake answered 202 \(started\): investigation (\S+)", again)
    assert first is not None and second is not None, again[-3000:]
    assert first.group(1) != second.group(1)
    assert "[phase] testing" in again
