"""A per-investigation cap on Datadog API calls, shared by the threads of one activity."""

from __future__ import annotations

import threading


class CallBudget:
    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self.used = 0
        self.errors = 0
        self.cancelled = False
        self._lock = threading.Lock()

    def cancel(self) -> None:
        """The activity was cancelled: its worker thread stops at its next Datadog call."""
        self.cancelled = True

    def take(self) -> bool:
        with self._lock:
            if self.cancelled or self.used >= self.limit:
                return False
            self.used += 1
            return True

    def record_error(self) -> None:
        with self._lock:
            self.errors += 1

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)
