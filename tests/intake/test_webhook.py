"""The webhook against a real Temporal dev server: transitions, dedup, auth, bad bodies."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from sleuth.config import Settings
from sleuth.intake.app import MAX_BODY_BYTES
from sleuth.intake.payload import WebhookPayload, investigation_id
from sleuth.models.investigation import Status
from sleuth.workflows import InvestigateAlert
from tests.intake.conftest import TOKEN, count, eventually, post, running_worker, template
from tests.intake.test_payload import README_TEMPLATE, default_payload


async def signals(client: Client, wid: str) -> int:
    n = 0
    async for event in client.get_workflow_handle(wid).fetch_history_events():
        n += event.HasField("workflow_execution_signaled_event_attributes")
    return n


async def test_trigger_starts_once_and_duplicates_attach_to_the_same_run(
    http: httpx.AsyncClient, client: Client
) -> None:
    body = template()
    first = await post(http, body)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "started"
    wid, run_id = first.json()["investigation_id"], first.json()["run_id"]
    dups = await asyncio.gather(*(post(http, body) for _ in range(5)))
    assert {r.status_code for r in dups} == {202}
    assert {r.json()["status"] for r in dups} == {"attached"}
    assert {r.json()["run_id"] for r in dups} == {run_id}
    retriggered = await post(http, {**body, "id": "other-delivery", "transition": "Re-Triggered"})
    assert retriggered.json()["status"] == "attached" and retriggered.json()["run_id"] == run_id
    await eventually(lambda: _is(client, f"WorkflowId = '{wid}'", 1))
    # Durably in the history: the first delivery and the re-notification. The five identical
    # deliveries were answered by the intake's coalescer (dedup.py): already recorded.
    assert await signals(client, wid) == 2


async def _is(client: Client, query: str, n: int) -> bool:
    return await count(client, query) == n


async def test_re_triggered_starts_a_new_cycle(http: httpx.AsyncClient) -> None:
    resp = await post(http, template(transition="Re-Triggered"))
    assert resp.status_code == 202 and resp.json()["status"] == "started"


async def test_other_transitions_never_start(
    http: httpx.AsyncClient, client: Client, settings: Settings
) -> None:
    for transition in ["Warn", "Re-Warn", "No Data", "Re-No Data", "Renotify", "Recovered", "Bogus"]:
        body = template(transition=transition)
        resp = await post(http, body)
        assert resp.status_code == 202, resp.text
        assert resp.json()["status"] == "ignored", transition
        assert "only Triggered and Re-Triggered start" in resp.json()["detail"]
    await asyncio.sleep(1.0)  # visibility lag: prove a negative only after it
    assert await count(client, f"TaskQueue = '{settings.task_queue}'") == 0


async def test_every_transition_is_delivered_once_and_recovery_recorded(
    http: httpx.AsyncClient, client: Client, settings: Settings
) -> None:
    trigger = template()
    wid = (await post(http, trigger)).json()["investigation_id"]
    same_cycle = {"alert_cycle_key": trigger["alert_cycle_key"], "monitor_id": trigger["monitor_id"]}
    later = [("Warn", "d2"), ("No Data", "d3"), ("Renotify", "d4"), ("Re-Warn", "d5"),
             ("Re-No Data", "d6"), ("Recovered", "d7")]  # fmt: skip
    for transition, delivery in later:
        resp = await post(http, template(transition=transition, id=delivery, **same_cycle))
        assert resp.json() == {**resp.json(), "status": "delivered", "investigation_id": wid}, transition
    # Datadog redelivers the recovery and the trigger: counted once each.
    assert (await post(http, template(transition="Recovered", id="d7", **same_cycle))).json()["status"] == (
        "delivered"
    )
    assert (await post(http, trigger)).json()["status"] == "attached"
    # The signal handler runs once a worker runs the workflow: it sees all nine signals at once.
    async with running_worker(client, settings):
        status: Status = await client.get_workflow_handle(wid).query(InvestigateAlert.status)
    assert status.recovered is True
    assert status.deliveries == 1 + len(later)


@workflow.defn(name="SleuthTestFinishedRun")
class FinishedRun:
    """Stands in for an investigation that already completed: the id-reuse rules, which are what
    the intake relies on, look at the id and the close status only, not the type. (A real
    InvestigateAlert against an unreachable Datadog spends ~17 s retrying its publication.)"""

    @workflow.run
    async def run(self) -> str:
        return "done"


async def test_a_finished_cycle_is_not_investigated_again(http: httpx.AsyncClient, client: Client) -> None:
    body = template()
    wid = investigation_id(WebhookPayload.model_validate(body).to_alert())
    queue = f"finished-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client, task_queue=queue, workflows=[FinishedRun], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        await client.execute_workflow(FinishedRun.run, id=wid, task_queue=queue)
    again = await post(http, body)
    assert again.status_code == 202 and again.json()["status"] == "completed", again.text
    assert again.json()["investigation_id"] == wid
    late_recovery = await post(http, {**body, "id": "late", "transition": "Recovered"})
    assert late_recovery.json()["status"] == "ignored" and "finished" in late_recovery.json()["detail"]


async def test_a_terminated_investigation_is_restarted_by_the_next_delivery(
    http: httpx.AsyncClient, client: Client
) -> None:
    body = template()
    first = (await post(http, body)).json()
    await client.get_workflow_handle(first["investigation_id"]).terminate(reason="operator")
    again = (await post(http, {**body, "transition": "Re-Triggered", "id": "next"})).json()
    assert again["status"] == "started" and again["investigation_id"] == first["investigation_id"]
    assert again["run_id"] != first["run_id"]


async def test_token_is_required_and_nothing_starts_without_it(
    http: httpx.AsyncClient, client: Client, settings: Settings
) -> None:
    body = template()
    for token in [None, "", "wrong", TOKEN + "x", TOKEN[:-1], "t\xe9st".encode("latin-1")]:
        resp = await post(http, body, token=token)
        assert resp.status_code == 401, token
        assert "X-Sleuth-Token" in resp.json()["detail"]
    # Unauthenticated garbage is refused before the body is even read.
    assert (await post(http, b"\xff" * (MAX_BODY_BYTES + 10), token="wrong")).status_code == 401
    await asyncio.sleep(1.0)
    assert await count(client, f"SleuthMonitorId = '{body['monitor_id']}'") == 0
    assert (
        await count(
            client, f"WorkflowId STARTS_WITH 'sleuth-rate-limit-{settings.task_queue}-{body['monitor_id']}-'"
        )
        == 0
    )
    assert (await post(http, body)).status_code == 202


async def test_bad_bodies_are_refused_clearly(http: httpx.AsyncClient) -> None:
    cases: list[tuple[bytes | str, int, str]] = [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "not valid JSON"),
        (b'{"title": "caf\xe9"}', 400, "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        (b'{"monitor_id": ' + b"9" * 5000 + b"}", 400, "not acceptable JSON"),
        (b"[]", 422, "JSON object"),
        (b'"a string"', 422, "JSON object"),
        (b"42", 422, "JSON object"),
        (b"null", 422, "JSON object"),
        (json.dumps({"title": {"nested": 1}, "tags": {"a": 1}}), 422, "title"),
    ]
    for body, status, detail in cases:
        resp = await post(http, body)
        assert resp.status_code == status, (body[:40], resp.text[:200])
        assert detail in json.dumps(resp.json()["detail"]), resp.text[:200]


async def test_oversized_bodies_are_refused(http: httpx.AsyncClient) -> None:
    big = json.dumps(template(message="x" * MAX_BODY_BYTES)).encode()
    assert (await post(http, big)).status_code == 413

    async def chunked() -> object:  # no Content-Length: the limit must hold while streaming
        for _ in range(40):
            yield b" " * 10_000

    resp = await http.post("/webhooks/datadog", content=chunked(), headers={"X-Sleuth-Token": TOKEN})
    assert resp.status_code == 413


async def test_huge_tags_and_text_are_accepted_bounded(http: httpx.AsyncClient, client: Client) -> None:
    tags = ",".join(f"tag{i}:" + "v" * 150 for i in range(1200))  # ~190 KB of tags
    body = template(tags=tags, title="t" * 30_000)
    resp = await post(http, body)
    assert resp.status_code == 202 and resp.json()["status"] == "started", resp.text[:300]
    desc = await client.get_workflow_handle(resp.json()["investigation_id"]).describe()
    assert desc.status is not None


async def test_unresolved_template_and_default_payload(http: httpx.AsyncClient) -> None:
    # A test notification: every variable unresolved. It still starts, once.
    first = await post(http, README_TEMPLATE)
    assert first.status_code == 202 and first.json()["status"] in {"started", "attached", "completed"}
    again = await post(http, README_TEMPLATE)
    assert again.json()["investigation_id"] == first.json()["investigation_id"]
    assert again.json()["status"] in {"attached", "completed"}

    monitor = template()["monitor_id"]
    body = f"CPU above 90%\n[[Monitor Status](https://app.datadoghq.com/monitors/{monitor}?group=host:a)]"
    trig = await post(http, default_payload("[Triggered on {host:a}] CPU is high", body, "1"))
    assert trig.json()["status"] == "started", trig.text
    assert trig.json()["investigation_id"].startswith(f"investigation-{monitor}-")
    rec = await post(http, default_payload("[Recovered on {host:a}] CPU is high", body, "2"))
    assert rec.json()["status"] == "delivered"
    assert rec.json()["investigation_id"] == trig.json()["investigation_id"]
