"""Requests that end right after a call: whose answer made the caller give up.

A request normally makes a typical number of downstream calls. When a callee starts answering
something its caller cannot use (an exception, a wrong value), the caller's requests stop right after
that call, well short of their usual calls: the last call before the cut is the suspect, even though
no span is flagged as an error. Measured per caller→callee edge as the share of the caller's requests
that ended early right after calling that callee, before the alert and during it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

from sleuth.agents import stats
from sleuth.gateway.records import SpanRecord
from sleuth.models.investigation import Evidence
from sleuth.models.telemetry import EdgeStats, SpanSummary

SHORT = 0.5  # a request making fewer than half its operation's usual calls was cut short
MIN_TYPICAL_CALLS = 2  # an operation that makes one call cannot be cut short in a visible way
# The rise in that share which starts to count, and which is unmistakable: requests end early now and
# then anyway (a cache hit, a validation error), a quarter more ending after one callee does not.
ONSET = 0.25
FULL = 0.65


def ended_after(
    baseline: Sequence[SpanRecord], window: Sequence[SpanRecord]
) -> dict[tuple[str, str], tuple[float, float, int]]:
    """(caller, callee) → (baseline share, window share, the caller's requests in the window): how
    many of the caller's requests were cut short right after calling the callee. Typical call counts
    per operation come from the baseline."""
    base = _requests(baseline)
    typical: dict[tuple[str, str], tuple[float, float]] = {}
    by_op: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for service, op, calls in base:
        by_op[(service, op)].append((len(calls), len(set(calls))))
    for key, counts in by_op.items():
        typical[key] = (
            stats.median([float(n) for n, _ in counts]),
            stats.median([float(d) for _, d in counts]),
        )
    b_share, _ = _shares(base, typical)
    w_share, served = _shares(_requests(window), typical)
    return {k: (b_share.get(k, 0.0), w_share.get(k, 0.0), served[k[0]]) for k in set(b_share) | set(w_share)}


def _shares(
    requests: list[tuple[str, str, list[str]]], typical: dict[tuple[str, str], tuple[float, float]]
) -> tuple[dict[tuple[str, str], float], Counter[str]]:
    served: Counter[str] = Counter()
    cut: Counter[tuple[str, str]] = Counter()
    for service, op, calls in requests:
        usual = typical.get((service, op))
        if usual is None or usual[0] < MIN_TYPICAL_CALLS:
            continue
        served[service] += 1
        # Short of its usual calls, or of its usual callees: retrying the call that fails does not
        # make a request any less cut short.
        if calls and (len(calls) < SHORT * usual[0] or len(set(calls)) < SHORT * usual[1]):
            cut[(service, calls[-1])] += 1
    return {k: n / served[k[0]] for k, n in cut.items() if served[k[0]]}, served


def _requests(spans: Sequence[SpanRecord]) -> list[tuple[str, str, list[str]]]:
    """(service, operation, callees in call order) for each request a service served: an entry span
    (root, or child of another service), with the calls made anywhere beneath it inside the service."""
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
        out.append((s.service, s.operation or s.resource, [k.peer_service or k.service for k in calls]))
    return out


def cut_strength(e: EdgeStats) -> float:
    """How clearly the caller's requests now end right after this call (0: no more than before)."""
    # The share's lower confidence bound: a caller that served three requests proves little.
    rise = _lower(e.window_ended_after, e.caller_window_requests) - e.baseline_ended_after
    return round(max(0.0, min(1.0, (rise - ONSET) / (FULL - ONSET))), 3)


def cut_short_evidence(summary: SpanSummary, service: str) -> Evidence | None:
    """Evidence that callers give up right after `service` answers (None: no caller to judge by)."""
    inbound = [e for e in summary.edges if e.callee == service and e.caller != service]
    if not inbound:
        return None
    e = max(inbound, key=cut_strength)
    strength = cut_strength(e)
    return Evidence(
        source="spans",
        query=f"spans {summary.query} callers of {service}",
        observation=(
            f"{e.window_ended_after:.0%} of {e.caller}'s {e.caller_window_requests} sampled requests now end "
            f"right after calling {service}, "
            f"short of their usual calls (was {e.baseline_ended_after:.0%})"
        ),
        signal="ends_callers",
        strength=strength,
        supports=strength >= 0.3,
        baseline=e.baseline_ended_after,
        current=e.window_ended_after,
    )


def _lower(share: float, n: int, z: float = 1.96) -> float:
    """Wilson score lower bound of a proportion."""
    if n <= 0:
        return 0.0
    centre = share + z * z / (2 * n)
    margin = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / (1 + z * z / n))
