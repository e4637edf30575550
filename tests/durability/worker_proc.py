"""`python -m tests.durability.worker_proc`: one Sleuth worker in a process of its own.

Configured by the environment, like `sleuth worker` (TEMPORAL_ADDRESS, SLEUTH_TASK_QUEUE,
SLEUTH_DATADOG_URL, DD_API_KEY, DD_APP_KEY, SLEUTH_MODEL, OPENAI_BASE_URL, ...), plus
SLEUTH_TEST_WORKER_SLOTS (activity slots, default 64). It prints `worker ready <pid>` once it polls,
so a test can kill it with SIGKILL at a moment it chooses; SIGTERM shuts it down gracefully.
"""

from __future__ import annotations

import asyncio
import os
import signal

from sleuth.config import Settings
from sleuth.worker import build_worker, connect


async def main() -> int:
    settings = Settings()
    if not settings.temporal_address:
        raise SystemExit("TEMPORAL_ADDRESS is required")
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    slots = int(os.environ.get("SLEUTH_TEST_WORKER_SLOTS", "64"))
    worker = build_worker(client, settings, max_concurrent_activities=slots)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        print(f"worker ready {os.getpid()}", flush=True)
        await stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
