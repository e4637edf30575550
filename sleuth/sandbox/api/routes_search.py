"""Logs and spans search and analytics: /api/v2/logs/events[/search], /api/v2/logs/analytics/aggregate,
/api/v2/spans/events[/search], /api/v2/spans/analytics/aggregate."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sleuth.sandbox.api import records as rec
from sleuth.sandbox.api.common import ApiError, json_body, meta, respond
from sleuth.sandbox.api.context import ApiContext
from sleuth.sandbox.api.paging import SearchRequest, search_page, window
from sleuth.sandbox.protocol import LogRecord, SpanRecord
from sleuth.sandbox.query import Lookup, QueryError, Text, parse_search, required_values

Record = LogRecord | SpanRecord


class Source:
    """One searchable kind of record: how to fetch, see and render it."""

    def __init__(self, ctx: ApiContext, kind: str) -> None:
        self.ctx, self.kind = ctx, kind

    def fetch(self, query: str, start: float, end: float) -> list[Record]:
        node = parse_search(query)
        if self.kind == "logs":
            services = required_values(node, "service")
            items: Sequence[Record] = self.ctx.world.logs(start, end, services)
        else:
            items = self.ctx.world.spans(start, end)
        return [r for r in items if node.match(self.lookup(r), self.text(r))]

    def lookup(self, r: Record) -> Lookup:
        return rec.log_lookup(r) if isinstance(r, LogRecord) else rec.span_lookup(r)

    def text(self, r: Record) -> Text:
        return (lambda: r.message) if isinstance(r, LogRecord) else rec.span_text(r)

    def render(self, r: Record) -> dict[str, Any]:
        return rec.log_json(r) if isinstance(r, LogRecord) else rec.span_json(r)

    def ts(self, r: Record) -> float:
        return r.timestamp if isinstance(r, LogRecord) else r.start

    @property
    def get_path(self) -> str:
        return "/api/v2/logs/events" if self.kind == "logs" else "/api/v2/spans/events"


def list_records(src: Source, req: SearchRequest) -> dict[str, Any]:
    def fetch(query: str, start: float, end: float) -> list[Record]:
        return src.fetch(query, start, end) if end > start else []

    return search_page(req, src.ctx.now(), fetch, src.render, f"{src.ctx.base_url}{src.get_path}")


# --- analytics --------------------------------------------------------------------------------
_AGG_PCT = {"median": 50, "pc75": 75, "pc90": 90, "pc95": 95, "pc98": 98, "pc99": 99}
_INTERVAL = re.compile(r"^(\d+)(ms|s|m|h|d)?$")


def _interval_s(value: object, span: float) -> float:
    m = _INTERVAL.match(str(value or "").strip())
    if not m:
        return max(60.0, span / 100.0)
    n = float(m.group(1))
    return max(1.0, n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 0.001}[m.group(2)])


def _compute(agg: str, metric: str | None, items: list[Record], lookup: Callable[[Record], Lookup]) -> float:
    if agg == "count":
        return float(len(items))
    values = [v for r in items for v in lookup(r)(metric or "") if v is not None]
    if agg == "cardinality":
        return float(len({str(v) for v in values}))
    nums = np.array(
        [float(str(v)) for v in values if isinstance(v, int | float) or str(v).replace(".", "", 1).isdigit()]
    )
    if not len(nums):
        return 0.0
    if agg in _AGG_PCT:
        return float(np.percentile(nums, _AGG_PCT[agg]))
    if agg == "sum":
        return float(nums.sum())
    if agg == "min":
        return float(nums.min())
    if agg == "max":
        return float(nums.max())
    return float(nums.mean())


def aggregate(src: Source, body: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    flt = body.get("filter") or {}
    start, end = window(src.ctx.now(), flt.get("from"), flt.get("to"))
    try:
        items = src.fetch(flt.get("query") or "*", start, end) if end > start else []
    except QueryError as exc:
        raise ApiError(400, "Bad Request", str(exc)) from exc
    computes = body.get("compute") or [{"aggregation": "count", "type": "total"}]
    group_by = body.get("group_by") or []
    groups: dict[tuple[str, ...], list[Record]] = {}
    for r in items:
        parts: list[str] = []
        for g in group_by:
            found = src.lookup(r)(g.get("facet", ""))
            if not found:
                if g.get("missing") is None:
                    break
                found = [g["missing"]]
            parts.append(str(found[0]))
        else:
            groups.setdefault(tuple(parts), []).append(r)
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for key, members in groups.items():
        by: dict[str, Any] = {g.get("facet", ""): v for g, v in zip(group_by, key, strict=True)}
        values: dict[str, Any] = {}
        for i, c in enumerate(computes):
            agg, metric = str(c.get("aggregation", "count")), c.get("metric")
            if c.get("type") == "timeseries":
                step = _interval_s(c.get("interval"), end - start)
                points = []
                for b in np.arange(np.floor(start / step) * step, end, step):
                    inside = [m for m in members if b <= src.ts(m) < b + step]
                    points.append(
                        {"time": rec.iso(float(b)), "value": _compute(agg, metric, inside, src.lookup)}
                    )
                values[f"c{i}"] = points
            else:
                values[f"c{i}"] = _compute(agg, metric, members, src.lookup)
        out.append((by, values))
    out.sort(key=lambda bv: -(bv[1]["c0"] if isinstance(bv[1]["c0"], float) else len(bv[1]["c0"])))
    limit = int((group_by[0].get("limit") if group_by else None) or 10) if group_by else 1
    return out[: max(limit, 1)] if group_by else out


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter()
    logs, spans = Source(ctx, "logs"), Source(ctx, "spans")

    @r.post("/api/v2/logs/events/search")
    async def list_logs(request: Request) -> Response:
        req = SearchRequest.from_body(await json_body(request))
        return respond(await run_in_threadpool(list_records, logs, req))

    @r.get("/api/v2/logs/events")
    async def list_logs_get(request: Request) -> Response:
        req = SearchRequest.from_params(request.query_params)
        return respond(await run_in_threadpool(list_records, logs, req))

    @r.post("/api/v2/spans/events/search")
    async def list_spans(request: Request) -> Response:
        data = (await json_body(request)).get("data") or {}
        if data.get("type", "search_request") != "search_request":
            raise ApiError(400, "Bad Request", "data.type must be 'search_request'")
        req = SearchRequest.from_body(data.get("attributes") or {})
        return respond(await run_in_threadpool(list_records, spans, req))

    @r.get("/api/v2/spans/events")
    async def list_spans_get(request: Request) -> Response:
        req = SearchRequest.from_params(request.query_params)
        return respond(await run_in_threadpool(list_records, spans, req))

    @r.post("/api/v2/logs/analytics/aggregate")
    async def aggregate_logs(request: Request) -> Response:
        body = await json_body(request)
        started = time.perf_counter()
        buckets = await run_in_threadpool(aggregate, logs, body)
        return respond(
            {
                "data": {"buckets": [{"by": by, "computes": c} for by, c in buckets]},
                "meta": meta(int((time.perf_counter() - started) * 1000)),
            }
        )

    @r.post("/api/v2/spans/analytics/aggregate")
    async def aggregate_spans(request: Request) -> Response:
        data = (await json_body(request)).get("data") or {}
        if data.get("type", "aggregate_request") != "aggregate_request":
            raise ApiError(400, "Bad Request", "data.type must be 'aggregate_request'")
        started = time.perf_counter()
        buckets = await run_in_threadpool(aggregate, spans, data.get("attributes") or {})
        items = [
            {
                "id": rec.encode_cursor({"b": i}),
                "type": "bucket",
                "attributes": {"by": by, "compute": c, "computes": c},
            }
            for i, (by, c) in enumerate(buckets)
        ]
        return respond({"data": items, "meta": meta(int((time.perf_counter() - started) * 1000))})

    return r
