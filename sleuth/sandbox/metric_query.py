"""Datadog metric queries and formulas over any `TelemetryWorld`.

`p95:trace.http.request{service:web,env:prod} by {version}.as_count()`: the world hands over
every matching context; grouping, space aggregation, count modifiers and formulas happen here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sleuth.sandbox.protocol import PERCENTILES, RawSeries, TelemetryWorld
from sleuth.sandbox.query import QueryError, parse_tag_filter, tag_matcher

AGGREGATORS = ("avg", "sum", "min", "max", "count", *PERCENTILES)
_QUERY = re.compile(
    r"^\s*(?:(?P<agg>[a-z0-9]+):)?(?P<metric>[A-Za-z][\w.\-]*)\s*\{(?P<filter>[^}]*)\}"
    r"\s*(?:by\s*\{(?P<by>[^}]*)\})?(?P<mods>(?:\s*\.\s*\w+\([^)]*\))*)\s*$"
)
_MOD = re.compile(r"\.\s*(\w+)\(([^)]*)\)")
INTERVALS = (10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400)
Groups = dict[tuple[str, ...], np.ndarray]


@dataclass
class MetricQuery:
    agg: str
    metric: str
    filter: str
    by: list[str]
    as_count: bool | None = None  # None: the metric type's default
    rollup: str | None = None
    raw: str = ""

    @classmethod
    def parse(cls, q: str) -> MetricQuery:
        m = _QUERY.match(q)
        if not m:
            raise QueryError(f"unparseable metric query {q!r}")
        agg = (m.group("agg") or "avg").lower()
        if agg.startswith("pct"):
            agg = "p" + agg[3:]
        if agg not in AGGREGATORS:
            raise QueryError(f"unknown aggregator {agg!r}")
        by = [t.strip() for t in (m.group("by") or "").split(",") if t.strip()]
        out = cls(agg=agg, metric=m.group("metric"), filter=m.group("filter"), by=by, raw=q)
        for name, args in _MOD.findall(m.group("mods") or ""):
            if name == "as_count":
                out.as_count = True
            elif name == "as_rate":
                out.as_count = False
            elif name == "rollup":
                out.rollup = args.split(",")[0].strip() or None
            elif name != "fill":
                raise QueryError(f"unsupported function .{name}()")
        return out


def pick_interval(start: float, end: float, requested_ms: float | None) -> float:
    span = max(end - start, 1.0)
    wanted = requested_ms / 1000.0 if requested_ms else span / 300.0
    wanted = max(wanted, span / 1500.0, 10.0)
    return float(next((i for i in INTERVALS if i >= wanted), INTERVALS[-1]))


@dataclass
class Evaluated:
    times: np.ndarray  # bucket starts, epoch s
    groups: Groups = field(default_factory=dict)
    unit: str | None = None


def run_query(
    world: TelemetryWorld,
    q: MetricQuery,
    start: float,
    end: float,
    interval: float,
    removed: Callable[[str], bool],
) -> Evaluated:
    if removed(q.metric):
        return Evaluated(np.zeros(0))
    match = tag_matcher(parse_tag_filter(q.filter))
    times, series = world.metric_series(q.metric, start, end, interval, match)
    series = [s for s in series if match(s.tags)]
    if not series:
        return Evaluated(np.zeros(0))
    buckets: dict[tuple[str, ...], list[RawSeries]] = {}
    for s in series:
        key = tuple(f"{t}:{_tag_value(s.tags, t)}" for t in q.by)
        buckets.setdefault(key, []).append(s)
    out = Evaluated(times, unit=series[0].unit)
    for key, members in sorted(buckets.items()):
        values = _space(q, members, interval)
        if not np.all(np.isnan(values)):
            out.groups[key] = values
    if not out.groups:
        return Evaluated(np.zeros(0))
    return out


def _tag_value(tags: tuple[str, ...], key: str) -> str:
    for t in tags:
        k, _, v = t.partition(":")
        if k == key:
            return v
    return "N/A"


def _space(q: MetricQuery, members: list[RawSeries], interval: float) -> np.ndarray:
    kind = members[0].kind
    if kind == "distribution":
        return _distribution(q.agg, members)
    stack = np.vstack([m.values for m in members])
    if kind == "count" and q.as_count is False:
        stack = stack / interval
    present = ~np.all(np.isnan(stack), axis=0)
    with np.errstate(all="ignore"):
        if q.agg in ("sum", "count"):
            v = np.nansum(stack, axis=0) if q.agg == "sum" else np.sum(~np.isnan(stack), axis=0).astype(float)
        elif q.agg == "min":
            v = np.nanmin(np.where(present, stack, 0.0), axis=0)
        elif q.agg == "max":
            v = np.nanmax(np.where(present, stack, 0.0), axis=0)
        else:  # avg, and percentiles on non-distributions (Datadog answers with the average)
            v = np.nanmean(np.where(present, stack, 0.0), axis=0)
    return np.where(present, v, np.nan)


def _distribution(agg: str, members: list[RawSeries]) -> np.ndarray:
    weights = np.vstack(
        [np.nan_to_num(m.weights if m.weights is not None else np.ones_like(m.values)) for m in members]
    )
    total = weights.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    present = total > 0
    if agg == "count":
        v = total
    elif agg == "sum":
        v = np.nansum(np.vstack([np.nan_to_num(m.values) for m in members]) * weights, axis=0)
    elif agg in PERCENTILES or agg in ("max", "min"):
        pct = np.vstack([np.nan_to_num((m.percentiles or {}).get(agg, m.values)) for m in members])
        if agg == "max":
            v = np.max(np.where(weights > 0, pct, -np.inf), axis=0)
        elif agg == "min":
            v = np.min(np.where(weights > 0, pct, np.inf), axis=0)
        else:  # traffic-weighted mix of the contexts' percentiles: close to the merged sketch
            v = (pct * weights).sum(axis=0) / safe
    else:
        v = (np.vstack([np.nan_to_num(m.values) for m in members]) * weights).sum(axis=0) / safe
    return np.where(present, v, np.nan)


# --- formulas ---------------------------------------------------------------------------------
_FTOK = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:e[+-]?\d+)?)|(?P<name>[A-Za-z_]\w*)|(?P<op>[-+*/()]))")


def eval_formula(formula: str, env: dict[str, Evaluated]) -> Evaluated:
    """Arithmetic over named query results; grouped series pair up by group tags, scalars broadcast."""
    toks: list[tuple[str, str]] = []
    pos = 0
    while pos < len(formula.strip()):
        m = _FTOK.match(formula, pos)
        if not m or m.end() == pos:
            raise QueryError(f"unsupported formula {formula!r}")
        pos = m.end()
        kind = m.lastgroup or "op"
        toks.append((kind, m.group(kind)))
        if pos >= len(formula.rstrip()):
            break
    i = 0

    def peek() -> str | None:
        return toks[i][1] if i < len(toks) else None

    def atom() -> Evaluated | float:
        nonlocal i
        kind, val = toks[i]
        i += 1
        if kind == "num":
            return float(val)
        if kind == "name":
            if val not in env:
                raise QueryError(f"formula references unknown query {val!r}")
            return env[val]
        if val == "(":
            v = expr()
            i += 1
            return v
        if val == "-":
            return _binop(-1.0, atom(), "*")
        raise QueryError(f"unexpected {val!r} in formula")

    def term() -> Evaluated | float:
        nonlocal i
        v = atom()
        while peek() in ("*", "/"):
            op = toks[i][1]
            i += 1
            v = _binop(v, atom(), op)
        return v

    def expr() -> Evaluated | float:
        nonlocal i
        v = term()
        while peek() in ("+", "-"):
            op = toks[i][1]
            i += 1
            v = _binop(v, term(), op)
        return v

    result = expr()
    if isinstance(result, float):
        raise QueryError("a formula must reference a query")
    return result


def _binop(a: Evaluated | float, b: Evaluated | float, op: str) -> Evaluated | float:
    def f(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray | float:
        with np.errstate(all="ignore"):
            r = {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y, "/": lambda: x / y}[op]()
        return np.where(np.isfinite(r), r, np.nan) if isinstance(r, np.ndarray) else r

    if isinstance(a, float) and isinstance(b, float):
        return float(f(a, b))
    if isinstance(a, float) or isinstance(b, float):
        ev = b if isinstance(a, float) else a
        assert isinstance(ev, Evaluated)
        groups = {
            k: f(a if isinstance(a, float) else v, b if isinstance(b, float) else v)
            for k, v in ev.groups.items()
        }
        return Evaluated(ev.times, {k: np.asarray(v) for k, v in groups.items()}, ev.unit)
    assert isinstance(a, Evaluated) and isinstance(b, Evaluated)
    if not a.groups or not b.groups:
        return Evaluated(np.zeros(0))
    if list(a.groups) == [()]:
        pairs = [(k, a.groups[()], vb) for k, vb in b.groups.items()]
    elif list(b.groups) == [()]:
        pairs = [(k, va, b.groups[()]) for k, va in a.groups.items()]
    else:
        pairs = [(k, va, b.groups[k]) for k, va in a.groups.items() if k in b.groups]
    out = Evaluated(a.times, unit=a.unit if op in "+-" else None)
    for k, va, vb in pairs:
        out.groups[k] = np.asarray(f(va, vb))
    return out
