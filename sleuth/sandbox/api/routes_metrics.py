"""Monitors and metrics: GET /api/v1/monitor/{id}, GET /api/v1/metrics, GET /api/v1/query,
POST /api/v2/query/timeseries."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sleuth.sandbox.api.common import ApiError, json_body, respond
from sleuth.sandbox.api.context import ApiContext
from sleuth.sandbox.metric_query import Evaluated, MetricQuery, eval_formula, pick_interval, run_query
from sleuth.sandbox.query import QueryError, parse_tag_filter, parse_time, tag_matcher

UNITS = {
    "second": ("time", "seconds", "s", 1.0),
    "millisecond": ("time", "milliseconds", "ms", 0.001),
    "nanosecond": ("time", "nanoseconds", "ns", 1e-9),
    "byte": ("bytes", "bytes", "B", 1.0),
    "nanocore": ("cpu", "nanocores", "ncores", 1e-9),
    "core": ("cpu", "cores", "cores", 1.0),
    "fraction": ("percentage", "fractions", "", 1.0),
    "percent": ("percentage", "percent", "%", 1.0),
    "hit": ("general", "hits", "", 1.0),
    "error": ("general", "errors", "", 1.0),
    "connection": ("network", "connections", "", 1.0),
    "lock": ("db", "locks", "", 1.0),
}


def unit_json(name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    family, plural, short, scale = UNITS.get(name, ("general", name + "s", "", 1.0))
    return {"family": family, "name": name, "plural": plural, "scale_factor": scale, "short_name": short}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter()

    @r.get("/api/v1/monitor/{monitor_id}")
    def get_monitor(monitor_id: str) -> Response:
        m = ctx.world.monitor()
        if monitor_id != str(m.id):
            raise ApiError(404, "Monitor not found")
        fired = int(ctx.anchor)
        body = {
            "id": m.id,
            "name": m.name,
            "type": m.type,
            "query": m.query,
            "message": m.message,
            "tags": m.tags,
            "priority": m.priority,
            "overall_state": "Alert" if ctx.now() >= ctx.anchor else "OK",
            "created": _iso(m.created),
            "modified": _iso(m.created + 86400.0 * 40),
            "creator": {"email": m.creator_email, "handle": m.creator_email, "name": m.creator_name},
            "multi": False,
            "deleted": None,
            "restricted_roles": None,
            "draft_status": "published",
            "matching_downtimes": [],
            "options": {
                "thresholds": m.thresholds,
                "notify_no_data": False,
                "notify_audit": False,
                "include_tags": True,
                "require_full_window": False,
                "new_group_delay": 60,
                "renotify_interval": 30,
                "evaluation_delay": 60,
                "silenced": {},
            },
            "state": {
                "groups": {
                    "*": {
                        "name": "*",
                        "status": "Alert",
                        "last_triggered_ts": fired,
                        "last_notified_ts": fired,
                        "last_nodata_ts": 0,
                        "last_resolved_ts": fired - 86400 * 3,
                    }
                }
            },
        }
        return respond(body)

    @r.get("/api/v1/metrics")
    def list_active_metrics(request: Request) -> Response:
        params = request.query_params
        now = ctx.now()
        if "from" not in params:
            raise ApiError(400, "Bad Request", "'from' is required")
        start = parse_time(params["from"], now)
        filters = [
            f
            for f in (params.get("tag_filter"), f"host:{params['host']}" if params.get("host") else None)
            if f
        ]
        match = tag_matcher(parse_tag_filter(",".join(filters))) if filters else None
        names = [n for n in ctx.world.metric_names(start, now, match) if not ctx.is_removed(n)]
        return respond({"from": str(int(start)), "metrics": names})

    @r.get("/api/v1/query")
    async def query_v1(request: Request) -> Response:
        p = request.query_params
        if not all(k in p for k in ("from", "to", "query")):
            raise ApiError(400, "Bad Request", "'from', 'to' and 'query' are required")
        now = ctx.now()
        start, end = parse_time(p["from"], now), min(parse_time(p["to"], now), now)
        q = MetricQuery.parse(p["query"])
        interval = pick_interval(start, end, None)
        ev = await run_in_threadpool(run_query, ctx.world, q, start, end, interval, ctx.is_removed)
        series = []
        for key, values in ev.groups.items():
            points = [
                [float(t * 1000), None if np.isnan(v) else float(v)]
                for t, v in zip(ev.times, values, strict=True)
            ]
            scope = ",".join(key) or q.filter or "*"
            series.append(
                {
                    "metric": q.metric,
                    "display_name": q.metric,
                    "pointlist": points,
                    "scope": scope,
                    "expression": q.raw,
                    "tag_set": list(key),
                    "aggr": q.agg,
                    "unit": [unit_json(ev.unit), None],
                    "start": int(ev.times[0] * 1000),
                    "end": int(ev.times[-1] * 1000),
                    "interval": int(interval),
                    "length": len(points),
                    "query_index": 0,
                }
            )
        return respond(
            {
                "status": "ok",
                "res_type": "time_series",
                "series": series,
                "from_date": int(start * 1000),
                "to_date": int(end * 1000),
                "query": p["query"],
                "group_by": q.by,
                "message": "",
            }
        )

    @r.post("/api/v2/query/timeseries")
    async def query_timeseries(request: Request) -> Response:
        body = await json_body(request)
        return respond(await run_in_threadpool(_timeseries, ctx, body))

    return r


def _timeseries(ctx: ApiContext, body: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    data = body.get("data") or {}
    if data.get("type") != "timeseries_request":
        raise ApiError(400, "Bad Request", "data.type must be 'timeseries_request'")
    attrs = data.get("attributes") or {}
    queries = attrs.get("queries") or []
    if not queries:
        raise ApiError(400, "Bad Request", "at least one query is required")
    now = ctx.now()
    try:
        start = parse_time(attrs["from"], now)
        end = min(parse_time(attrs["to"], now), now)
    except KeyError as exc:
        raise ApiError(400, "Bad Request", f"missing {exc.args[0]!r}") from exc
    if end <= start:
        return _ts_response([], [], np.zeros(0), started)
    interval = pick_interval(start, end, attrs.get("interval"))
    env: dict[str, Evaluated] = {}
    for i, q in enumerate(queries):
        if q.get("data_source", "metrics") != "metrics":
            raise ApiError(400, "Bad Request", f"unsupported data_source {q.get('data_source')!r}")
        name = q.get("name") or f"query{i + 1}"
        try:
            env[name] = run_query(
                ctx.world, MetricQuery.parse(q.get("query", "")), start, end, interval, ctx.is_removed
            )
        except QueryError as exc:
            raise ApiError(400, "Bad Request", str(exc)) from exc
    formulas = [f.get("formula", "") for f in attrs.get("formulas") or []]
    outputs = [eval_formula(f, env) for f in formulas] if formulas else list(env.values())
    times = next((o.times for o in outputs if o.groups), np.zeros(0))
    series, values = [], []
    for index, out in enumerate(outputs):
        for key, vals in sorted(out.groups.items()):
            series.append(
                {"group_tags": list(key), "query_index": index, "unit": [unit_json(out.unit), None]}
            )
            values.append(vals)
    return _ts_response(series, values, times, started)


def _ts_response(
    series: list[dict[str, Any]], values: list[np.ndarray], times: np.ndarray, started: float
) -> dict[str, Any]:
    if not series:
        times = np.zeros(0)
    return {
        "data": {
            "type": "timeseries_response",
            "attributes": {
                "series": series,
                "times": [int(t * 1000) for t in times],
                "values": [[None if np.isnan(v) else round(float(v), 9) for v in vals] for vals in values],
            },
        }
    }
