"""Record golden workflow histories from real sandbox investigations: `python -m tests.record_histories`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from sleuth.models.investigation import Decision, StopRequest
from sleuth.workflows import InvestigateAlert
from sleuth.workflows.search_attributes import ALL
from tests.harness import harness, world_with

OUT = Path(__file__).parent / "histories"


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL,
    ) as env:
        client = env.client
        async with harness(client, world_with(kind="deployment"), approval_timeout=30) as h:
            wid = await h.fire(alert_cycle_key="golden-approved")
            await h.wait_phase(wid, "awaiting_approval")
            await h.handle(wid).execute_update(InvestigateAlert.approve, Decision(by="golden"))
            await h.handle(wid).result()
            (OUT / "approved.json").write_text((await h.handle(wid).fetch_history()).to_json())
        async with harness(client, world_with(verdict="inconclusive"), approval_timeout=1) as h:
            wid = await h.fire(alert_cycle_key="golden-inconclusive")
            await h.handle(wid).result()
            (OUT / "inconclusive.json").write_text((await h.handle(wid).fetch_history()).to_json())
        async with harness(client, world_with(), approval_timeout=1) as h:
            h.server.faults.add("/api/v2/logs", "slow", times=100, delay_seconds=3.0)
            wid = await h.fire(alert_cycle_key="golden-stopped")
            await h.wait_phase(wid, "testing")
            await h.handle(wid).signal(InvestigateAlert.stop, StopRequest(by="golden", reason="recording"))
            await h.handle(wid).result()
            (OUT / "stopped.json").write_text((await h.handle(wid).fetch_history()).to_json())
    print(f"recorded {len(list(OUT.glob('*.json')))} histories in {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
