"""Query syntax: search, tag filters, metric queries, formulas, times, monitors."""

from __future__ import annotations

import numpy as np
import pytest

from sleuth.sandbox.metric_query import Evaluated, MetricQuery, eval_formula, pick_interval
from sleuth.sandbox.monitor_eval import parse_monitor
from sleuth.sandbox.query import (
    QueryError,
    parse_search,
    parse_tag_filter,
    parse_time,
    required_values,
    tag_matcher,
)

DOC = {
    "service": ["checkout"],
    "status": ["error"],
    "env": ["prod"],
    "@http.status_code": [503],
    "@duration": [2_500_000_000],
    "@error.message": ["upstream cart timed out"],
}


def match(q: str, text: str = "call to cart-service failed: 503") -> bool:
    return parse_search(q).match(lambda k: list(DOC.get(k, [])), lambda: text)


@pytest.mark.parametrize(
    "q, expected",
    [
        ("*", True),
        ("", True),
        ("service:checkout", True),
        ("service:cart", False),
        ("service:check*", True),
        ("service:checkout status:error", True),
        ("service:checkout AND status:ok", False),
        ("service:(cart OR checkout)", True),
        ("service:cart OR status:error", True),
        ("-service:checkout", False),
        ("NOT env:staging", True),
        ("@http.status_code:503", True),
        ("@http.status_code:[500 TO 599]", True),
        ("@http.status_code:>=504", False),
        ("@duration:>2s", True),
        ("@duration:<1s", False),
        ("failed", True),
        ('"cart-service failed"', True),
        ('-"cart-service failed"', False),
        ("timeout", False),
        ("@error.message:*timed*", True),
        ("(service:cart OR service:checkout) -status:ok", True),
        ("version:*", False),
    ],
)
def test_search_syntax(q: str, expected: bool) -> None:
    assert match(q) is expected


def test_search_errors_and_pushdown() -> None:
    for bad in ("service:(a OR b", "a OR", "(service:a"):
        with pytest.raises(QueryError):
            parse_search(bad)
    assert required_values(parse_search("service:a status:error"), "service") == {"a"}
    assert required_values(parse_search("service:(a OR b)"), "service") == {"a", "b"}
    assert required_values(parse_search("service:a OR status:error"), "service") is None
    assert required_values(parse_search("service:pay*"), "service") is None


@pytest.mark.parametrize(
    "f, tags, expected",
    [
        ("*", ["service:a"], True),
        ("service:a,env:prod", ["service:a", "env:prod"], True),
        ("service:a,env:prod", ["service:a", "env:staging"], False),
        ("!service:a", ["service:a"], False),
        ("service IN (a,b)", ["service:b"], True),
        ("service NOT IN (a,b)", ["service:b"], False),
        ("service:a OR service:b", ["service:b"], True),
        ("pod_name:web-7d*", ["pod_name:web-7d9f-xk2p1"], True),
        ("resource_name:get_/api/v1/cart", ["resource_name:get_/api/v1/cart"], True),
    ],
)
def test_tag_filters(f: str, tags: list[str], expected: bool) -> None:
    assert tag_matcher(parse_tag_filter(f))(tags) is expected


def test_metric_queries() -> None:
    q = MetricQuery.parse(
        "p95:trace.http.request{service:web,env:prod} by {version,resource_name}.as_count()"
    )
    assert (q.agg, q.metric, q.filter, q.by, q.as_count) == (
        "p95",
        "trace.http.request",
        "service:web,env:prod",
        ["version", "resource_name"],
        True,
    )
    assert MetricQuery.parse("kubernetes.cpu.usage.total{*}").agg == "avg"
    assert MetricQuery.parse("sum:x.y{a:b}.as_rate()").as_count is False
    assert MetricQuery.parse("avg:x{*}.rollup(max, 60)").rollup == "max"
    for bad in ("p42:x{*}", "x", "avg:x{*}.top(5)"):
        with pytest.raises(QueryError):
            MetricQuery.parse(bad)
    assert (
        pick_interval(0, 3600, None) == 20
        and pick_interval(0, 3600, 60_000) == 60
        and pick_interval(0, 86400 * 7, 10_000) >= 600
    )


def test_formulas_pair_groups_and_broadcast() -> None:
    times = np.array([0.0, 60.0])
    a = Evaluated(times, {("service:x",): np.array([2.0, 4.0]), ("service:y",): np.array([1.0, 0.0])})
    b = Evaluated(times, {("service:x",): np.array([4.0, 8.0]), ("service:y",): np.array([2.0, 0.0])})
    total = Evaluated(times, {(): np.array([10.0, 10.0])})
    ratio = eval_formula("a / b * 100", {"a": a, "b": b})
    assert ratio.groups[("service:x",)].tolist() == [50.0, 50.0]
    assert np.isnan(ratio.groups[("service:y",)][1])  # 0/0 is a gap, not an error
    share = eval_formula("(a + 0) / t", {"a": a, "t": total})
    assert share.groups[("service:y",)].tolist() == [0.1, 0.0]
    assert eval_formula("-a", {"a": a}).groups[("service:x",)].tolist() == [-2.0, -4.0]
    assert not eval_formula("a / b", {"a": a, "b": Evaluated(np.zeros(0))}).groups
    with pytest.raises(QueryError):
        eval_formula("a / c", {"a": a})


def test_times() -> None:
    now = 1_750_000_000.0
    assert parse_time("now", now) == now and parse_time("now-15m", now) == now - 900
    assert parse_time("now-2h", now) == now - 7200 and parse_time("now-1d", now) == now - 86400
    assert (
        parse_time(1_700_000_000_000, now) == 1_700_000_000 and parse_time("1700000000", now) == 1_700_000_000
    )
    assert parse_time("2026-01-01T00:00:00Z", now) == parse_time("2026-01-01T00:00:00.000+00:00", now)
    assert parse_time(None, now, default=5.0) == 5.0
    with pytest.raises(QueryError):
        parse_time("yesterday", now)


def test_monitor_queries() -> None:
    tagg, window, expr, op, thr = parse_monitor(
        "sum(last_5m):sum:trace.a.errors{env:prod,service:x}.as_count() / sum:trace.a.hits{env:prod,service:x}.as_count() > 0.05"
    )
    assert (tagg, window, op, thr) == ("sum", 300.0, ">", 0.05) and expr.count("{") == 2
    assert parse_monitor("avg(last_1h):p95:trace.b{service:y} >= 2")[1] == 3600.0
