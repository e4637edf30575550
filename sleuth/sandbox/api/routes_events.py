"""Events (read and write) and notebooks: GET /api/v2/events, POST /api/v2/events/search,
POST /api/v1/events, POST /api/v2/events, POST /api/v1/notebooks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sleuth.sandbox.api import records as rec
from sleuth.sandbox.api.common import ApiError, json_body, respond
from sleuth.sandbox.api.context import ApiContext
from sleuth.sandbox.api.paging import SearchRequest, search_page
from sleuth.sandbox.protocol import EventRecord
from sleuth.sandbox.query import parse_search

V1_TITLE_MAX, V1_TEXT_MAX = 100, 4000
V2_TITLE_MAX, V2_MESSAGE_MAX = 500, 4000


def list_events(ctx: ApiContext, req: SearchRequest) -> dict[str, Any]:
    def fetch(query: str, start: float, end: float) -> list[EventRecord]:
        node = parse_search(query)
        with ctx.lock:
            posted = [e for e in ctx.posted if start <= e.timestamp < end]
        items = sorted(ctx.world.events(start, end) + posted, key=lambda e: (e.timestamp, e.id))
        return [e for e in items if node.match(rec.event_lookup(e), rec.event_text(e))]

    return search_page(req, ctx.now(), fetch, rec.event_json, f"{ctx.base_url}/api/v2/events")


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ApiError(400, "Bad Request", message)


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ApiError(400, "Bad Request", f"'{key}' is required")
    if len(value) > limit:
        raise ApiError(400, "Bad Request", f"'{key}' is limited to {limit} characters")
    return value


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ApiError(400, "Bad Request", f"'{key}' is required")
    return value


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter()

    @r.get("/api/v2/events")
    async def get_events(request: Request) -> Response:
        req = SearchRequest.from_params(request.query_params)
        return respond(await run_in_threadpool(list_events, ctx, req))

    @r.post("/api/v2/events/search")
    async def search_events(request: Request) -> Response:
        req = SearchRequest.from_body(await json_body(request))
        return respond(await run_in_threadpool(list_events, ctx, req))

    @r.post("/api/v1/events")
    async def create_event_v1(request: Request) -> Response:
        body = await json_body(request)
        title, text = _text(body, "title", V1_TITLE_MAX), _text(body, "text", V1_TEXT_MAX)
        tags = body.get("tags") or []
        _require(
            isinstance(tags, list) and all(isinstance(t, str) for t in tags),
            "'tags' must be a list of strings",
        )
        now = ctx.now()
        happened = int(body.get("date_happened") or now)
        ident = rec.hash_str(f"v1{len(ctx.recorded.events)}{title}{now}") % 10**15
        record = EventRecord(
            id=f"AAAAAYp{ident:019d}",
            timestamp=float(happened),
            title=title,
            text=text,
            tags=tags,
            source=str(body.get("source_type_name") or "my_apps").lower(),
            status=str(body.get("alert_type") or "info"),
            priority=str(body.get("priority") or "normal"),
            host=body.get("host"),
            aggregation_key=body.get("aggregation_key"),
        )
        with ctx.lock:
            ctx.recorded.events.append(body)
            ctx.posted.append(record)
        event = {
            "id": ident,
            "id_str": str(ident),
            "title": title,
            "text": text,
            "date_happened": happened,
            "tags": tags,
            "priority": record.priority if record.priority in ("normal", "low") else "normal",
            "alert_type": record.status if record.status in _ALERT_TYPES else "info",
            "url": f"https://app.datadoghq.com/event/event?id={ident}",
        }
        if body.get("source_type_name"):
            event["source_type_name"] = body["source_type_name"]
        return respond({"status": "ok", "event": event}, 202)

    @r.post("/api/v2/events")
    async def create_event_v2(request: Request) -> Response:
        body = await json_body(request)
        data = _obj(body, "data")
        _require(data.get("type") == "event", "data.type must be 'event'")
        attrs = _obj(data, "attributes")
        title, category = _text(attrs, "title", V2_TITLE_MAX), attrs.get("category")
        _require(category in ("change", "alert"), "'category' must be 'change' or 'alert'")
        _require(
            len(str(attrs.get("message") or "")) <= V2_MESSAGE_MAX, "'message' is limited to 4000 characters"
        )
        custom = _obj(attrs, "attributes")
        if category == "change":
            changed = custom.get("changed_resource") or {}
            _require(
                bool(changed.get("name")) and changed.get("type") in ("feature_flag", "configuration"),
                "attributes.changed_resource needs a name and a type",
            )
        else:
            _require(
                custom.get("status") in ("ok", "warn", "error"), "attributes.status must be ok, warn or error"
            )
        now = ctx.now()
        ident = rec.hash_str(f"v2{len(ctx.recorded.events)}{title}{now}") % 10**15
        status = {"warn": "warning"}.get(str(custom.get("status")), str(custom.get("status") or "info"))
        record = EventRecord(
            id=f"AAAAAYq{ident:019d}",
            timestamp=now,
            title=title,
            text=str(attrs.get("message") or ""),
            tags=list(attrs.get("tags") or []),
            source="custom-events",
            status=status,
            host=attrs.get("host"),
            aggregation_key=attrs.get("aggregation_key"),
            category=category,
            extra={k: v for k, v in custom.items() if k != "status"},
        )
        with ctx.lock:
            ctx.recorded.events.append(body)
            ctx.posted.append(record)
        return respond(
            {
                "data": {
                    "type": "event",
                    "attributes": {"attributes": {"evt": {"id": str(ident), "uid": f"AZ{ident:x}"}}},
                },
                "links": {"self": f"https://app.datadoghq.com/event/event?uid=AZ{ident:x}"},
            },
            202,
        )

    @r.post("/api/v1/notebooks")
    async def create_notebook(request: Request) -> Response:
        body = await json_body(request)
        data = _obj(body, "data")
        _require(data.get("type") == "notebooks", "data.type must be 'notebooks'")
        attrs = _obj(data, "attributes")
        _text(attrs, "name", 1000)
        _obj(attrs, "time")
        cells = attrs.get("cells")
        if not isinstance(cells, list) or not cells:
            raise ApiError(400, "Bad Request", "'cells' must be a non-empty list")
        for c in cells:
            _require(
                isinstance(c, dict) and c.get("type") == "notebook_cells",
                "each cell needs type 'notebook_cells'",
            )
            definition = (c.get("attributes") or {}).get("definition")
            _require(
                isinstance(definition, dict) and bool(definition.get("type")), "each cell needs a definition"
            )
        with ctx.lock:
            ctx.recorded.notebooks.append(body)
            number = 8_000_000 + len(ctx.recorded.notebooks)
        stamp = datetime.fromtimestamp(ctx.now(), tz=UTC).isoformat()
        out_cells = [
            {
                "id": f"{rec.hash_str(f'{number}-{i}') % 36**8:08x}"[:8],
                "type": "notebook_cells",
                "attributes": c["attributes"],
            }
            for i, c in enumerate(cells)
        ]
        return respond(
            {
                "data": {
                    "id": number,
                    "type": "notebooks",
                    "attributes": {
                        "name": attrs["name"],
                        "cells": out_cells,
                        "time": attrs["time"],
                        "status": attrs.get("status", "published"),
                        "metadata": attrs.get("metadata") or {},
                        "created": stamp,
                        "modified": stamp,
                        "author": {
                            "handle": "sleuth@example.com",
                            "name": "Sleuth",
                            "email": "sleuth@example.com",
                            "status": "Active",
                            "verified": True,
                            "disabled": False,
                        },
                    },
                }
            }
        )

    return r


_ALERT_TYPES = ("error", "warning", "info", "success", "user_update", "recommendation", "snapshot")
