"""What every request handler shares: the world, the clock, keys, recordings and injected faults."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sleuth.sandbox.faults import FaultInjector
from sleuth.sandbox.protocol import EventRecord, TelemetryWorld


@dataclass
class Recorded:
    """JSON bodies the sandbox accepted on write endpoints, in arrival order."""

    events: list[dict[str, Any]] = field(default_factory=list)
    notebooks: list[dict[str, Any]] = field(default_factory=list)


class ApiContext:
    def __init__(self, world: TelemetryWorld, *, api_key: str, app_key: str, anchor: float) -> None:
        self.world = world
        self.api_key = api_key
        self.app_key = app_key
        self.anchor = anchor
        self.started = time.time()
        self.recorded = Recorded()
        self.posted: list[EventRecord] = []  # posted events show up in the event stream, as in Datadog
        self.requests: list[tuple[str, str, int]] = []
        self.faults = FaultInjector()
        self.removed: set[str] = set()
        self.base_url = ""
        self.lock = threading.Lock()

    def now(self) -> float:
        """The world's clock: the anchor when the server started, moving at wall-clock speed."""
        return self.anchor + (time.time() - self.started)

    def advance(self, seconds: float) -> None:
        """Move the world's clock ahead, as when an investigation starts `seconds` after its alert."""
        self.started -= seconds

    def is_removed(self, metric: str) -> bool:
        return metric in self.removed
