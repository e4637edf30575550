"""Model-directed queries → evidence (by the offline statistics) and a bounded view for the model.

A model never sees raw telemetry: it sees counts, top patterns and series statistics, a fixed
number of rows each, so a step's tokens do not grow with telemetry volume. Evidence is computed
by the same code the offline tester uses (`summaries` + `evidence`), so a model-chosen query is
measured exactly like an automatic one and carries the signals the judge understands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sleuth.agents.evidence import CHANGE_LOOKBACK, change_evidence, log_evidence, series_evidence
from sleuth.agents.health import fleet_shifts
from sleuth.agents.summaries import summarize_logs, summarize_series, summarize_spans
from sleuth.gateway.records import LogRecord, Series, SpanRecord
from sleuth.models.investigation import Evidence, InvestigationContext
from sleuth.models.telemetry import ChangeEvent

TOP_ROWS = 5
METRIC_ROWS = 3  # the most moved groups; `moved` counts the rest
TEXT_CHARS = 120
LOG_BASELINE_MINUTES = 30  # as the offline tester: a recent baseline, compared as a rate


@dataclass(frozen=True)
class Window:
    baseline_start: datetime
    baseline_end: datetime
    window_start: datetime
    window_end: datetime
    alert_time: datetime
    fleet: dict[str, float] = field(default_factory=dict)  # the fleet's common shift (health.fleet_shifts)

    @classmethod
    def of(cls, ctx: InvestigationContext) -> Window:
        return cls(
            ctx.baseline_start,
            ctx.baseline_end,
            ctx.window_start,
            ctx.window_end,
            ctx.alert_time,
            fleet_shifts(ctx.health),
        )

    @property
    def log_baseline_start(self) -> datetime:
        return max(self.baseline_start, self.baseline_end - timedelta(minutes=LOG_BASELINE_MINUTES))

    @property
    def events_start(self) -> datetime:
        return self.window_start - CHANGE_LOOKBACK

    def ranges(self) -> tuple[tuple[float, float], tuple[float, float]]:
        return (
            (self.baseline_start.timestamp(), self.baseline_end.timestamp()),
            (self.window_start.timestamp(), self.window_end.timestamp()),
        )

    def describe(self) -> dict[str, str]:
        return {
            "baseline": f"{self.baseline_start.isoformat()} .. {self.baseline_end.isoformat()}",
            "alert_window": f"{self.window_start.isoformat()} .. {self.window_end.isoformat()}",
        }


@dataclass
class Digest:
    view: dict[str, Any]  # bounded: what the model reads
    evidence: list[Evidence]  # computed by code; kept only when the query is scoped to the hypothesis


def _r(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.3g}")


def _t(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def digest_metrics(series: list[Series], w: Window) -> Digest:
    baseline, window = w.ranges()
    summaries = [summarize_series(s, baseline, window) for s in series]
    evidence = [e for e in (series_evidence(s, w.fleet) for s in summaries) if e is not None]
    top = sorted(summaries, key=lambda s: -abs(s.change_score))[:METRIC_ROWS]
    view = {
        "series": len(summaries),
        "moved": sum(1 for s in summaries if abs(s.change_score) >= 3),
        "top": [
            {
                "scope": _t(s.scope) or "*",
                "baseline_median": _r(s.baseline_mean),
                "window": _r(s.window_mean),
                "window_max": _r(s.window_max),
                "z": _r(s.change_score),
                "change": f"{s.relative_change:+.0%}" if s.relative_change is not None else None,
                "onset": s.onset.isoformat() if s.onset else None,
            }
            for s in top
        ],
    }
    return Digest(view, evidence)


def digest_logs(
    query: str, baseline_logs: list[LogRecord], window_logs: list[LogRecord], w: Window
) -> Digest:
    baseline = (w.log_baseline_start.timestamp(), w.baseline_end.timestamp())
    window = (w.window_start.timestamp(), w.window_end.timestamp())
    summary = summarize_logs(query, [*baseline_logs, *window_logs], baseline, window)
    # Rates, not counts: the baseline period is not as long as the window.
    scale = (window[1] - window[0]) / max(1.0, baseline[1] - baseline[0])
    view = {
        "window_logs": summary.window_count,
        "baseline_logs": summary.baseline_count,
        "window_errors": summary.error_count,
        "baseline_errors": summary.baseline_error_count,
        "baseline_scale": _r(scale),
        "top_patterns": [
            {"pattern": _t(p.pattern), "window": p.count, "baseline": p.baseline_count, "status": p.status}
            for p in summary.patterns[:TOP_ROWS]
        ],
        "new_patterns": [
            {"pattern": _t(p.pattern), "count": p.count, "status": p.status, "example": _t(p.sample)}
            for p in summary.new_patterns[:3]
        ],
    }
    return Digest(view, log_evidence(summary, scale))


def digest_spans(query: str, baseline_spans: list[SpanRecord], window_spans: list[SpanRecord]) -> Digest:
    """A view only, never evidence: a filtered span search loses the children of what it returns,
    so self time and "originated" errors would be over-attributed to whatever service the query
    named — a model could make a symptom look like a cause. Attribution stays with the offline
    tester, which measures whole traces (the context's span summary).
    """
    summary = summarize_spans(query, baseline_spans, window_spans)
    rows = sorted(summary.services, key=lambda r: -(r.window_error_rate - r.baseline_error_rate))
    view = {
        "baseline_spans": summary.baseline_spans,
        "window_spans": summary.window_spans,
        "services": [
            {
                "service": _t(r.service),
                "spans": [r.baseline_spans, r.window_spans],
                "error_rate": [_r(r.baseline_error_rate), _r(r.window_error_rate)],
                "top_errors": [_t(m) for m in r.top_error_messages[:2]],
            }
            for r in rows[:TOP_ROWS]
        ],
        "edges": [
            {
                "edge": f"{_t(e.caller)}->{_t(e.callee)}",
                "calls": [e.baseline_calls, e.window_calls],
                "p50_ms": [_r(e.baseline_p50_ms), _r(e.window_p50_ms)],
                "error_rate": [_r(e.baseline_error_rate), _r(e.window_error_rate)],
            }
            for e in summary.edges[:TOP_ROWS]
        ],
        "pairs_are": "[baseline, window]",
    }
    return Digest(view, [])


def digest_events(events: list[ChangeEvent], service: str, w: Window) -> Digest:
    latest = sorted(events, key=lambda e: e.timestamp, reverse=True)[:TOP_ROWS]
    view = {
        "events": len(events),
        "latest": [
            {"at": e.timestamp.isoformat(), "kind": e.kind, "service": e.service, "title": _t(e.title)}
            for e in latest
        ],
    }
    return Digest(view, change_evidence(events, service, w.window_start, w.alert_time))
