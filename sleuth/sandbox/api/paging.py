"""Datadog's cursor-paginated searches (logs, spans, events): how a request names its page, and how
a page is cut. A cursor freezes the window, query and order, so relative times do not drift between
pages."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from sleuth.sandbox.api import records as rec
from sleuth.sandbox.api.common import ApiError, meta
from sleuth.sandbox.query import QueryError, parse_time

MAX_LIMIT = 1000
DEFAULT_LIMIT = 10
DEFAULT_WINDOW_SECONDS = 900.0

T = TypeVar("T")


@dataclass(frozen=True)
class SearchRequest:
    query: str = "*"
    frm: object = None
    to: object = None
    sort: str | None = None
    limit: object = None
    cursor: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> SearchRequest:
        """`{"filter": {"query", "from", "to"}, "sort", "page": {"limit", "cursor"}}`."""
        flt, page = body.get("filter") or {}, body.get("page") or {}
        return cls(
            flt.get("query") or "*",
            flt.get("from"),
            flt.get("to"),
            body.get("sort"),
            page.get("limit"),
            page.get("cursor"),
        )

    @classmethod
    def from_params(cls, p: Mapping[str, str]) -> SearchRequest:
        """`filter[query]`, `filter[from]`, `filter[to]`, `sort`, `page[limit]`, `page[cursor]`."""
        return cls(
            p.get("filter[query]") or "*",
            p.get("filter[from]"),
            p.get("filter[to]"),
            p.get("sort"),
            p.get("page[limit]"),
            p.get("page[cursor]"),
        )


def search_page(
    req: SearchRequest,
    now: float,
    fetch: Callable[[str, float, float], list[T]],
    render: Callable[[T], dict[str, Any]],
    next_url: str,
) -> dict[str, Any]:
    """One page of `fetch(query, start, end)` (oldest first), newest first unless `sort` says otherwise."""
    started = time.perf_counter()
    n = _limit(req.limit)
    offset, query, sort = 0, req.query, req.sort
    if req.cursor:
        try:
            state = rec.decode_cursor(req.cursor)
            start, end, offset, query, sort = state["f"], state["t"], state["o"], state["q"], state["s"]
        except (ValueError, KeyError) as exc:
            raise ApiError(400, "Bad Request", "invalid cursor") from exc
    else:
        start, end = window(now, req.frm, req.to)
    sort = sort or "-timestamp"
    if sort not in ("timestamp", "-timestamp"):
        raise ApiError(400, "Bad Request", f"invalid sort {sort!r}")
    try:
        items = fetch(query, start, end)
    except QueryError as exc:
        raise ApiError(400, "Bad Request", str(exc)) from exc
    if sort == "-timestamp":
        items.reverse()
    page = items[offset : offset + n]
    body: dict[str, Any] = {"data": [render(r) for r in page]}
    after = None
    if offset + n < len(items):
        after = rec.encode_cursor({"f": start, "t": end, "o": offset + n, "q": query, "s": sort})
        params = {"filter[query]": query, "page[cursor]": after, "page[limit]": n, "sort": sort}
        body["links"] = {"next": f"{next_url}?{urlencode(params)}"}
    body["meta"] = meta(int((time.perf_counter() - started) * 1000), after)
    return body


def window(now: float, frm: object, to: object) -> tuple[float, float]:
    """`from`/`to` as Datadog takes them (ISO, epoch ms, `now-15m`), never past now; the last 15 minutes by default."""
    try:
        start = parse_time(frm, now, default=now - DEFAULT_WINDOW_SECONDS)
        end = min(parse_time(to, now, default=now), now)
    except QueryError as exc:
        raise ApiError(400, "Bad Request", str(exc)) from exc
    return start, end


def _limit(limit: object) -> int:
    try:
        n = int(limit) if limit not in (None, "") else DEFAULT_LIMIT  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "Bad Request", "page limit must be an integer") from exc
    if not 1 <= n <= MAX_LIMIT:
        raise ApiError(400, "Bad Request", f"page limit must be between 1 and {MAX_LIMIT}")
    return n
