"""The ASGI app: Datadog's key checks, injected faults, request recording, Datadog-shaped errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from sleuth.sandbox.api import routes_events, routes_metrics, routes_search
from sleuth.sandbox.api.common import ApiError, error
from sleuth.sandbox.api.context import ApiContext
from sleuth.sandbox.faults import FaultRule
from sleuth.sandbox.query import QueryError

log = logging.getLogger(__name__)
# Intake endpoints take an API key alone; everything else also needs an application key.
INTAKE = {
    ("POST", "/api/v1/events"),
    ("POST", "/api/v2/events"),
    ("POST", "/api/v1/series"),
    ("POST", "/api/v2/series"),
}
MALFORMED = b'{"data": [{"type": "log", "attributes": {"message": "trunc'


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(routes_metrics.router(ctx))
    app.include_router(routes_search.router(ctx))
    app.include_router(routes_events.router(ctx))

    @app.middleware("http")
    async def datadog(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path, method = request.url.path, request.method
        response = _auth(ctx, request)
        if response is None:
            rule = ctx.faults.take(path)
            if rule is not None and rule.kind == "slow":
                await asyncio.sleep(rule.delay_seconds)
                rule = None
            response = _faulted(rule) if rule is not None else await call_next(request)
        with ctx.lock:
            ctx.requests.append((method, path, response.status_code))
        return response

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        return error(exc.status, *exc.messages)

    @app.exception_handler(QueryError)
    async def query_error(_: Request, exc: QueryError) -> Response:
        return error(400, "Bad Request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        return error(400, "Bad Request", str(exc.errors()[:1]))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error(404, "Not found")
        if exc.status_code == 405:
            return error(405, "Method Not Allowed")
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def crash(_: Request, exc: Exception) -> Response:
        log.exception("sandbox handler failed")
        return error(500, "Internal Server Error")

    return app


def _auth(ctx: ApiContext, request: Request) -> Response | None:
    if not request.url.path.startswith("/api/"):
        return None
    if request.headers.get("dd-api-key") != ctx.api_key:
        return error(403, "Forbidden")
    intake = (request.method, request.url.path) in INTAKE
    if not intake and request.headers.get("dd-application-key") != ctx.app_key:
        return error(403, "Forbidden")
    return None


def _faulted(rule: FaultRule) -> Response:
    if rule.kind == "429":
        response = error(429, "Too many requests")
        response.headers.update(
            {
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Period": "10",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(rule.reset_seconds),
                "X-RateLimit-Name": "sandbox",
            }
        )
        return response
    if rule.kind == "malformed":
        return Response(content=MALFORMED, status_code=200, media_type="application/json")
    messages = {"500": "Internal Server Error", "503": "Service Unavailable", "403": "Forbidden"}
    return error(int(rule.kind), messages[rule.kind])
