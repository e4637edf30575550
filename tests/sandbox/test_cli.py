"""`python -m sleuth.sandbox`: lists worlds, serves one, prints where and what fired."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from sleuth.sandbox import list_worlds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_list() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sleuth.sandbox", "--list"], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == list_worlds()


def test_serve_until_interrupted() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sleuth.sandbox",
            "--world",
            "gaming-network",
            "--port",
            str(port),
            "--api-key",
            "k",
            "--app-key",
            "a",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.rstrip("\n") == "}":
                break
        text = "".join(lines)
        assert f"http://127.0.0.1:{port}" in text
        payload = json.loads(text[text.index("{") :])
        assert payload["monitor_id"] == "88120944" and payload["transition"] == "Triggered"
        r = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/monitor/88120944",
            headers={"DD-API-KEY": "k", "DD-APPLICATION-KEY": "a"},
        )
        assert r.status_code == 200 and r.json()["overall_state"] == "Alert"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
    assert proc.returncode == 0
