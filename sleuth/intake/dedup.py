"""Identical deliveries in a storm cost Temporal nothing after the first.

A delivery is identified by its investigation id, $ID (or the body digest standing in for it) and
transition. While one is being handed to Temporal, identical ones wait for that same attempt and
share its outcome, failure included (so a 503 is never turned into a 202). Once Temporal durably
recorded it (started, attached, delivered), identical ones are answered from memory for a while:
the workflow would drop them as already seen anyway. Outcomes that recorded nothing on the
investigation (rate_limited, ignored, completed) are not remembered: state may change.

This is per process and only an optimisation: correctness rests on Temporal (workflow-id
uniqueness, the rate-limit gate, the workflow's delivery-id dedup), so replicas need not share it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from sleuth.intake.delivery import Accepted

Key = tuple[str, str, str]
RECORDED = {"started", "attached", "accepted", "delivered"}


class Coalescer:
    def __init__(self, ttl_seconds: float = 600.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._inflight: dict[Key, asyncio.Task[Accepted]] = {}
        self._recent: OrderedDict[Key, tuple[float, Accepted]] = OrderedDict()
        self.stats = {"sent": 0, "joined": 0, "remembered": 0}

    async def run(self, key: Key, attempt: Callable[[], Awaitable[Accepted]]) -> Accepted:
        hit = self._recent.get(key)
        if hit is not None and hit[0] > time.monotonic():
            self.stats["remembered"] += 1
            return _duplicate(hit[1], "answered from memory")
        task = self._inflight.get(key)
        if task is not None:
            self.stats["joined"] += 1
            # shield: one impatient caller must not cancel the attempt the others wait for
            return _duplicate(await asyncio.shield(task), "joined the attempt in flight")
        self.stats["sent"] += 1
        task = asyncio.ensure_future(attempt())
        self._inflight[key] = task
        task.add_done_callback(lambda t: self._settle(key, t))
        return await asyncio.shield(task)

    def _settle(self, key: Key, task: asyncio.Task[Accepted]) -> None:
        self._inflight.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return
        result = task.result()
        if result.status in RECORDED and self.ttl > 0:
            self._recent[key] = (time.monotonic() + self.ttl, result)
            self._recent.move_to_end(key)
            while len(self._recent) > self.max_entries:
                self._recent.popitem(last=False)


def _duplicate(first: Accepted, how: str) -> Accepted:
    status = "attached" if first.status == "started" else first.status
    return first.model_copy(
        update={"status": status, "detail": f"{first.detail} (duplicate delivery, {how})"}
    )
