"""SandboxServer: a world served over Datadog's HTTP API on loopback, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from sleuth.sandbox.api.app import create_app
from sleuth.sandbox.api.context import ApiContext, Recorded
from sleuth.sandbox.catalog import load_world
from sleuth.sandbox.faults import FaultInjector
from sleuth.sandbox.monitor_eval import monitor_value
from sleuth.sandbox.protocol import TelemetryWorld
from sleuth.sandbox.sim import SimulatedWorld
from sleuth.sandbox.sim.noise import key
from sleuth.sandbox.world import World


class SandboxServer:
    """Serve a packaged world (by name), a world.json (by path), a `World`, or any `TelemetryWorld`."""

    def __init__(
        self,
        world: str | Path | World | TelemetryWorld,
        *,
        api_key: str = "sandbox-api-key",
        app_key: str = "sandbox-app-key",
        port: int = 0,
        anchor: datetime | None = None,
    ) -> None:
        anchor = (anchor or datetime.now(UTC)).astimezone(UTC)
        if isinstance(world, str | Path):
            world = load_world(world)
        if isinstance(world, World):
            world = SimulatedWorld(world, anchor)
        self.world: TelemetryWorld = world
        self.anchor = anchor
        self.ctx = ApiContext(world, api_key=api_key, app_key=app_key, anchor=anchor.timestamp())
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._deliveries = 0

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> SandboxServer:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", self._port))
        self._socket = sock
        self.ctx.base_url = self.url
        config = uvicorn.Config(
            create_app(self.ctx),
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_keep_alive=120,
            http="h11",
        )
        self._server = uvicorn.Server(config)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.run(sockets=[sock]), name="sleuth-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests and the demo use ---------------------------------------------------------
    @property
    def port(self) -> int:
        if self._socket is None:
            return self._port
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def recorded(self) -> Recorded:
        return self.ctx.recorded

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        with self.ctx.lock:
            return list(self.ctx.requests)

    @property
    def faults(self) -> FaultInjector:
        return self.ctx.faults

    def remove_metric(self, name: str) -> None:
        """Make a metric vanish (no longer listed, empty series), as when an integration is removed."""
        self.ctx.removed.add(name)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.ctx.now(), tz=UTC)

    def alert_payload(self, transition: str = "Triggered") -> dict[str, Any]:
        """The webhook body Datadog would send for this world's monitor firing at the anchor (design.md template)."""
        m = self.world.monitor()
        self._deliveries += 1
        fired_ms = int(self.anchor.timestamp() * 1000)
        cycle = key(self.world.name, m.id, fired_ms, "cycle") % 10**19
        delivery = key(self.world.name, m.id, fired_ms, self._deliveries, time.time_ns()) % 10**19
        scope = ",".join(t for t in _query_scope(m.query))
        alert_type = "success" if transition.lower() == "recovered" else "error"
        title = f"[{transition}] {m.name}"
        threshold = m.thresholds.get("critical")
        return {
            "id": str(delivery),
            "alert_cycle_key": str(cycle),
            "monitor_id": str(m.id),
            "transition": transition,
            "title": title,
            "message": m.message,
            "query": m.query,
            "scope": scope,
            "status": self._status(m.query, threshold),
            "alert_type": alert_type,
            "priority": f"P{m.priority}" if m.priority else "normal",
            "tags": ",".join(m.tags),
            "date": str(fired_ms),
            "last_updated": str(fired_ms),
            "link": f"https://app.datadoghq.com/monitors/{m.id}?from_ts={fired_ms - 3_600_000}&to_ts={fired_ms}",
            "aggreg_key": f"{key(m.id, 'aggreg'):016x}{key(m.id, 'aggreg', 2):016x}",
            "org": {"id": "1", "name": str(getattr(self.world, "org", self.world.name))},
        }

    def _status(self, query: str, threshold: float | None) -> str:
        """$ALERT_STATUS: what the monitor saw when it fired."""
        expr = query.split(":", 1)[-1].rsplit(" ", 2)[0]
        try:
            value = monitor_value(self.world, query, self.anchor.timestamp())
        except Exception:  # the status line is cosmetic: a world whose query we cannot evaluate still alerts
            value = None
        if value is None:
            return f"{expr} crossed {threshold}"
        return f"{expr} was {value:.3g} (threshold {threshold}) over the evaluation window"


def _query_scope(query: str) -> list[str]:
    """The tags a simple monitor's query is scoped to: what $ALERT_SCOPE would carry."""
    if "{" not in query:
        return []
    body = query.split("{", 1)[1].split("}", 1)[0]
    return [p.strip() for p in body.split(",") if ":" in p and not p.strip().startswith("!")]
