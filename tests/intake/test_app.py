"""The service around the webhook: OpenAPI schema, liveness and readiness, configuration."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from temporalio.client import Client

from sleuth.config import Settings
from sleuth.intake.app import create_app, lazy_client
from tests.intake.conftest import closed_port, const, http_for, post, template
from tests.intake.test_payload import README_TEMPLATE, default_payload


async def test_openapi_documents_the_webhook_body_and_token(http: httpx.AsyncClient) -> None:
    spec: dict[str, Any] = (await http.get("/openapi.json")).json()
    op = spec["paths"]["/webhooks/datadog"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookPayload"
    }
    assert {"202", "400", "401", "413", "422", "503"} <= set(op["responses"])
    schemas = spec["components"]["schemas"]
    props = schemas["WebhookPayload"]["properties"]
    assert {"id", "alert_cycle_key", "monitor_id", "transition", "scope", "tags", "org"} <= set(props)
    assert "Accepted" in schemas and "OrgPayload" in schemas
    assert spec["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Sleuth-Token",
        "description": "SLEUTH_WEBHOOK_TOKEN",
    }
    # What the README tells users to paste, and Datadog's default, are valid per the published schema.
    body_schema = {"$ref": "#/components/schemas/WebhookPayload", "components": spec["components"]}
    for example in [README_TEMPLATE, default_payload("[Triggered] x", "y"), template(tags=["a:b"])]:
        jsonschema.validate(example, body_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"title": {"not": "text"}}, body_schema)
    assert (await http.get("/docs")).status_code == 200


async def test_liveness_and_readiness(http: httpx.AsyncClient, settings: Settings) -> None:
    assert (await http.get("/livez")).json() == {"status": "alive"}
    for path in ("/healthz", "/readyz"):
        resp = await http.get(path)
        assert resp.status_code == 200 and resp.json()["checks"]["temporal_reachable"] is True
    async with http_for(settings, lazy_client(f"127.0.0.1:{closed_port()}")) as down:
        assert (await down.get("/livez")).status_code == 200  # alive: do not restart it
        resp = await down.get("/healthz")  # not ready: do not route alerts to it
        assert resp.status_code == 503 and resp.json()["ready"] is False
        assert "temporal_error" in resp.json()


async def test_a_token_is_required_unless_insecure_dev(client: Client, task_queue: str) -> None:
    no_token = Settings(SLEUTH_TASK_QUEUE=task_queue)
    with pytest.raises(ValueError, match="SLEUTH_WEBHOOK_TOKEN"):
        create_app(no_token, const(client))
    async with http_for(no_token, const(client), insecure_dev=True) as http:
        resp = await post(http, template(), token=None)
        assert resp.status_code == 202 and resp.json()["status"] == "started"
