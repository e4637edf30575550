"""Loopback stand-ins for what Sleuth sends to Datadog about itself: an LLM Observability intake
(`DD_LLMOBS_OVERRIDE_ORIGIN`) and a DogStatsD agent (UDP)."""

from __future__ import annotations

import gzip
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LLMObsIntake:
    """Records every POST. `status` is what it answers (500 plays a broken intake)."""

    def __init__(self, status: int = 202) -> None:
        self.status = status
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = None  # msgpack APM traces: recorded by path only
                with outer._lock:
                    outer.requests.append((self.path, dict(self.headers), body))
                status = outer.status if self.path.startswith("/api/") else 200
                payload = b"{}" if self.path != "/info" else json.dumps({"endpoints": []}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = do_GET = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.closed = False

    def __enter__(self) -> LLMObsIntake:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._server.shutdown()
            self._server.server_close()

    def bodies(self, path: str) -> list[Any]:
        with self._lock:
            return [b for p, _, b in self.requests if p == path]

    def spans(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for body in self.bodies("/api/v2/llmobs"):
            for event in body if isinstance(body, list) else [body]:
                out.extend(event.get("spans", []))
        return out

    def evaluations(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for body in self.bodies("/api/intake/llm-obs/v2/eval-metric"):
            out.extend(body["data"]["attributes"]["metrics"])
        return out

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.1)
        return bool(predicate())


class StatsdSink:
    """A DogStatsD agent on 127.0.0.1: keeps every line it receives."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65535)
            except (TimeoutError, OSError):
                continue
            self.lines.extend(data.decode().splitlines())

    def __enter__(self) -> StatsdSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def wait(self, count: int, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.lines) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(self.lines) >= count

    def names(self) -> set[str]:
        return {line.split(":", 1)[0] for line in self.lines}


def llmobs_env(origin: str, statsd_port: int | None = None, service: str = "sleuth-test") -> dict[str, str]:
    """Mode A of the platform notes: agentless LLMObs with its origin overridden to loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "_DD_"))}
    env.update(
        DD_LLMOBS_ENABLED="1",
        DD_LLMOBS_AGENTLESS_ENABLED="true",
        DD_LLMOBS_OVERRIDE_ORIGIN=origin,
        DD_API_KEY="dummy",
        DD_SITE="datadoghq.com",
        DD_SERVICE=service,
        DD_ENV="test",
        DD_TRACE_AGENT_URL=origin,
        _DD_LLMOBS_WRITER_INTERVAL="0.2",
        _DD_LLMOBS_WRITER_TIMEOUT="1",
        DD_INSTRUMENTATION_TELEMETRY_ENABLED="false",
        DD_REMOTE_CONFIGURATION_ENABLED="false",
        DD_TRACE_STARTUP_LOGS="false",
    )
    if statsd_port is not None:
        env["DD_DOGSTATSD_URL"] = f"udp://127.0.0.1:{statsd_port}"
    return env
