"""Requests that give up on a callee's answer, measured per caller→callee edge.

A request normally makes its operation's usual calls. When a callee starts answering something its
caller cannot use (an exception, a wrong value), the caller's requests stop right after that call,
short of their usual calls or of a call they always make next, or they call it again. Measured per
caller→callee edge as the share of the caller's requests that gave up on that callee, before the
alert and during it, and judged by how far the window's share stands above the baseline's.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sleuth.agents import stats
from sleuth.agents.served import served
from sleuth.gateway.records import SpanRecord
from sleuth.models.telemetry import EdgeStats

SHORT = 0.5  # a request making fewer than half its operation's usual calls was cut short
MIN_TYPICAL_CALLS = 2  # an operation that makes one call cannot be cut short in a visible way
ALWAYS = 0.95  # a call made in this share of an operation's requests is one it always makes
MIN_HABIT = 20  # baseline requests of an operation before anything it does counts as "always"
# How far above the baseline's share the window's must be, in standard errors, to start to count and
# to be unmistakable; over a system's many edges chance alone reaches two now and then.
Z_ONSET = 2.0
Z_FULL = 4.0
DISPERSION = 0.5  # extra spread of a share the baseline already has, as a fraction of it
MATERIAL = 0.1  # fewer than one request in ten giving up is not what an alert is about
# A request that calls again a callee it calls once rejected the first answer: no other reading of it,
# unlike a request that merely ended after a call (its own code may have failed next). So fewer do.
MATERIAL_RETRIED = 0.02
MIN_PATTERN = 8  # requests giving up before their count alone is a pattern
# A request of one caller ending right after a call may be its own code failing next; requests of
# several callers ending right after the same callee have only that callee in common. So, pooled over
# its callers, fewer do (a wrong answer in one request in ten makes a few in a hundred give up).
MATERIAL_SHARED = 0.02
MIN_SHARING = 2  # callers giving up on it before their requests are pooled


@dataclass(frozen=True)
class _Usual:
    """What an operation's requests did before the alert."""

    calls: float  # median calls per request
    callees: float  # median distinct callees per request
    seen: frozenset[str]  # callees it calls at all
    once: frozenset[str]  # callees it calls at most once in a request (almost always)
    after: dict[str, frozenset[str]]  # callee → callees it (almost) always calls later in a request
    last: str | None  # the callee it (almost) always calls last, if any


class Shares(NamedTuple):
    """Of a caller's requests that would call a callee, the share that gave up on its answer; of those
    that did call it, the share that called it again."""

    baseline: float
    baseline_requests: int
    window: float
    window_requests: int
    baseline_retried: float = 0.0
    window_retried: float = 0.0
    baseline_calling: int = 0
    window_calling: int = 0


class GiveUps(NamedTuple):
    """What the baseline's and the window's requests show: per (caller, callee) edge, the shares that
    gave up on the callee's answer; per (service, callee), the callers whose requests to the service
    always end with a call to that callee."""

    shares: dict[tuple[str, str], Shares]
    last: dict[tuple[str, str], tuple[str, ...]]


def give_ups(baseline: Sequence[SpanRecord], window: Sequence[SpanRecord]) -> GiveUps:
    """Both readings from one pass over the baseline's requests (tens of thousands of spans on a
    busy system): what is usual per kind of request comes from the baseline."""
    base = _requests(baseline)
    usual = _habits(base)
    return GiveUps(_ended_after(base, _requests(window), usual), _last_calls(usual))


def _ended_after(
    base: list[_Request], window: list[_Request], usual: dict[tuple[str, tuple[str, str]], _Usual]
) -> dict[tuple[str, str], Shares]:
    """(caller, callee) → how many of the caller's requests that would call the callee gave up on its
    answer, cut short right after calling it or calling it again, before the alert and during it. Of a
    caller's kinds of request, the one that gives up on the callee most clearly speaks for the edge
    (giving up after a call it makes last shows in no request). Every edge seen in both periods has its
    counts, none giving up included: pooled over a callee's callers, they are part of the whole."""
    b_gave, b_again, b_served, b_called = _gave_up(base, usual)
    w_gave, w_again, w_served, w_called = _gave_up(window, usual)
    out: dict[tuple[str, str], Shares] = {}
    for key in sorted(set(b_served) & set(w_served)):
        service, _, callee = key
        sh = Shares(
            _share(b_gave[key], b_served[key]),
            b_served[key],
            _share(w_gave[key], w_served[key]),
            w_served[key],
            _share(b_again[key], b_called[key]),
            _share(w_again[key], w_called[key]),
            b_called[key],
            w_called[key],
        )
        held = out.get((service, callee))
        if held is None or (gave_up_strength(sh), sh.window) > (gave_up_strength(held), held.window):
            out[(service, callee)] = sh
    return out


def _last_calls(usual: dict[tuple[str, tuple[str, str]], _Usual]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(service, callee) → the callers whose requests to `service` always end with a call to `callee`:
    what `service` answers them is what `callee` answered it, or made of it."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (service, (_, via)), u in usual.items():
        if u.last is not None and via:
            out[(service, u.last)].add(via)
    return {key: tuple(sorted(callers)) for key, callers in out.items()}


def _habits(requests: list[_Request]) -> dict[tuple[str, tuple[str, str]], _Usual]:
    by_kind: dict[tuple[str, tuple[str, str]], list[list[str]]] = defaultdict(list)
    for r in requests:
        by_kind[(r.service, r.kind)].append(r.calls)
    return {key: _usual(calls) for key, calls in by_kind.items()}


def _share(n: int, of: int) -> float:
    return n / of if of else 0.0


def _usual(requests: list[list[str]]) -> _Usual:
    n = len(requests)
    seen: Counter[str] = Counter()
    ended: Counter[str] = Counter(calls[-1] for calls in requests if calls)
    repeated: Counter[str] = Counter()
    later: dict[str, Counter[str]] = defaultdict(Counter)
    for calls in requests:
        first = {c: calls.index(c) for c in set(calls)}
        seen.update(first.keys())  # a dict would add its values
        repeated.update(c for c in first if calls.count(c) > 1)
        for c, i in first.items():
            later[c].update(d for d, j in first.items() if j > i)
    # Only an operation seen often enough has an "always": five requests make no habit.
    always = {c for c, k in seen.items() if n >= MIN_HABIT and k >= ALWAYS * n}
    return _Usual(
        calls=stats.median([float(len(c)) for c in requests]),
        callees=stats.median([float(len(set(c))) for c in requests]),
        seen=frozenset(seen),
        once=frozenset(c for c in seen if repeated[c] <= (1 - ALWAYS) * seen[c]),
        after={c: frozenset(d for d in always if later[c][d] >= ALWAYS * seen[c]) for c in seen},
        last=next((c for c, k in ended.items() if n >= MIN_HABIT and k >= ALWAYS * n), None),
    )


_Key = tuple[str, tuple[str, str], str]  # caller, its kind of request, callee


def _gave_up(
    requests: list[_Request], usual: dict[tuple[str, tuple[str, str]], _Usual]
) -> tuple[Counter[_Key], Counter[_Key], Counter[_Key], Counter[_Key]]:
    """Per caller, kind of request and callee: the requests that gave up on it, those of them that
    called it again, those that would call it at all, and those that did."""
    served: Counter[_Key] = Counter()
    called: Counter[_Key] = Counter()
    gave_up: Counter[_Key] = Counter()
    again: Counter[_Key] = Counter()
    for service, kind, calls in requests:
        u = usual.get((service, kind))
        if u is None:
            continue
        served.update((service, kind, c) for c in u.seen)
        if not calls:
            continue
        # Only a request that called a callee can call it again. A router's one operation calls each
        # backend in a few of its requests: counted over all of them, one backend's rejected answers
        # would be diluted below notice by the traffic to the others. Ending right after a call stays
        # a share of all the requests that would make it: that may be the caller's own code failing
        # next, and a router's failing code ends its requests after whichever backend they called.
        called.update((service, kind, c) for c in set(calls) if c in u.seen)
        retried = {c for c in set(calls) if c in u.once and calls.count(c) > 1 and c in u.seen}
        given_up = set(retried)
        last = calls[-1]
        # Short of its usual calls, or of its usual callees (retrying the call that fails does not
        # make a request any less cut short), or of a call it always makes after this one.
        short = u.calls >= MIN_TYPICAL_CALLS and (
            len(calls) < SHORT * u.calls or len(set(calls)) < SHORT * u.callees
        )
        if short or not u.after.get(last, frozenset()) <= set(calls):
            given_up.add(last)
        gave_up.update((service, kind, c) for c in given_up if c in u.seen)
        again.update((service, kind, c) for c in retried)
    return gave_up, again, served, called


class _Request(NamedTuple):
    service: str
    # What the request is: its operation, and who asked (one endpoint may do different work for
    # different callers); "" where the caller is not in the sample.
    kind: tuple[str, str]
    calls: list[str]  # callees, in call order


def _requests(spans: Sequence[SpanRecord]) -> list[_Request]:
    """Each request a service served, by the callees it called in turn."""
    return [
        _Request(
            r.entry.service,
            (r.entry.operation or r.entry.resource, r.caller),
            [k.peer_service or k.service for k in r.calls],
        )
        for r in served(spans)
    ]


def edge_shares(e: EdgeStats) -> Shares:
    """The shares of an edge's caller's requests that gave up on its callee, as measured."""
    return Shares(
        e.baseline_ended_after,
        e.caller_baseline_requests,
        e.window_ended_after,
        e.caller_window_requests,
        e.baseline_retried,
        e.window_retried,
        e.caller_baseline_calling,
        e.caller_window_calling,
    )


def cut_strength(e: EdgeStats) -> float:
    """How clearly more of the caller's requests now give up on this callee's answer than before."""
    return gave_up_strength(edge_shares(e))


def retried_of(e: EdgeStats) -> int:
    """How many of the caller's window requests its retried share is of: those that called the callee
    (a summary that did not count them: all the caller's requests)."""
    return e.caller_window_calling or e.caller_window_requests


def gave_up_strength(sh: Shares) -> float:
    """0..1 (0: no more than chance, or than the baseline's own habit, allows)."""
    return max(
        _rise(sh.baseline, sh.baseline_requests, sh.window, sh.window_requests, MATERIAL),
        _rise(
            sh.baseline_retried,
            sh.baseline_calling or sh.baseline_requests,
            sh.window_retried,
            sh.window_calling or sh.window_requests,
            MATERIAL_RETRIED,
        ),
    )


def _rise(b: float, nb: int, w: float, nw: int, material: float) -> float:
    if nb <= 0 or nw <= 0 or w - b < material:
        return 0.0
    pooled = (b * nb + w * nw) / (nb + nw)
    # A pattern the baseline already has (a cache hit, a validation error) moves with the traffic mix,
    # beyond what sampling alone explains; one it never had does not.
    spread = math.sqrt(pooled * (1 - pooled) * (1 / nb + 1 / nw) + (DISPERSION * b) ** 2)
    z = (w - b) / spread if spread > 0 else 0.0
    # ...and a handful of requests is not yet a pattern, however unlikely.
    few = min(1.0, w * nw / MIN_PATTERN)
    return round(max(0.0, min(1.0, (z - Z_ONSET) / (Z_FULL - Z_ONSET))) * few, 3)


class Shared(NamedTuple):
    """A callee's callers' requests pooled: how many gave up on it, and how clearly that is new."""

    sh: Shares
    callers: int
    strength: float


def shared_give_ups(inbound: Sequence[EdgeStats]) -> Shared | None:
    """All callers' requests to one callee taken together (None: fewer than two callers give up on it
    more than before). Each caller's edge counts the requests that could give up on the callee."""
    seen = [e for e in inbound if e.caller_baseline_requests > 0 and e.caller_window_requests > 0]
    rising = [e for e in seen if e.window_ended_after > e.baseline_ended_after]
    if len(rising) < MIN_SHARING:
        return None
    nb = sum(e.caller_baseline_requests for e in seen)
    nw = sum(e.caller_window_requests for e in seen)
    b = sum(e.baseline_ended_after * e.caller_baseline_requests for e in seen) / nb
    w = sum(e.window_ended_after * e.caller_window_requests for e in seen) / nw
    return Shared(Shares(b, nb, w, nw), len(rising), _rise(b, nb, w, nw, MATERIAL_SHARED))
