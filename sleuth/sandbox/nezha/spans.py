"""Trace CSV rows → Datadog spans, with each span's role decided from the trace's structure, and the
stitching of fault-free baseline minutes in front of an incident's own spans.

Roles (the data has only pod, operation name and parent id):
- `grpc.server`: a span serving a request — a root span, or one whose parent runs in another pod
  (or whose parent was not kept);
- `grpc.client`: a span calling another pod — one of its children runs in another pod; its
  `peer.service` is that child's service;
- `internal`: everything else (in-process work, local database calls).
`resource_name` is the CSV's operation name, durations are exact (end − start, ns), and every span
has status ok: the data carries no error flag, and none is invented.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sleuth.sandbox.nezha.dataset import RawSpan, service_of
from sleuth.sandbox.protocol import SpanRecord

MINUTE_NS = 60_000_000_000


@dataclass(frozen=True, slots=True)
class Shaped:
    raw: RawSpan
    service: str
    operation: str  # grpc.server | grpc.client | internal
    peer: str  # the callee's service, for client spans
    root: bool


def shape(spans: Sequence[RawSpan]) -> list[Shaped]:
    """Decide each span's role from parent/child links; duplicates (files overlap in time) are dropped."""
    unique: dict[tuple[str, str], RawSpan] = {}
    for s in spans:
        unique.setdefault((s.trace_id, s.span_id), s)
    children: dict[tuple[str, str], list[RawSpan]] = defaultdict(list)
    for s in unique.values():
        children[(s.trace_id, s.parent_id)].append(s)
    out = []
    for s in unique.values():
        root = s.parent_id == "root"
        parent = unique.get((s.trace_id, s.parent_id))
        elsewhere = [service_of(k.pod) for k in children.get((s.trace_id, s.span_id), []) if k.pod != s.pod]
        if root or parent is None or parent.pod != s.pod:
            op, peer = "grpc.server", ""
        elif elsewhere:
            op, peer = "grpc.client", Counter(elsewhere).most_common(1)[0][0]
        else:
            op, peer = "internal", ""
        out.append(Shaped(s, service_of(s.pod), op, peer, root))
    out.sort(key=lambda x: x.raw.start_ns)
    return out


class SpanFactory:
    """Builds SpanRecords for one case: tags per service, ids kept or freshly derived per copied minute.

    A copied minute's ids are the originals XOR a per-copy salt: fresh for every copy, deterministic,
    and parent/child links survive because parents and children get the same salt."""

    def __init__(self, env: str, tags: dict[str, list[str]], hosts: dict[str, str]) -> None:
        self.env, self.tags, self.hosts = env, tags, hosts

    def record(self, s: Shaped, shift_s: float, salt: int | None = None) -> SpanRecord:
        raw = s.raw
        trace_id, span_id, parent = raw.trace_id, raw.span_id, raw.parent_id
        if salt is not None:
            trace_id = _salted(trace_id, salt, 32)
            span_id = _salted(span_id, salt & 0xFFFFFFFFFFFFFFFF, 16)
            if not s.root:
                parent = _salted(parent, salt & 0xFFFFFFFFFFFFFFFF, 16)
        custom: dict[str, object] = {
            "duration": raw.end_ns - raw.start_ns,
            "status": "ok",
            "env": self.env,
            "span": _KIND[s.operation],
        }
        if s.peer:
            custom["peer"] = {"service": s.peer}
        return SpanRecord(
            id=f"AAAAAY{span_id}",
            trace_id=trace_id,
            span_id=span_id,
            parent_id="0" if s.root else parent,
            service=s.service,
            operation_name=s.operation,
            resource_name=raw.name,
            type="web" if s.root else _TYPE[s.operation],
            start=raw.start_ns / 1e9 + shift_s,
            end=raw.end_ns / 1e9 + shift_s,
            env=self.env,
            host=self.hosts.get(s.service, ""),
            tags=self.tags.get(s.service, []),
            custom=custom,
        )


_KIND = {
    "grpc.server": {"kind": "server"},
    "grpc.client": {"kind": "client"},
    "internal": {"kind": "internal"},
}
_TYPE = {"grpc.server": "rpc", "grpc.client": "rpc", "internal": "custom"}


def _salted(hex_id: str, salt: int, width: int) -> str:
    try:
        return f"{int(hex_id, 16) ^ salt:0{width}x}"
    except ValueError:  # not hex: derive instead
        return hashlib.blake2b(f"{salt}/{hex_id}".encode(), digest_size=width // 2).hexdigest()


def stitch(
    real: Sequence[Shaped],
    pool: Sequence[Sequence[Shaped]],
    fill_end_ns: int,
    minutes: int,
    factory: SpanFactory,
    shift_s: float,
) -> list[SpanRecord]:
    """The incident's own spans, preceded by `minutes` copies of the baseline pool's minutes laid end to
    end, the last copy ending at `fill_end_ns` (original time)."""
    out: list[SpanRecord] = []
    if pool:
        for k in range(minutes):
            minute = pool[k % len(pool)]
            if not minute:
                continue
            slot = fill_end_ns - (k + 1) * MINUTE_NS
            salt = int.from_bytes(hashlib.blake2b(f"copy/{k}".encode(), digest_size=16).digest(), "big")
            offset_ns = slot - minute[0].raw.start_ns
            for s in minute:
                if s.raw.start_ns + offset_ns >= slot + MINUTE_NS:
                    break
                out.append(factory.record(s, shift_s + offset_ns / 1e9, salt))
    out.extend(factory.record(s, shift_s) for s in real)
    out.sort(key=lambda r: r.start)
    return out


class SpanBook:
    def __init__(self, records: list[SpanRecord]) -> None:
        self.records = records
        self.starts = [r.start for r in records]

    def window(self, start: float, end: float) -> list[SpanRecord]:
        return self.records[bisect.bisect_left(self.starts, start) : bisect.bisect_left(self.starts, end)]
