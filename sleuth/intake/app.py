"""The webhook service. It acknowledges an alert only once Temporal has durably recorded it (a
signal-with-start, which needs no worker to be up), and answers 503 when it could not, so that
Datadog — which retries only on 5xx, and gives up after 15 s — delivers again.

Signal-with-start rather than update-with-start: an update waits for a worker to run it, and the
webhook must be answered within Datadog's 15 s even when every worker is busy or down.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Security
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect
from temporalio.client import Client
from temporalio.service import RPCError

from sleuth.config import Settings, TemporalAccess
from sleuth.health import ClientProvider, Readiness, add_health_routes, temporal_problem
from sleuth.intake.dedup import Coalescer
from sleuth.intake.delivery import Accepted, deliver
from sleuth.intake.payload import WebhookPayload, investigation_id
from sleuth.intake.ratelimit import GateContention
from sleuth.observability.metrics import IntakeMetrics

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
# Datadog gives up after 15 s. Answer well before, so a slow Temporal yields a 503 (and a retry)
# rather than a timeout Datadog may not retry.
DELIVERY_DEADLINE_SECONDS = 10.0
RPC_TIMEOUT_SECONDS = 5.0
# After a failure, check Temporal's health (≈1 ms when it is down) before each delivery for this
# long, so a storm during an outage gets fast 503s instead of each request retrying for seconds.
SUSPECT_SECONDS = 30.0
TOKEN_HEADER = "X-Sleuth-Token"

__all__ = ["Accepted", "ClientProvider", "Readiness", "create_app", "from_environment", "lazy_client"]


class Unreachable(RuntimeError):
    """The client provider could not give us a connected client."""


class Problem(BaseModel):
    detail: Any


def lazy_client(
    address: str,
    namespace: str = "default",
    access: TemporalAccess | None = None,
    connect_timeout: float = 5.0,
) -> ClientProvider:
    """Connect on first use and keep the client (it reconnects by itself after an outage). The
    intake must come up, and answer 503, while Temporal is still down; one lock keeps a storm
    from opening a connection per request."""
    from sleuth.worker import connect

    lock = asyncio.Lock()
    client: Client | None = None

    async def get() -> Client:
        nonlocal client
        if client is None:
            async with lock:
                if client is None:
                    client = await asyncio.wait_for(connect(address, namespace, access), connect_timeout)
        return client

    return get


def from_environment() -> FastAPI:
    """`uvicorn --factory sleuth.intake.app:from_environment`: the intake alone, configured by env."""
    settings = Settings()
    if not settings.temporal_address:
        raise ValueError("TEMPORAL_ADDRESS is required to run the intake on its own")
    insecure = os.environ.get("SLEUTH_INSECURE_DEV", "") == "1"
    return create_app(
        settings,
        lazy_client(settings.temporal_address, settings.temporal_namespace, settings.temporal_access),
        insecure_dev=insecure,
    )


def _problem(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """Stop reading at `limit`: a chunked body declares no length and could be anything."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            return None
    return bytes(buf)


def _parse(raw: bytes) -> tuple[Any, str | None]:
    try:
        return json.loads(raw.decode("utf-8-sig")), None
    except UnicodeDecodeError as err:
        return None, f"body is not valid UTF-8 (byte {err.start})"
    except json.JSONDecodeError as err:
        return None, f"body is not valid JSON: {err.msg} at position {err.pos}"
    except RecursionError:
        return None, "body is not acceptable JSON: nested too deeply"
    except ValueError as err:  # e.g. an integer longer than Python's conversion limit
        return None, f"body is not acceptable JSON: {err}"


def create_app(
    settings: Settings,
    client: ClientProvider,
    *,
    insecure_dev: bool = False,
    readiness: Readiness | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    deadline_seconds: float = DELIVERY_DEADLINE_SECONDS,
    rpc_timeout_seconds: float = RPC_TIMEOUT_SECONDS,
    coalesce: bool = True,
) -> FastAPI:
    if not settings.webhook_token and not insecure_dev:
        raise ValueError("SLEUTH_WEBHOOK_TOKEN is required (or pass --insecure-dev for local experiments)")
    app = FastAPI(
        title="Sleuth intake",
        version="1",
        description=(
            "Datadog webhook receiver: each alert becomes a durable Temporal investigation. "
            "202 means Temporal durably has the alert; 5xx means it does not (Datadog retries)."
        ),
    )
    # Every response counted by status class and timed (DogStatsD; a no-op without an Agent):
    # the intake-5xx monitor in monitoring/ reads it.
    app.add_middleware(IntakeMetrics)
    ready = readiness or Readiness(intake=True)
    app.state.readiness = ready
    # coalesce=False sends every delivery to Temporal: the same outcome at more cost (dedup.py)
    coalescer = app.state.coalescer = Coalescer() if coalesce else None
    rpc_timeout = timedelta(seconds=rpc_timeout_seconds)
    suspect_until = 0.0
    where = settings.temporal_address or "the configured address"
    token_header = APIKeyHeader(name=TOKEN_HEADER, auto_error=False, description="SLEUTH_WEBHOOK_TOKEN")

    def unavailable(reason: str) -> JSONResponse:
        nonlocal suspect_until
        suspect_until = time.monotonic() + SUSPECT_SECONDS
        log.warning("alert not accepted: %s", reason)
        return _problem(
            503,
            f"Temporal did not durably accept the alert ({reason}). Nothing was acknowledged; "
            f"Datadog retries 5xx by itself. Check that the Temporal frontend at {where} is up "
            "(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE) and see GET /healthz.",
            headers={"Retry-After": "5"},
        )

    add_health_routes(app, ready, client)

    @app.post(
        "/webhooks/datadog",
        status_code=202,
        response_model=Accepted,
        summary="Receive one Datadog monitor notification",
        responses={
            400: {"model": Problem, "description": "not UTF-8 or not JSON"},
            401: {"model": Problem, "description": f"missing or wrong {TOKEN_HEADER}"},
            413: {"model": Problem, "description": f"body larger than {max_body_bytes} bytes"},
            422: {"model": Problem, "description": "not a JSON object, or a field of the wrong shape"},
            503: {"model": Problem, "description": "Temporal did not accept the alert: retry"},
        },
        # The body is read as raw bytes (size and UTF-8 checks come first), so it is declared here.
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookPayload"}}},
            }
        },
    )
    async def datadog_webhook(request: Request, token: str | None = Security(token_header)) -> Any:
        nonlocal suspect_until
        if settings.webhook_token and not hmac.compare_digest(
            (token or "").encode(), settings.webhook_token.encode()
        ):
            return _problem(401, f"missing or wrong {TOKEN_HEADER} header")
        try:
            raw = await _read_body(request, max_body_bytes)
        except ClientDisconnect:
            return _problem(400, "the client disconnected before sending the whole body")
        if raw is None:
            return _problem(413, f"body larger than {max_body_bytes} bytes")
        data, error = _parse(raw)
        if error:
            return _problem(400, error)
        if not isinstance(data, dict):
            return _problem(422, "body must be a JSON object (see the payload template in the README)")
        try:
            payload = WebhookPayload.model_validate(data)
        except ValidationError as err:
            fields = [
                {"field": ".".join(str(p) for p in e["loc"]), "error": e["msg"]}
                for e in err.errors(include_url=False, include_input=False)
            ]
            return _problem(422, fields)
        alert = payload.to_alert(fallback_delivery_id=f"body-{hashlib.sha256(raw).hexdigest()[:24]}")

        if time.monotonic() < suspect_until:
            reason = await temporal_problem(client)
            if reason:
                return unavailable(reason)
            suspect_until = 0.0

        async def attempt() -> Accepted:
            async with asyncio.timeout(deadline_seconds):
                try:
                    temporal = await client()
                except Exception as err:  # noqa: BLE001 - a client that cannot connect is an outage
                    raise Unreachable(f"cannot connect: {type(err).__name__}: {err}"[:400]) from err
                return await deliver(temporal, settings, alert, rpc_timeout=rpc_timeout)

        key = (investigation_id(alert), alert.delivery_id or "", alert.transition)
        try:
            return await (coalescer.run(key, attempt) if coalescer else attempt())
        except TimeoutError:
            return unavailable(f"no answer within {deadline_seconds:g}s")
        except RPCError as err:
            return unavailable(f"{err.status.name}: {err.message}"[:400])
        except (Unreachable, GateContention) as err:
            return unavailable(str(err))
        except Exception:  # a bug, not an outage: still say plainly that nothing was accepted
            log.exception("alert not accepted: unexpected error")
            return _problem(500, "internal error: the alert was not accepted (Datadog retries 5xx)")

    def openapi() -> dict[str, Any]:
        """FastAPI's schema plus the webhook body's model, which no parameter declares."""
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            body = WebhookPayload.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(body.pop("$defs", {}))
            components["WebhookPayload"] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
