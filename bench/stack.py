"""The pieces the benchmarks run, each as it runs in production: the embedded Temporal dev server
(a process, persisted to a temp db), `sleuth worker` (a process of its own, so its CPU and memory
can be read from /proc), the intake under uvicorn (a process), and the sandbox Datadog (in this
process, a thread, so the time a findings event lands can be taken at the moment it is recorded;
or a process of its own, `python -m sleuth.sandbox`, when its CPU must not share our GIL).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

import sleuth.sandbox.server as sandbox_server_module
from sleuth.sandbox import SandboxServer, World
from sleuth.temporal_server import EmbeddedTemporal
from sleuth.worker import connect

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
TOKEN = "bench-token"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    mem_kb, cpu = 0, platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu_model": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def git(*args: str) -> str:
    """Read-only git queries (rev-parse, status): the benchmark never writes to the repository."""
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- processes -------------------------------------------------------------------------------------


class Proc:
    """A child process whose readiness is a line on its stdout; its stderr goes to a log file."""

    def __init__(self, args: list[str], env: dict[str, str], ready: str, log: Path) -> None:
        self.args, self.env, self.ready, self.log = args, env, ready, log
        self.popen: subprocess.Popen[str] | None = None
        self.lines: list[str] = []

    def start(self, timeout: float = 90.0) -> Proc:
        full = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        err = open(self.log, "a")  # noqa: SIM115 - lives as long as the child
        self.popen = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=full,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        got: queue.Queue[str] = queue.Queue()
        out = self.popen.stdout
        assert out is not None

        def pump() -> None:
            for line in out:
                self.lines.append(line)
                got.put(line)

        threading.Thread(target=pump, daemon=True).start()
        if not self.ready:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.ready in got.get(timeout=0.2):
                    return self
            except queue.Empty:
                if self.popen.poll() is not None:
                    raise RuntimeError(
                        f"{self.args[:3]} exited ({self.popen.returncode}); see {self.log}"
                    ) from None
        self.kill()
        raise TimeoutError(f"{self.args[:3]} not ready within {timeout:.0f}s; see {self.log}")

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def stop(self, timeout: float = 30.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


def worker_proc(env: dict[str, str], log: Path) -> Proc:
    """`sleuth worker`, the production entry point, configured by its environment."""
    base = {"DD_TRACE_ENABLED": "false", "DD_LLMOBS_ENABLED": "0"}
    return Proc([str(BIN / "sleuth"), "worker"], {**base, **env}, "worker polling task queue", log)


def worker_env(
    address: str, task_queue: str, url: str, api_key: str, app_key: str, **extra: Any
) -> dict[str, str]:
    env = {
        "TEMPORAL_ADDRESS": address,
        "SLEUTH_TASK_QUEUE": task_queue,
        "SLEUTH_DATADOG_URL": url,
        "DD_API_KEY": api_key,
        "DD_APP_KEY": app_key,
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


class ProcSampler:
    """CPU seconds and resident memory of some processes, read from /proc every `every` seconds."""

    def __init__(self, pids: dict[str, int], every: float = 0.5) -> None:
        self.pids = pids
        self.every = every
        self.samples: dict[str, list[tuple[float, float, int]]] = {k: [] for k in pids}  # (t, cpu_s, rss_kb)
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def read(pid: int) -> tuple[float, int, int]:
        """(cpu seconds, VmRSS kB, VmHWM kB) of a live process."""
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
        rss = hwm = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
        return cpu, rss, hwm

    async def _run(self) -> None:
        while True:
            t = time.monotonic()
            for name, pid in self.pids.items():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    cpu, rss, _ = self.read(pid)
                    self.samples[name].append((t, cpu, rss))
            await asyncio.sleep(self.every)

    def start(self) -> ProcSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def summary(self, name: str, peak_kb: int | None = None) -> dict[str, Any]:
        s = self.samples[name]
        if len(s) < 2:
            return {}
        wall = s[-1][0] - s[0][0]
        cpu = s[-1][1] - s[0][1]
        # busiest 5 s window: how close to the cores the process came
        busiest = 0.0
        j = 0
        for i in range(len(s)):
            while s[i][0] - s[j][0] > 5.0:
                j += 1
            if s[i][0] - s[j][0] >= 2.0:
                busiest = max(busiest, (s[i][1] - s[j][1]) / (s[i][0] - s[j][0]))
        return {
            "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "avg_cores": round(cpu / wall, 2) if wall else None,
            "busiest_5s_cores": round(busiest, 2),
            "peak_rss_mib": round((peak_kb or max(x[2] for x in s)) / 1024, 1),
        }


# -- Temporal ----------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def temporal() -> AsyncIterator[tuple[EmbeddedTemporal, Client]]:
    """The embedded dev server on free ports, persisted to a temp db, as `sleuth up` runs it."""
    with tempfile.TemporaryDirectory(prefix="sleuth-bench-") as tmp:
        server = EmbeddedTemporal(Path(tmp) / "temporal.db", port=free_port(), ui_port=None)
        await asyncio.to_thread(server.start)
        try:
            yield server, await connect(server.address)
        finally:
            await asyncio.to_thread(server.stop)


def intake_proc(address: str, task_queue: str, port: int, log: Path, **settings: Any) -> Proc:
    env = {
        "TEMPORAL_ADDRESS": address,
        "SLEUTH_WEBHOOK_TOKEN": TOKEN,
        "SLEUTH_TASK_QUEUE": task_queue,
        **{k: str(v) for k, v in settings.items()},
    }
    args = [sys.executable, "-m", "uvicorn", "sleuth.intake.app:from_environment", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "info", "--no-access-log"]  # fmt: skip
    return Proc(args, env, "", log)  # ready when GET /livez answers (see wait_http)


async def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f}s")
            await asyncio.sleep(0.2)


# -- the sandbox Datadog, instrumented ------------------------------------------------------------


class TimedList(list):  # type: ignore[type-arg]
    """A list that remembers when each item was appended (the sandbox appends under its lock)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.monotonic())
        super().append(item)


class ByteCounter:
    """ASGI wrapper counting requests and response body bytes: how much telemetry Datadog returned."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0
        self.response_bytes = 0
        self.lock = threading.Lock()

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                with self.lock:
                    self.response_bytes += len(message.get("body", b""))
            await send(message)

        with self.lock:
            self.requests += 1
        await self.app(scope, receive, counting)


def start_sandbox(
    world: str | World, *, count_bytes: bool = False, anchor: datetime | None = None
) -> SandboxServer:
    """A started in-process sandbox whose recorded events carry arrival times (`.recorded.events.times`);
    with `count_bytes`, `.counter` is a ByteCounter in front of it."""
    server = SandboxServer(world, anchor=anchor)
    original = sandbox_server_module.create_app
    counter: list[ByteCounter] = []
    if count_bytes:

        def wrapped(ctx: Any) -> Any:
            counter.append(ByteCounter(original(ctx)))
            return counter[-1]

        sandbox_server_module.create_app = wrapped  # type: ignore[assignment]
    try:
        server.start()
    finally:
        sandbox_server_module.create_app = original
    server.ctx.recorded.events = TimedList()
    server.counter = counter[0] if counter else None  # type: ignore[attr-defined]
    return server


def finding_time(server: SandboxServer, wid: str) -> float | None:
    """When the sandbox recorded the findings event of `wid` (monotonic), if it did."""
    events: Any = server.recorded.events
    tag = f"investigation_id:{wid}"
    for item, at in zip(list(events), list(events.times), strict=False):
        tags = item.get("tags") or []
        if "sleuth_kind:finding" in tags and tag in tags:
            return float(at)
    return None


def sandbox_proc(world: str, port: int, anchor: datetime, log: Path) -> Proc:
    """`python -m sleuth.sandbox`: the sandbox in a process of its own (its CPU off our GIL)."""
    args = [
        sys.executable,
        "-m",
        "sleuth.sandbox",
        "--world",
        world,
        "--port",
        str(port),
        "--anchor",
        anchor.isoformat(),
    ]
    return Proc(args, {}, "alert payload:", log)


@contextlib.contextmanager
def logs_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="sleuth-bench-logs-") as tmp:
        yield Path(tmp)


async def post_webhook(http: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    return await http.post("/webhooks/datadog", json=payload, headers={"X-Sleuth-Token": TOKEN})


def fresh_alert(payload: dict[str, Any], n: int) -> dict[str, Any]:
    """The same monitor firing as a different alert cycle (a distinct investigation)."""
    tag = uuid.uuid4().hex[:10]
    return {**payload, "id": f"{tag}{n}", "alert_cycle_key": f"bench-{tag}-{n}"}
