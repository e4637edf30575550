"""Record golden workflow histories from real sandbox investigations:
`python -m tests.record_histories [NAME ...]` (all of them when no name is given). Re-record only the ones
a change needs: an old history is what guards the investigations already running."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from sleuth.models.investigation import Decision, StopRequest
from sleuth.workflows import InvestigateAlert
from sleuth.workflows.search_attributes import ALL
from tests.harness import harness, world_with

OUT = Path(__file__).parent / "histories"


async def main(only: set[str]) -> None:
    OUT.mkdir(exist_ok=True)
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL,
    ) as env:
        client = env.client
        if not only or "approved" in only:
            await _approved(client)
        if not only or "inconclusive" in only:
            await _inconclusive(client)
        if not only or "stopped" in only:
            await _stopped(client)
        if not only or "deadline-in-context" in only:
            await _deadline_in_context(client)
    print(f"recorded {len(list(OUT.glob('*.json')))} histories in {OUT}")


async def _approved(client: Client) -> None:
    async with harness(client, world_with(kind="deployment"), approval_timeout=30) as h:
        wid = await h.fire(alert_cycle_key="golden-approved")
        await h.wait_phase(wid, "awaiting_approval")
        await h.handle(wid).execute_update(InvestigateAlert.approve, Decision(by="golden"))
        await h.handle(wid).result()
        (OUT / "approved.json").write_text((await h.handle(wid).fetch_history()).to_json())


async def _inconclusive(client: Client) -> None:
    async with harness(client, world_with(verdict="inconclusive"), approval_timeout=1) as h:
        wid = await h.fire(alert_cycle_key="golden-inconclusive")
        await h.handle(wid).result()
        (OUT / "inconclusive.json").write_text((await h.handle(wid).fetch_history()).to_json())


async def _stopped(client: Client) -> None:
    async with harness(client, world_with(), approval_timeout=1) as h:
        h.server.faults.add("/api/v2/logs", "slow", times=100, delay_seconds=3.0)
        wid = await h.fire(alert_cycle_key="golden-stopped")
        await h.wait_phase(wid, "testing")
        await h.handle(wid).signal(InvestigateAlert.stop, StopRequest(by="golden", reason="recording"))
        await h.handle(wid).result()
        (OUT / "stopped.json").write_text((await h.handle(wid).fetch_history()).to_json())


async def _deadline_in_context(client: Client) -> None:
    async with harness(client, world_with(), approval_timeout=1, SLEUTH_DEADLINE_SECONDS=2) as h:
        h.server.faults.add("/api/v2/spans", "slow", times=100, delay_seconds=3.0)
        wid = await h.fire(alert_cycle_key="golden-deadline-in-context")
        await h.handle(wid).result()
        (OUT / "deadline-in-context.json").write_text((await h.handle(wid).fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(main(set(sys.argv[1:])))
