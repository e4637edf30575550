"""Logs and spans search and analytics: /api/v2/logs/events[/search], /api/v2/logs/analytics/aggregate,
/api/v2/spans/events[/search], /api/v2/spans/analytics/aggregate."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sleuth.sandbox.api import records as rec
from sleuth.sandbox.api.common import ApiError, json_body, meta, respond
from sleuth.sandbox.api.context import ApiContext
from sleuth.sandbox.protocol import LogRecord, SpanRecord
from sleuth.sandbox.query import Lookup, QueryError, Text, parse_search, parse_time, required_values

MAX_LIMIT = 1000
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


def _window(ctx: ApiContext, frm: object, to: object) -> tuple[float, float]:
    now = ctx.now()
    try:
        start = parse_time(frm, now, default=now - 900.0)
        end = min(parse_time(to, now, default=now), now)
    except QueryError as exc:
        raise ApiError(400, "Bad Request", str(exc)) from exc
    return start, end


def list_records(
    src: Source, query: str, frm: object, to: object, sort: str | None, limit: object, cursor: str | None
) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        n = int(limit) if limit is not None else 10  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "Bad Request", "page limit must be an integer") from exc
    if not 1 <= n <= MAX_LIMIT:
        raise ApiError(400, "Bad Request", f"page limit must be between 1 and {MAX_LIMIT}")
    offset = 0
    if cursor:  # a cursor freezes the window, so relative times do not drift between pages
        try:
            state = rec.decode_cursor(cursor)
            start, end, offset, query, sort = state["f"], state["t"], state["o"], state["q"], state["s"]
        except (ValueError, KeyError) as exc:
            raise ApiError(400, "Bad Request", "invalid cursor") from exc
    else:
        start, end = _window(src.ctx, frm, to)
    sort = sort or "-timestamp"
    if sort not in ("timestamp", "-timestamp"):
        raise ApiError(400, "Bad Request", f"invalid sort {sort!r}")
    try:
        items = src.fetch(query, start, end) if end > start else []
    except QueryError as exc:
        raise ApiError(400, "Bad Request", str(exc)) from exc
    if sort == "-timestamp":
        items.reverse()
    page = items[offset : offset + n]
    body: dict[str, Any] = {"data": [src.render(r) for r in page]}
    after = None
    if offset + n < len(items):
        after = rec.encode_cursor({"f": start, "t": end, "o": offset + n, "q": query, "s": sort})
        params = {"filter[query]": query, "page[cursor]": after, "page[limit]": n, "sort": sort}
        body["links"] = {"next": f"{src.ctx.base_url}{src.get_path}?{urlencode(params)}"}
    body["meta"] = meta(int((time.perf_counter() - started) * 1000), after)
    return body


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
    start, end = _window(src.ctx, flt.get("from"), flt.get("to"))
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
        body = await json_body(request)
        flt, page = body.get("filter") or {}, body.get("page") or {}
        return respond(
            await run_in_threadpool(
                list_records,
                logs,
                flt.get("query") or "*",
                flt.get("from"),
                flt.get("to"),
                body.get("sort"),
                page.get("limit"),
                page.get("cursor"),
            )
        )

    @r.get("/api/v2/logs/events")
    async def list_logs_get(request: Request) -> Response:
        return respond(await run_in_threadpool(_get, logs, request))

    @r.post("/api/v2/spans/events/search")
    async def list_spans(request: Request) -> Response:
        data = (await json_body(request)).get("data") or {}
        if data.get("type", "search_request") != "search_request":
            raise ApiError(400, "Bad Request", "data.type must be 'search_request'")
        attrs = data.get("attributes") or {}
        flt, page = attrs.get("filter") or {}, attrs.get("page") or {}
        return respond(
            await run_in_threadpool(
                list_records,
                spans,
                flt.get("query") or "*",
                flt.get("from"),
                flt.get("to"),
                attrs.get("sort"),
                page.get("limit"),
                page.get("cursor"),
            )
        )

    @r.get("/api/v2/spans/events")
    async def list_spans_get(request: Request) -> Response:
        return respond(await run_in_threadpool(_get, spans, request))

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


def _get(src: Source, request: Request) -> dict[str, Any]:
    p = request.query_params
    return list_records(
        src,
        p.get("filter[query]") or "*",
        p.get("filter[from]"),
        p.get("filter[to]"),
        p.get("sort"),
        p.get("page[limit]"),
        p.get("page[cursor]"),
    )
