"""Who calls whom: the call graph as the spans drew it, and what lies beneath a service in it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol


class Call(Protocol):
    """An observed caller → callee pair (an Edge, or an EdgeStats with its numbers)."""

    @property
    def caller(self) -> str: ...

    @property
    def callee(self) -> str: ...


def call_map(edges: Iterable[Call]) -> dict[str, set[str]]:
    """Caller → the services it calls, from the observed edges."""
    callees: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        callees[e.caller].add(e.callee)
    return dict(callees)


def reachable(service: str, callees: dict[str, set[str]]) -> set[str]:
    """Every service `service` calls, directly or not (itself excluded)."""
    seen: set[str] = set()
    stack = list(callees.get(service, ()))
    while stack:
        s = stack.pop()
        if s in seen or s == service:
            continue
        seen.add(s)
        stack.extend(callees.get(s, ()))
    return seen
