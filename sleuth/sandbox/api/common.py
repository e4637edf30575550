"""Response helpers shared by the route modules."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response


class ApiError(Exception):
    def __init__(self, status: int, *messages: str) -> None:
        super().__init__(messages[0] if messages else str(status))
        self.status = status
        self.messages = list(messages) or ["Bad Request"]


def clean(value: Any) -> Any:
    """JSON cannot carry NaN: Datadog sends null for a missing point."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def respond(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return Response(content=body, status_code=status, media_type="application/json")


def error(status: int, *messages: str) -> Response:
    return respond({"errors": list(messages)}, status)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        raise ApiError(400, "Bad Request", "missing request body")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "Bad Request", f"invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Bad Request", "request body must be a JSON object")
    return data


def request_id() -> str:
    return uuid.uuid4().hex


def meta(elapsed_ms: int, after: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"elapsed": elapsed_ms, "request_id": request_id(), "status": "done"}
    if after:
        out["page"] = {"after": after}
    return out
