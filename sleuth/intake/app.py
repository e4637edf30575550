"""The webhook service. It acknowledges an alert only once Temporal has durably recorded it (a
signal-with-start, which needs no worker to be up), and answers 503 when it could not, so that
Datadog — which retries only on 5xx — delivers again.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError

from sleuth.config import Settings
from sleuth.intake.payload import WebhookPayload, investigation_id
from sleuth.models.alert import Alert, AlertDelivery
from sleuth.models.requests import InvestigationRequest
from sleuth.workflows import InvestigateAlert
from sleuth.workflows import search_attributes as sa

MAX_BODY_BYTES = 256 * 1024

ClientProvider = Callable[[], Awaitable[Client]]


class Accepted(BaseModel):
    investigation_id: str
    status: str  # "accepted" (started or attached) | "delivered" | "ignored"
    detail: str = ""
    run_id: str | None = None


class Readiness:
    """What /healthz reports: the intake is ready only when its dependencies are."""

    def __init__(self) -> None:
        self.checks: dict[str, bool] = {"intake": True}

    def set(self, name: str, ok: bool) -> None:
        self.checks[name] = ok

    @property
    def ready(self) -> bool:
        return all(self.checks.values())


def _problem(status: int, detail: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail})


def create_app(
    settings: Settings,
    client: ClientProvider,
    *,
    insecure_dev: bool = False,
    readiness: Readiness | None = None,
) -> FastAPI:
    if not settings.webhook_token and not insecure_dev:
        raise ValueError("SLEUTH_WEBHOOK_TOKEN is required (or pass --insecure-dev for local experiments)")
    app = FastAPI(
        title="Sleuth intake",
        version="1",
        description="Datadog webhook receiver: each alert becomes a durable Temporal investigation.",
    )
    ready = readiness or Readiness()
    app.state.readiness = ready

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse(
            status_code=200 if ready.ready else 503, content={"ready": ready.ready, "checks": ready.checks}
        )

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "alive"}

    @app.post(
        "/webhooks/datadog",
        status_code=202,
        response_model=Accepted,
        responses={400: {}, 401: {}, 413: {}, 422: {}, 503: {}},
    )
    async def datadog_webhook(request: Request, x_sleuth_token: str | None = Header(default=None)) -> Any:
        if settings.webhook_token and not hmac.compare_digest(
            (x_sleuth_token or "").encode(), settings.webhook_token.encode()
        ):
            return _problem(401, "missing or wrong X-Sleuth-Token header")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _problem(413, f"body larger than {MAX_BODY_BYTES} bytes")
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _problem(413, f"body larger than {MAX_BODY_BYTES} bytes")
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return _problem(400, "body is not valid UTF-8")
        except json.JSONDecodeError as err:
            return _problem(400, f"body is not valid JSON: {err.msg} at position {err.pos}")
        if not isinstance(data, dict):
            return _problem(422, "body must be a JSON object (see the payload template in the README)")
        try:
            payload = WebhookPayload.model_validate(data)
        except ValidationError as err:
            fields = [
                {"field": ".".join(str(p) for p in e["loc"]), "error": e["msg"]}
                for e in err.errors(include_url=False)
            ]
            return _problem(422, fields)
        alert = payload.to_alert()
        try:
            return await _deliver(settings, await client(), alert)
        except (RPCError, OSError, RuntimeError) as err:
            return _problem(503, f"Temporal did not accept the alert, retry later: {type(err).__name__}")

    return app


async def _deliver(settings: Settings, client: Client, alert: Alert) -> Accepted:
    wid = investigation_id(alert)
    delivery = AlertDelivery(alert=alert, received_at=datetime.now(UTC))
    if not alert.starts_investigation:
        handle = client.get_workflow_handle(wid)
        try:
            await handle.signal(InvestigateAlert.alert, delivery)
        except RPCError as err:
            if "not found" in str(err).lower() or "already completed" in str(err).lower():
                return Accepted(
                    investigation_id=wid,
                    status="ignored",
                    detail=f"no running investigation for {alert.transition}",
                )
            raise
        return Accepted(investigation_id=wid, status="delivered", detail=alert.transition)

    request = InvestigationRequest(
        alert=alert,
        received_at=delivery.received_at,
        budget=settings.budget(),
        model=settings.model,
        task_queue=settings.task_queue,
        namespace=settings.temporal_namespace,
    )
    pairs = [SearchAttributePair(sa.PHASE, "received")]
    if alert.monitor_id:
        pairs.append(SearchAttributePair(sa.MONITOR_ID, alert.monitor_id))
    service = alert.tag_value("service")
    if service:
        pairs.append(SearchAttributePair(sa.SERVICE, service))
    env = alert.tag_value("env")
    if env:
        pairs.append(SearchAttributePair(sa.ENV, env))
    handle = await client.start_workflow(
        InvestigateAlert.run,
        request,
        id=wid,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=TypedSearchAttributes(pairs),
        start_signal="alert",
        start_signal_args=[delivery],
        static_summary=f"Investigate: {alert.title}"[:200] if alert.title else None,
    )
    return Accepted(investigation_id=wid, status="accepted", run_id=handle.result_run_id)
