"""`sleuth up` as a user runs it: ready only when Temporal, worker and intake are, and SIGTERM stops
every child (no orphaned Temporal server), keeping the investigation in the db file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sleuth.runtime import free_port
from sleuth.temporal_server import port_open


def test_up_becomes_healthy_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port, temporal_port = free_port(), free_port()
    env = {
        **os.environ,
        "SLEUTH_DATA_DIR": str(tmp_path),
        "SLEUTH_WEBHOOK_TOKEN": "t",
        "DD_API_KEY": "",
        "DD_APP_KEY": "",
        "SLEUTH_DATADOG_URL": "",
        "TEMPORAL_ADDRESS": "",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sleuth.cli",
            "up",
            "--port",
            str(port),
            "--temporal-port",
            str(temporal_port),
            "--ui-port",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
            except httpx.HTTPError:
                status = None
            if status == 200:
                break
            time.sleep(0.3)
        assert status == 200, (
            proc.stdout.read() if proc.poll() is not None and proc.stdout else "never healthy"
        )
        assert port_open("127.0.0.1", temporal_port)
        assert (tmp_path / "temporal.db").exists()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        time.sleep(0.5)
        assert not port_open("127.0.0.1", temporal_port), "the embedded Temporal server outlived sleuth up"
        assert not port_open("127.0.0.1", port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_sigterm_while_still_starting_stops_cleanly(tmp_path: Path) -> None:
    """A stop that arrives while the embedded Temporal server is still coming up must not kill the
    process mid-start (which would orphan that server): it stops the stack once it is up."""
    port, temporal_port = free_port(), free_port()
    env = {**os.environ, "SLEUTH_DATA_DIR": str(tmp_path), "DD_API_KEY": "", "DD_APP_KEY": ""}
    env |= {
        "SLEUTH_DATADOG_URL": "",
        "TEMPORAL_ADDRESS": "",
        "SLEUTH_WEBHOOK_TOKEN": "t",
        "PYTHONUNBUFFERED": "1",
    }
    args = ["up", "--port", str(port), "--temporal-port", str(temporal_port), "--ui-port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sleuth.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if proc.stdout.readline().startswith("starting embedded Temporal"):
                break
        assert proc.poll() is None, "sleuth up exited before it started Temporal"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        time.sleep(0.5)
        assert not port_open("127.0.0.1", temporal_port), "the embedded Temporal server outlived sleuth up"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
