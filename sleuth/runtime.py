"""`sleuth up`: embedded Temporal (unless TEMPORAL_ADDRESS), the sandbox Datadog (unless keys), a
worker and the intake, in one process tree that stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from temporalio.client import Client
from temporalio.worker import Worker

from sleuth.config import Settings
from sleuth.health import Readiness, fixed_client
from sleuth.intake.app import create_app
from sleuth.temporal_server import EmbeddedTemporal
from sleuth.worker import build_worker, connect

DEFAULT_WORLD = "ecommerce-deploy"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    settings: Settings
    client: Client
    intake_url: str
    temporal_address: str
    readiness: Readiness
    sandbox: Any = None  # SandboxServer when the embedded sandbox Datadog is serving
    worker: Worker | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings,
    *,
    port: int = 8080,
    temporal_port: int = 7233,
    ui_port: int | None = 8233,
    world: str | None = None,
    insecure_dev: bool = False,
    run_worker: bool = True,
    run_intake: bool = True,
    say: Any = print,
) -> AsyncIterator[Stack]:
    readiness = Readiness(intake=True)
    readiness.set("temporal", False)
    if run_worker:
        readiness.set("worker", False)
    embedded: EmbeddedTemporal | None = None
    sandbox = None
    server: uvicorn.Server | None = None
    tasks: list[asyncio.Task[Any]] = []
    worker: Worker | None = None
    try:
        address = settings.temporal_address
        if not address:
            embedded = EmbeddedTemporal(
                settings.data_dir / "temporal.db", port=temporal_port, ui_port=ui_port
            )
            say(f"starting embedded Temporal on {embedded.address} (db {embedded.db_file})")
            await asyncio.to_thread(embedded.start)
            address = embedded.address
            if ui_port:
                say(f"Temporal UI: http://127.0.0.1:{ui_port}")
        if settings.sandbox_mode:
            from sleuth.sandbox import SandboxServer

            sandbox = SandboxServer(world or DEFAULT_WORLD)
            await asyncio.to_thread(sandbox.start)
            settings = settings.model_copy(
                update={
                    "datadog_url": sandbox.url,
                    "dd_api_key": sandbox.ctx.api_key,
                    "dd_app_key": sandbox.ctx.app_key,
                }
            )
            say(f"no Datadog keys: serving the sandbox Datadog world '{sandbox.world.name}' at {sandbox.url}")
        client = await connect(address, settings.temporal_namespace, settings.temporal_access)
        readiness.set("temporal", True)
        if run_worker:
            worker = build_worker(client, settings)
            tasks.append(asyncio.create_task(worker.run(), name="worker"))
            readiness.set("worker", True)
        intake_url = ""
        if run_intake:
            app = create_app(settings, fixed_client(client), insecure_dev=insecure_dev, readiness=readiness)
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
            )
            tasks.append(asyncio.create_task(server.serve(), name="intake"))
            while not server.started:
                if tasks[-1].done():
                    tasks[-1].result()  # surfaces "address already in use" and the like
                await asyncio.sleep(0.05)
            intake_url = f"http://127.0.0.1:{port}"
            say(f"intake listening on {intake_url}/webhooks/datadog (health: {intake_url}/healthz)")
        yield Stack(settings, client, intake_url, address, readiness, sandbox, worker, tasks)
    finally:
        if server is not None:
            server.should_exit = True
        if worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.shutdown(), timeout=15)
        for t in tasks:
            if not t.done():
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if sandbox is not None:
            await asyncio.to_thread(sandbox.stop)
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


@contextlib.asynccontextmanager
async def shutdown_signals() -> AsyncIterator[asyncio.Event]:
    """An event set by Ctrl-C or SIGTERM. Entered before anything starts, so that a signal arriving
    while the stack is still coming up stops it cleanly instead of killing the process mid-start."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
