"""Summaries → evidence items: each names its source, its query, what was seen, and how strongly.

Strength is always "how abnormal, in the harmful direction", 0..1; `supports` is whether the
observation counts for a problem in this service (True) or shows that signal to be normal (False).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from sleuth.agents import stats
from sleuth.agents.health import LOG_BASELINE
from sleuth.agents.signals import classify_metric, metric_of, service_role
from sleuth.models.investigation import Evidence, InvestigationContext
from sleuth.models.telemetry import (
    ChangeEvent,
    EdgeStats,
    LogSummary,
    SeriesSummary,
    ServiceSpanStats,
    SpanSummary,
)

SUPPORT_THRESHOLD = 0.3
CHANGE_LOOKBACK = timedelta(minutes=60)

_OOM = re.compile(
    r"(out of memory|\boom(killed|[ _-]?kill(er|ed)?)?\b|outofmemory|memory limit|heap space|cannot allocate memory)",
    re.I,
)
_DISK = re.compile(
    r"(no space left|disk (is )?full|enospc|read-only file system|quota exceeded|i/o error)", re.I
)


def _ev(source: str, query: str, observation: str, signal: str, strength: float, **kw: object) -> Evidence:
    strength = max(0.0, min(1.0, strength if math.isfinite(strength) else 0.0))
    return Evidence(
        source=source,  # type: ignore[arg-type]
        query=query,
        observation=observation,
        signal=signal,
        strength=round(strength, 3),
        supports=strength >= SUPPORT_THRESHOLD,
        **kw,  # type: ignore[arg-type]
    )


def _fmt(x: float | None) -> str:
    if x is None:
        return "n/a"
    a = abs(x)
    if a >= 1e9:
        return f"{x / 1e9:.2f}G"
    if a >= 1e6:
        return f"{x / 1e6:.2f}M"
    if a >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.3g}"


def ratio_strength(ratio: float, onset_ratio: float = 1.25, full_ratio: float = 2.5) -> float:
    """For medians without a spread: a 25 % rise starts to count, 2.5× is unmistakable."""
    if not math.isfinite(ratio) or ratio <= onset_ratio:
        return 0.0
    return min(1.0, math.log(ratio / onset_ratio) / math.log(full_ratio / onset_ratio))


def novelty_strength(lines: int) -> float:
    """A handful of never-seen lines is the background churn of any busy system; dozens are a signature."""
    return max(0.0, min(1.0, 1.0 - math.exp(-max(0, lines - 2) / 12.0)))


def counter_strength(baseline: float | None, current: float | None) -> float:
    """Restart-style counters: one more is routine (a rollout restarts pods), three or more is a pattern."""
    if baseline is None or current is None:
        return 0.0
    return max(0.0, min(1.0, (current - baseline - 1.0) / 3.0))


def series_evidence(s: SeriesSummary, common: Mapping[str, float] | None = None) -> Evidence | None:
    """One metric's shift as evidence. `common` holds, per signal, the part of a rise the whole fleet
    shares (`health.fleet_shifts`): it is not this service's."""
    name = metric_of(s.query)
    if " / " in s.query:
        signal = "cpu" if "cpu" in s.query else "memory"
        level = s.window_mean or 0.0
        base = s.baseline_mean or 0.0
        # Saturation: near the limit now, and clearly closer than it used to be.
        strength = max(0.0, min(1.0, (level - 0.7) / 0.25)) * (1.0 if level - base > 0.1 else 0.5)
        return _ev(
            "metrics",
            s.query,
            f"{signal} at {level:.0%} of its limit (baseline {base:.0%})",
            signal,
            strength,
            baseline=base,
            current=level,
            onset=s.onset,
        )
    rule = classify_metric(name)
    if rule is None or s.baseline_mean is None:
        return None
    z = s.change_score * rule.direction - (common or {}).get(rule.signal, 0.0)
    strength = stats.squash(z) if z > 0 else 0.0
    if rule.signal == "restarts":
        strength = counter_strength(s.baseline_mean, s.window_max)
    elif rule.signal == "hits" and s.relative_change is not None:
        # Load is about how many times more, not how unusual: a doubling is what saturates things.
        strength = min(strength, ratio_strength(1.0 + s.relative_change, 1.5, 4.0))
    elif rule.signal in ("cpu", "memory") and s.relative_change is not None and z >= 2:
        # A baseline that holds earlier incidents inflates sigma; a many-fold rise beyond its noise still tells.
        strength = max(strength, ratio_strength(1.0 + s.relative_change, 2.0, 8.0))
    rel = f" ({s.relative_change:+.0%})" if s.relative_change is not None else ""
    climbing = ""
    if rule.signal == "memory" and z > 0 and s.climb > 0:
        # A leak is young before it is large: still growing every minute, far faster than it ever
        # wandered, says more than how far it has got.
        strength = max(strength, stats.squash(s.climb))
        if s.climb >= 3:
            climbing = f", still climbing every minute (step z={s.climb:+.0f})"
    return _ev(
        "metrics",
        s.query,
        f"{name}: {_fmt(s.window_mean)} in the alert window vs {_fmt(s.baseline_mean)} before{rel}, "
        f"z={s.change_score:+.1f}{climbing}",
        rule.signal,
        strength,
        baseline=s.baseline_mean,
        current=s.window_mean,
        onset=s.onset,
    )


def _names_other(text: str, others: set[str]) -> str | None:
    lowered = text.lower()
    return next(
        (o for o in sorted(others, key=len, reverse=True) if len(o) > 2 and o.lower() in lowered), None
    )


def log_baseline(ctx: InvestigationContext) -> tuple[datetime, datetime, float]:
    """The logs' baseline (the last half hour before the window: logs are heavy) and the factor that
    turns its counts into what the alert window should hold."""
    start = max(ctx.baseline_start, ctx.baseline_end - LOG_BASELINE)
    scale = (ctx.window_end - ctx.window_start).total_seconds() / max(
        1.0, (ctx.baseline_end - start).total_seconds()
    )
    return start, ctx.baseline_end, scale


def log_evidence(
    summary: LogSummary, scale: float, service: str = "", known: set[str] | None = None
) -> list[Evidence]:
    """Error volume, new error signatures, OOM and disk messages. A new error that names another
    service ("calling payments: 503") is that service's symptom echoing here, not this one's bug."""
    others = (known or set()) - {service}
    out: list[Evidence] = []
    expected_errors = summary.baseline_error_count * scale
    z = stats.count_z(summary.error_count, expected_errors)
    out.append(
        _ev(
            "logs",
            summary.query,
            f"{summary.error_count} error logs in the alert window (about {expected_errors:.0f} expected)",
            "log_errors",
            stats.squash(z),
            baseline=round(expected_errors, 2),
            current=float(summary.error_count),
        )
    )
    fresh = [p for p in summary.new_patterns if p.status in ("error", "critical", "fatal", "emergency")]
    echoes = [p for p in fresh if _names_other(p.sample or p.pattern, others)]
    new_errors = [p for p in fresh if p not in echoes]
    if echoes:
        named = _names_other(echoes[0].sample or echoes[0].pattern, others)
        out.append(
            _ev(
                "logs",
                summary.query,
                f'new errors naming {named}: "{echoes[0].sample[:160]}"',
                "downstream_log_errors",
                novelty_strength(sum(p.count for p in echoes)),
                points_to=named,
            )
        )
    if new_errors:
        top = new_errors[0]
        count = sum(p.count for p in new_errors)
        out.append(
            _ev(
                "logs",
                summary.query,
                f'{len(new_errors)} new error signature(s), {count} lines; e.g. "{top.sample[:160]}"',
                "new_log_patterns",
                novelty_strength(count),
                current=float(count),
                onset=top.first_seen,
            )
        )
    else:
        out.append(
            _ev("logs", summary.query, "no new error signatures in the alert window", "new_log_patterns", 0.0)
        )
    for signal, pattern in (("oom_logs", _OOM), ("disk_logs", _DISK)):
        hits = [p for p in summary.patterns + summary.new_patterns if pattern.search(p.sample or p.pattern)]
        if hits:
            out.append(
                _ev(
                    "logs",
                    summary.query,
                    f'log lines such as "{hits[0].sample[:160]}"',
                    signal,
                    min(1.0, 0.5 + 0.1 * hits[0].count),
                )
            )
    return out


# Own time under half a millisecond is scheduling and serialisation noise: 0.2 → 0.3 ms is not a
# service getting 50 % slower.
SELF_TIME_FLOOR_MS = 0.5
SOME_SPANS = 5  # fewer spans in the window say less about a service's own time, in proportion


def _self_time_ratio(row: ServiceSpanStats) -> float | None:
    """How many times its baseline a service's own time per request is (None: not measured in both)."""
    if not row.baseline_self_ms or row.window_self_ms is None:
        return None
    return row.window_self_ms / max(row.baseline_self_ms, SELF_TIME_FLOOR_MS)


def span_evidence(summary: SpanSummary, service: str) -> list[Evidence]:
    row = next((r for r in summary.services if r.service == service), None)
    if row is None or row.window_spans < 3:
        return []
    out: list[Evidence] = []
    q = f"spans {summary.query} service:{service}"
    ratio = _self_time_ratio(row)
    if ratio is not None:
        few = f" (from {row.window_spans} spans)" if row.window_spans < SOME_SPANS else ""
        out.append(
            _ev(
                "spans",
                q,
                f"own time per request (excluding downstream calls) {row.window_self_ms:.1f} ms vs {row.baseline_self_ms:.1f} ms before{few}",
                "self_latency",
                # The median of three spans is one slow call away from any value.
                ratio_strength(ratio) * min(1.0, row.window_spans / SOME_SPANS),
                baseline=row.baseline_self_ms,
                current=row.window_self_ms,
            )
        )
    base_rate = stats.rate(row.baseline_originated_errors, row.baseline_spans)
    cur_rate = stats.rate(row.window_originated_errors, row.window_spans)
    z = stats.proportion_z(
        row.window_originated_errors, row.window_spans, row.baseline_originated_errors, row.baseline_spans
    )
    msg = f'; e.g. "{row.top_error_messages[0][:120]}"' if row.top_error_messages else ""
    out.append(
        _ev(
            "spans",
            q,
            f"errors originating in {service} (not in anything it calls): {cur_rate:.1%} of spans vs {base_rate:.1%} before{msg}",
            "originated_errors",
            stats.squash(z) if cur_rate > base_rate else 0.0,
            baseline=round(base_rate, 5),
            current=round(cur_rate, 5),
        )
    )
    return out


def fanout_evidence(summary: SpanSummary, service: str) -> Evidence | None:
    """How many downstream calls a service makes per span it serves. Code that throws or returns
    something else stops (or starts) calling what it used to: its call pattern changes, even when
    no span is flagged as an error."""
    row = next((r for r in summary.services if r.service == service), None)
    if row is None or row.baseline_spans < 20 or row.window_spans < 20:
        return None
    worst, where = 0.0, ""
    for e in summary.edges:
        if e.caller != service or e.baseline_calls < 10:
            continue
        before = e.baseline_calls / row.baseline_spans
        after = e.window_calls / row.window_spans
        change = max(after, 0.01) / max(before, 0.01)
        shift = max(change, 1.0 / change)
        # A binomial-ish guard: tiny edges move by chance.
        z = abs(after - before) / math.sqrt(max(before, 0.01) / row.window_spans)
        if z >= 3 and shift > worst:
            worst, where = shift, f"calls to {e.callee} per span went from {before:.2f} to {after:.2f}"
    if not where:
        return _ev(
            "spans",
            f"spans {summary.query} service:{service}",
            f"{service} calls its dependencies as before",
            "fanout_change",
            0.0,
        )
    return _ev(
        "spans",
        f"spans {summary.query} service:{service}",
        f"{service}'s call pattern changed: {where}",
        "fanout_change",
        ratio_strength(worst, 1.5, 4.0),
    )


MIN_WIRE_MS = 0.5
MATERIAL = 0.1  # of the call's usual duration: less extra wire time than this does not slow the call
# A call gaining this many times the wire time its caller added to its other calls is slow at its callee.
CALLER_SHARE = 10.0
SLOWER_OWN_CODE = 1.25  # own time per request this many times its baseline: the caller is slower itself


def _gap_ratio(e: EdgeStats, material: bool = False) -> float | None:
    if e.baseline_gap_ms is None or e.window_gap_ms is None:
        return None
    floor = MIN_WIRE_MS
    if material:
        # To blame the wire, the extra time must matter to the call: a few milliseconds of jitter on
        # a call that takes seventy is not a slow wire, however many times its usual one it is.
        floor = max(floor, MATERIAL * (e.baseline_p50_ms or 0.0))
    return (e.window_gap_ms or 0.0) / max(e.baseline_gap_ms or 0.0, floor)


def _out_gap(summary: SpanSummary, caller: str, exclude: str | None = None) -> float | None:
    """Median wire-time ratio over a caller's outbound calls (at least two distinct callees). Against
    their own baselines, not the system's wire floor: a starved caller adds a little to every call it
    makes, and that is what tells its trouble from its callees'."""
    ratios = [
        r
        for e in summary.edges
        if e.caller == caller and e.callee != exclude and (r := _gap_ratio(e)) is not None
    ]
    return stats.median(ratios) if len(ratios) >= 2 else None


def _caller_explains(summary: SpanSummary, e: EdgeStats) -> bool:
    """Whether the caller's own delay explains a call's extra wire time. A starved or delayed caller
    makes every one of its calls look slow on the wire: its other calls slowed too (by 30 % or more;
    when it is starved only at times, the median of its calls moves less). A starved caller's own code
    is slower too, and how much longer it takes to send each call depends on what the call carries.
    A caller whose own code runs as fast as before adds about as many milliseconds to every call: a
    call that gained ten times what it added to its others is slow at the callee's end."""
    if (_out_gap(summary, e.caller, exclude=e.callee) or 1.0) < 1.3:
        return False
    me = next((r for r in summary.services if r.service == e.caller), None)
    own = _self_time_ratio(me) if me is not None else None
    if own is None or own >= SLOWER_OWN_CODE:
        return True
    added = stats.median(
        [
            o.window_gap_ms - o.baseline_gap_ms
            for o in summary.edges
            if o.caller == e.caller
            and o.callee != e.callee
            and o.window_gap_ms is not None
            and o.baseline_gap_ms is not None
        ]
    )
    mine = (e.window_gap_ms or 0.0) - (e.baseline_gap_ms or 0.0)
    return mine < CALLER_SHARE * max(added, MIN_WIRE_MS)


def edge_evidence(summary: SpanSummary, service: str, known: set[str]) -> list[Evidence]:
    """Latency and errors on the calls into and out of a service, and to what it depends on."""
    out: list[Evidence] = []
    q = f"spans {summary.query} edges of {service}"
    fanout = fanout_evidence(summary, service)
    if fanout is not None:
        out.append(fanout)
    inbound = [e for e in summary.edges if e.callee == service and _gap_ratio(e) is not None]
    unexplained = [e for e in inbound if not _caller_explains(summary, e)]
    if inbound:
        ratios = [_gap_ratio(e, material=True) or 1.0 for e in unexplained] or [1.0]
        r = stats.median(ratios)
        out.append(
            _ev(
                "spans",
                q,
                f"time on the wire into {service} ×{r:.1f} across {len(unexplained)} of {len(inbound)} caller(s) "
                "whose other calls stayed normal",
                "edge_latency_in",
                ratio_strength(r, 1.5, 4.0),
                baseline=1.0,  # in times its baseline: the callers' wire times differ in scale
                current=r,
            )
        )
    out_ratio = _out_gap(summary, service)
    if out_ratio is not None:
        out.append(
            _ev(
                "spans",
                q,
                f"{service}'s outbound calls spend ×{out_ratio:.1f} longer outside their callees",
                "edge_latency_out",
                ratio_strength(out_ratio, 1.5, 4.0),
            )
        )
    for e in summary.edges:
        if e.caller != service:
            continue
        if service_role(e.callee, summary) == "external":
            z = stats.proportion_z(
                round(e.window_error_rate * e.window_calls),
                e.window_calls,
                round(e.baseline_error_rate * e.baseline_calls),
                e.baseline_calls,
            )
            out.append(
                _ev(
                    "spans",
                    q,
                    f"calls from {service} to external {e.callee}: errors {e.window_error_rate:.1%} vs {e.baseline_error_rate:.1%}",
                    "external_errors",
                    stats.squash(z),
                )
            )
            if e.baseline_p50_ms and e.window_p50_ms is not None:
                ratio = e.window_p50_ms / max(e.baseline_p50_ms, 0.05)
                n = e.window_calls
                few = f" (from {n} call{'' if n == 1 else 's'})" if n < SOME_SPANS else ""
                out.append(
                    _ev(
                        "spans",
                        q,
                        f"calls from {service} to external {e.callee}: p50 {e.window_p50_ms:.0f} ms vs {e.baseline_p50_ms:.0f} ms{few}",
                        "external_latency",
                        # as with its own time: the median of one or two calls is any value
                        ratio_strength(ratio) * min(1.0, n / SOME_SPANS),
                    )
                )
    return out


def change_evidence(
    changes: list[ChangeEvent], service: str, window_start: datetime, alert_time: datetime
) -> list[Evidence]:
    relevant = [
        c
        for c in changes
        if c.kind in ("deployment", "config_change")
        and _mentions(c, service)
        and window_start - CHANGE_LOOKBACK <= c.timestamp <= alert_time
    ]
    if not relevant:
        q = f"change events for service:{service}"
        return [
            _ev("events", q, f"no deploy of {service} before the alert", "deployment_event", 0.0),
            _ev("events", q, f"no config change of {service} before the alert", "config_event", 0.0),
        ]
    out = []
    latest = {c.kind: c for c in relevant}  # the most recent deploy and the most recent config change
    for c in latest.values():
        minutes = (alert_time - c.timestamp).total_seconds() / 60
        # The nearer the change to the alert, the more suspicious; an hour earlier still counts a little.
        # A change is suspicious when it lands just before the symptoms began; an hour earlier it is
        # more likely unrelated (a bad change usually hurts within minutes of rolling out).
        lead = (window_start - c.timestamp).total_seconds() / 60
        strength = 0.9 if lead <= 10 else max(0.15, 0.9 - 0.025 * (lead - 10))
        out.append(
            _ev(
                "events",
                f"change events for service:{service}",
                f'{c.kind.replace("_", " ")} "{c.title}" {minutes:.0f} min before the alert',
                "deployment_event" if c.kind == "deployment" else "config_event",
                strength,
                onset=c.timestamp,
            )
        )
    return out


def _mentions(c: ChangeEvent, service: str) -> bool:
    if c.service == service:
        return True
    return any(t in (f"service:{service}", f"kube_deployment:{service}") for t in c.tags)


_IDENTIFIER = re.compile(r"[A-Za-z0-9][\w.-]*[-_.\d][\w.-]*")
_CHANGE_TAG_KEYS = (
    "version",
    "git.commit.sha",
    "flag",
    "feature_flag",
    "config",
    "resource",
    "changed_resource",
)


def change_tokens(c: ChangeEvent) -> set[str]:
    """What a change is called: its version, its flag or resource name; what errors would quote."""
    tokens = {v for t in c.tags for k, _, v in [t.partition(":")] if k in _CHANGE_TAG_KEYS and len(v) >= 3}
    tokens |= {w for w in _IDENTIFIER.findall(c.title) if len(w) >= 5 and not w.isdigit()}
    return tokens


def change_named_in_errors(changes: list[ChangeEvent], service: str, texts: list[str]) -> list[Evidence]:
    """A new error that quotes a change's version or flag ties the failure to that change."""
    blob = "\n".join(texts).lower()
    out = []
    for c in changes:
        if c.kind not in ("deployment", "config_change") or not _mentions(c, service):
            continue
        hit = next((t for t in sorted(change_tokens(c)) if t.lower() in blob), None)
        if hit:
            out.append(
                _ev(
                    "logs",
                    f'new errors of service:{service} vs change "{c.title[:80]}"',
                    f'new errors quote "{hit}" from the {c.kind.replace("_", " ")} "{c.title[:80]}"',
                    "deployment_in_errors" if c.kind == "deployment" else "config_in_errors",
                    0.9,
                )
            )
    return out
