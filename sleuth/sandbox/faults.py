"""Failures injected on purpose, so gateway code can be tested against rate limits and outages."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["429", "500", "503", "403", "slow", "malformed"]
KINDS: frozenset[str] = frozenset({"429", "500", "503", "403", "slow", "malformed"})


@dataclass
class FaultRule:
    path_prefix: str
    kind: FaultKind
    remaining: int
    reset_seconds: int = 1
    delay_seconds: float = 0.0


class FaultInjector:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(
        self,
        path_prefix: str,
        kind: FaultKind,
        times: int = 1,
        reset_seconds: int = 1,
        delay_seconds: float = 0.0,
    ) -> None:
        """The next `times` requests whose path starts with `path_prefix` get this fault."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(KINDS)}")
        if kind == "slow" and delay_seconds <= 0:
            delay_seconds = 1.0
        with self._lock:
            self._rules.append(FaultRule(path_prefix, kind, times, reset_seconds, delay_seconds))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.remaining > 0 and path.startswith(rule.path_prefix):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                    return FaultRule(rule.path_prefix, rule.kind, 0, rule.reset_seconds, rule.delay_seconds)
        return None

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(r.remaining for r in self._rules)
