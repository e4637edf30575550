"""The requests each service served, read from spans: the span a request entered the service by, and
the calls it made beneath it to other services and to peers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

from sleuth.gateway.records import SpanRecord


class Served(NamedTuple):
    entry: SpanRecord  # the root span, or a child of another service's span
    caller: str  # the service whose span it is a child of; "" at the top or outside the sample
    calls: list[SpanRecord]  # spans of other services and peers beneath the service's own, by start


def served(spans: Sequence[SpanRecord]) -> list[Served]:
    by_id = {s.span_id: s for s in spans}
    children: dict[str, list[SpanRecord]] = defaultdict(list)
    for s in spans:
        children[s.parent_id].append(s)
    out = []
    for s in spans:
        parent = by_id.get(s.parent_id)
        if not s.service or (parent is not None and parent.service == s.service):
            continue
        calls: list[SpanRecord] = []
        stack = [s]
        while stack:
            for k in children.get(stack.pop().span_id, []):
                if k.service == s.service and not k.peer_service:
                    stack.append(k)
                else:
                    calls.append(k)
        calls.sort(key=lambda k: k.start)
        out.append(Served(s, parent.service if parent is not None else "", calls))
    return out
