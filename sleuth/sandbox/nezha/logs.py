"""Log CSV rows → Datadog logs: service from the pod, status from the line's own severity, the message.

Apps log either JSON (`severity`/`level` field, `message`) or text (`05:18:42.995 INFO  - ...`);
a line that states no severity is `info`, as Datadog's default status.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from sleuth.sandbox.nezha.dataset import RawLog, log_payload, service_of
from sleuth.sandbox.protocol import LogRecord

_LEVEL = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL|PANIC)\b", re.I)
_STATUS = {
    "trace": "debug",
    "debug": "debug",
    "info": "info",
    "notice": "info",
    "warn": "warn",
    "warning": "warn",
    "error": "error",
    "severe": "error",
    "fatal": "error",
    "critical": "error",
    "panic": "error",
}


def parse(raw: str) -> tuple[str, str]:
    """(status, message) of one container log line."""
    payload = log_payload(raw)
    if "text" in payload and len(payload) == 1:
        text = str(payload["text"]).strip()
        m = _LEVEL.search(text[:60])
        return (_STATUS[m.group(1).lower()] if m else "info"), text
    level = str(payload.get("severity") or payload.get("level") or payload.get("levelname") or "info")
    message = str(payload.get("message") or payload.get("msg") or payload.get("text") or "").strip()
    return _STATUS.get(level.lower(), "info"), message


def to_records(
    rows: Sequence[RawLog], shift_s: float, env: str, tags: dict[str, list[str]]
) -> list[LogRecord]:
    seen: set[tuple[float, str, str]] = set()
    out: list[LogRecord] = []
    for r in sorted(rows, key=lambda x: x.ts):
        key = (r.ts, r.pod, r.raw)
        if key in seen:  # consecutive minute files overlap
            continue
        seen.add(key)
        status, message = parse(r.raw)
        service = service_of(r.pod)
        attrs: dict[str, object] = (
            {"dd": {"trace_id": r.trace_id, "span_id": r.span_id}} if r.trace_id else {}
        )
        out.append(
            LogRecord(
                id="AQAAAZ"
                + hashlib.blake2b(f"{r.ts}/{r.pod}/{len(out)}".encode(), digest_size=10).hexdigest(),
                timestamp=r.ts + shift_s,
                service=service,
                status=status,
                message=message,
                host=r.node,
                tags=[
                    *tags.get(service, [f"env:{env}", f"service:{service}"]),
                    f"kube_container_name:{r.container}",
                ],
                attributes=attrs,
            )
        )
    return out
