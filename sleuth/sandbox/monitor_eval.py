"""Evaluate a metric monitor's query the way Datadog does, against any `TelemetryWorld`.

Used to check that a world's monitor really fires at its anchor (and not long before), and to
word the alert's status. Time aggregation happens before arithmetic, as for `as_count()` monitors.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from sleuth.sandbox.metric_query import Evaluated, MetricQuery, eval_formula, run_query
from sleuth.sandbox.protocol import TelemetryWorld
from sleuth.sandbox.query import QueryError

_MONITOR = re.compile(
    r"^\s*(?P<tagg>avg|sum|min|max)\((?P<n>last_(?P<num>\d+)(?P<unit>[mhd]))\)\s*:\s*(?P<expr>.+?)\s*"
    r"(?P<op>>=|<=|>|<)\s*(?P<thr>-?\d+(?:\.\d+)?)\s*$"
)
_METRIC = re.compile(r"(?:[a-z0-9]+:)?[A-Za-z][\w.\-]*\{[^}]*\}(?:\s*by\s*\{[^}]*\})?(?:\.\w+\([^)]*\))*")
_UNIT = {"m": 60, "h": 3600, "d": 86400}


def parse_monitor(query: str) -> tuple[str, float, str, str, float]:
    """(time aggregation, window seconds, expression, comparator, threshold)."""
    m = _MONITOR.match(query)
    if not m:
        raise QueryError(f"unsupported monitor query {query!r}")
    window = int(m.group("num")) * _UNIT[m.group("unit")]
    return m.group("tagg"), float(window), m.group("expr"), m.group("op"), float(m.group("thr"))


def monitor_value(
    world: TelemetryWorld, query: str, at: float, removed: Callable[[str], bool] = lambda _: False
) -> float | None:
    """The worst group's value of the monitor's expression over the window ending at `at`."""
    tagg, window, expr, op, _ = parse_monitor(query)
    names: dict[str, Evaluated] = {}

    def substitute(match: re.Match[str]) -> str:
        name = f"q{len(names)}"
        q = MetricQuery.parse(match.group(0))
        ev = run_query(world, q, at - window, at, 60.0, removed)
        scalars = {}
        for key, values in ev.groups.items():
            vals = values[~np.isnan(values)]
            if len(vals):
                scalars[key] = np.array([_time_aggregate(tagg, vals)])
        names[name] = Evaluated(np.array([at]), scalars, ev.unit)
        return name

    formula = _METRIC.sub(substitute, expr)
    result = eval_formula(formula, names)
    values = [float(v[0]) for v in result.groups.values() if not np.isnan(v[0])]
    if not values:
        return None
    return max(values) if op in (">", ">=") else min(values)


def _time_aggregate(how: str, values: np.ndarray) -> float:
    if how == "sum":
        return float(np.sum(values))
    if how == "min":
        return float(np.min(values))
    if how == "max":
        return float(np.max(values))
    return float(np.mean(values))


def monitor_triggered(world: TelemetryWorld, query: str, at: float) -> bool:
    _, _, _, op, threshold = parse_monitor(query)
    value = monitor_value(world, query, at)
    if value is None:
        return False
    return {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
    }[op]
