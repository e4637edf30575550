"""Raw telemetry → bounded summaries. This is what keeps history and model context small:
whatever the volume of spans or logs, a summary has at most a few dozen rows.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sleuth.agents import stats
from sleuth.agents.give_ups import GiveUps, Shares, give_ups
from sleuth.agents.served import served
from sleuth.gateway.records import LogRecord, Series, SpanRecord
from sleuth.models.telemetry import (
    Edge,
    EdgeStats,
    LogPattern,
    LogSummary,
    SeriesSummary,
    ServiceSpanStats,
    SpanSummary,
)

MAX_PATTERNS = 8
UNDERWAY_POINTS = 2  # baseline points already departed that date a series' onset before its window
MAX_EDGES = 200  # a system of n services has about 2n edges: a 46-service one has ~90, all of which must fit

_VARIABLE_PARTS = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"), "<email>"),
    # Tokens, ids and hashes: long runs mixing letters and digits (base64, JWT parts, request ids).
    (re.compile(r"\b(?=[\w./+=-]*\d)(?=[\w./+=-]*[A-Za-z])[\w./+=-]{12,}"), "<tok>"),
    (re.compile(r"\"[^\"]{0,200}\"|'[^']{0,200}'"), "<str>"),
    (re.compile(r"\b\d+(?:\.\d+)?(?:ms|s|us|µs|ns|%|kb|mb|gb|b)?\b", re.I), "<n>"),
]


def log_template(message: str) -> str:
    """Mask the variable parts of a log line so that lines from one log statement share a pattern."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    for pattern, token in _VARIABLE_PARTS:
        text = pattern.sub(token, text)
    return re.sub(r"\s+", " ", text)[:160]


def _ts(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch is not None else None


def summarize_series(
    series: Series, baseline: tuple[float, float], window: tuple[float, float], abs_floor: float = 0.0
) -> SeriesSummary:
    b_pairs = [
        (t, v)
        for t, v in zip(series.times, series.values, strict=False)
        if baseline[0] <= t < baseline[1] and v is not None and math.isfinite(v)
    ]
    b = [v for _, v in b_pairs]  # finite values only, kept with their times to date an onset
    w_pairs = [
        (t, v) for t, v in zip(series.times, series.values, strict=False) if window[0] <= t <= window[1]
    ]
    w = [v for _, v in w_pairs]
    s = stats.shift(b, w, abs_floor)
    sigma = stats.robust_sigma(b, abs_floor=abs_floor) if b else None
    clean_w = stats.clean(w)
    onset = _ts(w_pairs[s.onset_index][0]) if s and s.onset_index is not None else None
    if s and sigma is not None and s.onset_index == 0:
        # Already departed when the window opened: when did it start?
        run = stats.underway(b, s.baseline, sigma, 1 if s.z >= 0 else -1)
        if run >= UNDERWAY_POINTS:
            onset = _ts(b_pairs[-run][0])
    return SeriesSummary(
        query=series.query,
        scope=series.scope,
        points=len(stats.clean(series.values)),
        baseline_points=len(b),
        baseline_mean=round(stats.median(b), 6) if b else None,
        baseline_std=round(sigma, 6) if sigma is not None else None,
        window_mean=round(s.current, 6) if s else (round(stats.median(clean_w), 6) if clean_w else None),
        window_max=round(max(clean_w), 6) if clean_w else None,
        change_score=round(s.z, 3) if s else 0.0,
        relative_change=round(s.relative, 4) if s and s.relative is not None else None,
        onset=onset,
        climb=round(stats.climb(b, w), 2),
        sparkline=stats.resample([v for _, v in w_pairs] if w_pairs else series.values),
    )


def summarize_logs(
    query: str, logs: Iterable[LogRecord], baseline: tuple[float, float], window: tuple[float, float]
) -> LogSummary:
    """Counts and patterns; a pattern is new when the baseline never produced it."""
    base: Counter[str] = Counter()
    cur: Counter[str] = Counter()
    first: dict[str, float] = {}
    sample: dict[str, LogRecord] = {}
    base_n = cur_n = base_err = cur_err = 0
    for rec in logs:
        pattern = log_template(rec.message)
        is_error = rec.status in ("error", "critical", "emergency", "alert", "fatal")
        if baseline[0] <= rec.timestamp < baseline[1]:
            base[pattern] += 1
            base_n += 1
            base_err += is_error
        elif window[0] <= rec.timestamp <= window[1]:
            cur[pattern] += 1
            cur_n += 1
            cur_err += is_error
            first[pattern] = min(first.get(pattern, rec.timestamp), rec.timestamp)
            if pattern not in sample or (is_error and sample[pattern].status not in ("error", "critical")):
                sample[pattern] = rec

    def row(p: str) -> LogPattern:
        rec = sample[p]
        return LogPattern(
            pattern=p,
            count=cur[p],
            baseline_count=base[p],
            service=rec.service or None,
            status=rec.status or None,
            sample=rec.message[:200],
            first_seen=_ts(first.get(p)),
        )

    top = [row(p) for p, _ in cur.most_common(MAX_PATTERNS)]
    new = sorted((p for p in cur if base[p] == 0), key=lambda p: (-cur[p], p))
    return LogSummary(
        query=query,
        window_count=cur_n,
        baseline_count=base_n,
        error_count=cur_err,
        baseline_error_count=base_err,
        patterns=top,
        new_patterns=[row(p) for p in new[:MAX_PATTERNS]],
    )


def edges_from_spans(spans: Sequence[SpanRecord]) -> list[Edge]:
    """Caller → callee from parent/child links that cross a service boundary, plus calls to peers."""
    by_id = {s.span_id: s for s in spans}
    counts: Counter[tuple[str, str]] = Counter()
    for s in spans:
        parent = by_id.get(s.parent_id)
        if parent is not None and parent.service and s.service and parent.service != s.service:
            counts[(parent.service, s.service)] += 1
        elif s.peer_service and s.service and s.peer_service != s.service:
            counts[(s.service, s.peer_service)] += 1
    return [Edge(caller=a, callee=b, calls=n) for (a, b), n in counts.most_common(MAX_EDGES)]


def owner(span: SpanRecord, has_children: bool) -> str:
    """Whose time and errors a span measures. An exit span to an uninstrumented peer (a database,
    a cache, an external API: `peer.service`, no child span) measures the peer, not the caller."""
    if span.peer_service and not has_children:
        return span.peer_service
    return span.service


def _self_times(
    spans: Sequence[SpanRecord],
) -> tuple[dict[str, list[float]], dict[str, list[bool]], dict[str, Counter[str]]]:
    """Per service: exclusive time per span, whether each span *originated* an error, and error messages.

    A span originates an error when it errored and none of its children did: the classic way to
    tell the failing service from the callers that merely propagate its failure.
    """
    children: dict[str, list[SpanRecord]] = defaultdict(list)
    for s in spans:
        children[s.parent_id].append(s)
    self_ms: dict[str, list[float]] = defaultdict(list)
    originated: dict[str, list[bool]] = defaultdict(list)
    messages: dict[str, Counter[str]] = defaultdict(Counter)
    for s in spans:
        if not s.service:
            continue
        kids = children.get(s.span_id, [])
        if s.peer_service and kids:
            continue  # a client span whose callee reports itself: the callee's server span speaks for it
        who = owner(s, bool(kids))
        # Children may run concurrently; covering their union rather than their sum avoids negative self time.
        covered = _union_ms(
            [(k.start, k.start + k.duration_ms / 1000.0) for k in kids],
            s.start,
            s.start + s.duration_ms / 1000.0,
        )
        self_ms[who].append(max(0.0, s.duration_ms - covered))
        child_error = any(k.error for k in kids)
        originated[who].append(s.error and not child_error)
        if s.error and not child_error and s.error_message:
            messages[who][log_template(s.error_message)] += 1
    return self_ms, originated, messages


def _request_self_times(spans: Sequence[SpanRecord]) -> dict[str, list[float]]:
    """Per service: its own time in each request it served, the entry span's duration less the union
    of the calls made beneath it to other services and to peers. Per request, not per span: a
    service's spans (route, controller, repository, client) differ in kind, and a CPU-starved
    controller is lost among them in a median over spans."""
    out: dict[str, list[float]] = defaultdict(list)
    for r in served(spans):
        if r.entry.peer_service:
            continue
        start, ms = r.entry.start, r.entry.duration_ms
        covered = _union_ms(
            [(k.start, k.start + k.duration_ms / 1000.0) for k in r.calls], start, start + ms / 1000.0
        )
        out[r.entry.service].append(max(0.0, ms - covered))
    return out


def _union_ms(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    clipped = sorted((max(a, lo), min(b, hi)) for a, b in intervals if b > lo and a < hi)
    total = 0.0
    cur_a = cur_b = None
    for a, b in clipped:
        if cur_b is None or a > cur_b:
            if cur_b is not None and cur_a is not None:
                total += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_a is not None and cur_b is not None:
        total += cur_b - cur_a
    return total * 1000.0


def summarize_spans(
    query: str,
    baseline: Sequence[SpanRecord],
    window: Sequence[SpanRecord],
    requests: GiveUps | None = None,
) -> SpanSummary:
    """What changed between the two samples; `requests` where the give-ups are read from larger
    samples than these."""
    b_self, b_orig, _ = _self_times(baseline)
    w_self, w_orig, w_msgs = _self_times(window)
    b_req, w_req = _request_self_times(baseline), _request_self_times(window)
    b_err = _error_rates(baseline)
    w_err = _error_rates(window)
    services = sorted(set(b_self) | set(w_self))
    reporting = {sp.service for sp in [*baseline, *window] if not sp.peer_service}
    rows = [
        ServiceSpanStats(
            service=svc,
            instrumented=svc in reporting,
            baseline_spans=len(b_self.get(svc, [])),
            window_spans=len(w_self.get(svc, [])),
            baseline_self_ms=_p50(b_req.get(svc) or b_self.get(svc)),
            window_self_ms=_p50(w_req.get(svc) or w_self.get(svc)),
            baseline_error_rate=round(b_err.get(svc, 0.0), 5),
            window_error_rate=round(w_err.get(svc, 0.0), 5),
            window_originated_errors=sum(w_orig.get(svc, [])),
            baseline_originated_errors=sum(b_orig.get(svc, [])),
            top_error_messages=[m for m, _ in w_msgs[svc].most_common(3)],
        )
        for svc in services
    ]
    return SpanSummary(
        query=query,
        baseline_spans=len(baseline),
        window_spans=len(window),
        services=rows,
        edges=_with_cut_short(
            _edge_stats(baseline, window),
            give_ups(baseline, window) if requests is None else requests,
        ),
    )


def _with_cut_short(
    edges: list[EdgeStats],
    requests: GiveUps,
) -> list[EdgeStats]:
    shares, last = requests
    out = []
    for e in edges:
        sh = shares.get((e.caller, e.callee), Shares(0.0, 0, 0.0, 0))
        update = {
            "baseline_ended_after": round(sh.baseline, 4),
            "window_ended_after": round(sh.window, 4),
            "caller_baseline_requests": sh.baseline_requests,
            "caller_window_requests": sh.window_requests,
            "baseline_retried": round(sh.baseline_retried, 4),
            "window_retried": round(sh.window_retried, 4),
            "caller_baseline_calling": sh.baseline_calling,
            "caller_window_calling": sh.window_calling,
            "last_call_for": list(last.get((e.caller, e.callee), ())),
        }
        out.append(e.model_copy(update=update))
    return out


def _error_rates(spans: Sequence[SpanRecord]) -> dict[str, float]:
    total: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for s in spans:
        total[s.service] += 1
        errors[s.service] += s.error
    return {svc: errors[svc] / n for svc, n in total.items() if n}


def _edge_stats(baseline: Sequence[SpanRecord], window: Sequence[SpanRecord]) -> list[EdgeStats]:
    def collect(spans: Sequence[SpanRecord]) -> dict[tuple[str, str], list[SpanRecord]]:
        """One sample per call: the caller's exit span when it names its peer, else the callee's span."""
        by_id = {s.span_id: s for s in spans}
        out: dict[tuple[str, str], list[SpanRecord]] = defaultdict(list)
        for s in spans:
            parent = by_id.get(s.parent_id)
            if s.peer_service and s.peer_service != s.service:
                out[(s.service, s.peer_service)].append(s)
            elif parent is not None and parent.service != s.service and not parent.peer_service:
                out[(parent.service, s.service)].append(s)
        return out

    b, w = collect(baseline), collect(window)
    b_gap, w_gap = _gaps(baseline), _gaps(window)
    # Busiest first, ties by name: which edges fit must not depend on the order of a set.
    keys = sorted(set(b) | set(w), key=lambda k: (-(len(w.get(k, [])) + len(b.get(k, []))), k))[:MAX_EDGES]
    rows = []
    for caller, callee in keys:
        bs, ws = b.get((caller, callee), []), w.get((caller, callee), [])
        rows.append(
            EdgeStats(
                caller=caller,
                callee=callee,
                baseline_calls=len(bs),
                window_calls=len(ws),
                baseline_p50_ms=_p50([s.duration_ms for s in bs]),
                window_p50_ms=_p50([s.duration_ms for s in ws]),
                baseline_error_rate=round(stats.rate(sum(s.error for s in bs), len(bs)), 5),
                window_error_rate=round(stats.rate(sum(s.error for s in ws), len(ws)), 5),
                callee_type=_callee_type(ws or bs),
                callee_host=next((x.peer_host for x in [*ws, *bs] if x.peer_host), ""),
                baseline_gap_ms=_p50(b_gap.get((caller, callee))),
                window_gap_ms=_p50(w_gap.get((caller, callee))),
            )
        )
    return rows


def _callee_type(samples: Sequence[SpanRecord]) -> str:
    types = Counter(s.span_type for s in samples if s.peer_service and s.span_type)
    return types.most_common(1)[0][0] if types else ""


def _gaps(spans: Sequence[SpanRecord]) -> dict[tuple[str, str], list[float]]:
    """Parent duration minus the child's, for parents whose only child is in another service: the
    time a call spent outside both services' own code."""
    by_id = {s.span_id: s for s in spans}
    kids: dict[str, list[SpanRecord]] = defaultdict(list)
    for s in spans:
        kids[s.parent_id].append(s)
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for parent_id, children in kids.items():
        parent = by_id.get(parent_id)
        if parent is None or len(children) != 1 or children[0].service == parent.service:
            continue
        child = children[0]
        out[(parent.service, child.service)].append(max(0.0, parent.duration_ms - child.duration_ms))
    return out


def _p50(xs: Sequence[float] | None) -> float | None:
    return round(stats.median(xs), 3) if xs else None
