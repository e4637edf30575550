"""`sleuth worker --health-port`: a probe for orchestrators. Ready while the worker polls and Temporal
answers; 503 (and still alive) while Temporal is away; a clean exit on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sleuth.runtime import free_port
from sleuth.temporal_server import EmbeddedTemporal, port_open


def _wait_status(url: str, want: int, proc: subprocess.Popen[str], seconds: float = 60) -> httpx.Response:
    deadline = time.monotonic() + seconds
    last: httpx.Response | None = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            last = httpx.get(url, timeout=5)
            if last.status_code == want:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    output = proc.stdout.read() if proc.poll() is not None and proc.stdout else ""
    raise AssertionError(f"{url} never answered {want}: last {last and last.text!r} {output}")


def test_worker_health_follows_temporal_and_stops_cleanly(tmp_path: Path) -> None:
    temporal = EmbeddedTemporal(tmp_path / "temporal.db", port=free_port(), ui_port=None)
    temporal.start()
    port = free_port()
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal.address,
        "SLEUTH_TASK_QUEUE": f"tq-health-{port}",
        "DD_API_KEY": "k",
        "DD_APP_KEY": "a",
        "SLEUTH_DATADOG_URL": "http://127.0.0.1:9",
        "SLEUTH_DATA_DIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "sleuth.cli", "worker", "--health-port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = _wait_status(f"http://127.0.0.1:{port}/healthz", 200, proc).json()
        assert ready == {"ready": True, "checks": {"worker": True, "temporal_reachable": True}}
        assert httpx.get(f"http://127.0.0.1:{port}/livez", timeout=5).status_code == 200

        temporal.stop()
        away = _wait_status(f"http://127.0.0.1:{port}/healthz", 503, proc).json()
        assert away["checks"]["temporal_reachable"] is False and away["temporal_error"]
        assert proc.poll() is None, "the worker waits for Temporal to come back rather than exiting"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        assert not port_open("127.0.0.1", port), "the health port outlived the worker"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        temporal.stop()
