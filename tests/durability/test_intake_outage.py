"""Temporal down when the webhook arrives: the intake answers 503 (so Datadog retries), and the
retried delivery after recovery starts exactly one investigation, which completes and publishes once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from sleuth.config import Settings
from sleuth.intake.app import create_app, lazy_client
from sleuth.models.investigation import Report
from sleuth.runtime import free_port
from sleuth.sandbox import load_truth
from sleuth.temporal_server import EmbeddedTemporal
from sleuth.worker import build_worker, connect
from tests.durability.conftest import TOKEN, WORLD, findings, new_task_queue, sandbox, wait_until

pytestmark = pytest.mark.durability


async def test_webhook_while_temporal_is_down_then_retried(tmp_path: Path) -> None:
    embedded = EmbeddedTemporal(tmp_path / "temporal.db", port=free_port(), ui_port=None)
    tq = new_task_queue()
    try:
        async with sandbox(WORLD) as server:
            settings = Settings(
                TEMPORAL_ADDRESS=embedded.address,
                SLEUTH_TASK_QUEUE=tq,
                SLEUTH_WEBHOOK_TOKEN=TOKEN,
                SLEUTH_DATADOG_URL=server.url,
                DD_API_KEY=server.ctx.api_key,
                DD_APP_KEY=server.ctx.app_key,
                SLEUTH_DATADOG_TIMEOUT=5,
                SLEUTH_DATADOG_MAX_RETRIES=2,
                SLEUTH_APPROVAL_TIMEOUT_SECONDS=1,
            )
            app = create_app(settings, lazy_client(embedded.address))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://intake", timeout=30) as http:
                payload = server.alert_payload()

                async def post() -> httpx.Response:
                    return await http.post(
                        "/webhooks/datadog", json=payload, headers={"X-Sleuth-Token": TOKEN}
                    )

                down = await post()
                assert down.status_code == 503, down.text
                assert "Retry-After" in down.headers
                again = await post()  # Datadog retries a 5xx; still down
                assert again.status_code == 503

                await asyncio.to_thread(embedded.start)

                async def healthy() -> bool:
                    return (await http.get("/healthz")).status_code == 200

                await wait_until(healthy, 30, "intake ready")
                client = await connect(embedded.address)
                async with build_worker(client, settings, max_concurrent_activities=16):
                    retried = await post()
                    assert retried.status_code == 202 and retried.json()["status"] == "started", retried.text
                    wid = retried.json()["investigation_id"]
                    duplicate = await post()  # a late duplicate of the same delivery
                    assert duplicate.status_code == 202 and duplicate.json()["investigation_id"] == wid
                    assert duplicate.json()["status"] != "started"
                    report = await asyncio.wait_for(
                        client.get_workflow_handle(wid, result_type=Report).result(rpc_timeout=None), 120
                    )
                monitor = payload["monitor_id"]

                async def one_run() -> bool:
                    n = await client.count_workflows(
                        f"SleuthMonitorId = '{monitor}' AND WorkflowType = 'InvestigateAlert'"
                    )
                    return n.count == 1

                await wait_until(one_run, 15, "exactly one investigation in visibility")
                posted = findings(server, wid)
    finally:
        if embedded.process is not None and embedded.process.poll() is None:
            embedded.process.kill()
            embedded.process.wait(10)

    truth = load_truth(WORLD)
    assert report.verdict == truth.verdict
    assert report.deliveries == 1, "the retried delivery counts once"
    assert len(posted) == 1
