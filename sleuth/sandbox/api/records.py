"""Records as Datadog's API returns them, and how search syntax sees their fields."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from sleuth.sandbox.protocol import EventRecord, LogRecord, SpanRecord
from sleuth.sandbox.query import Lookup, Node, Text


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _nested(data: dict[str, Any], path: str) -> list[object]:
    if path in data:  # flat keys with dots also exist in real payloads
        v = data[path]
        return list(v) if isinstance(v, list) else [v]
    cur: Any = data
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return []
        cur = cur[part]
    if isinstance(cur, dict):
        return []
    return list(cur) if isinstance(cur, list) else [cur]


def _tags(tags: list[str], key: str) -> list[object]:
    prefix = key + ":"
    return [t[len(prefix) :] for t in tags if t.startswith(prefix)]


# --- logs -----------------------------------------------------------------------------------------
def log_lookup(rec: LogRecord) -> Lookup:
    def lookup(key: str) -> list[object]:
        k = key.lower()
        if k.startswith("@"):
            return _nested(rec.attributes, key[1:])
        if k == "service":
            return [rec.service]
        if k == "status":
            return [rec.status, "warning"] if rec.status == "warn" else [rec.status]
        if k == "host":
            return [rec.host]
        if k == "message":
            return [rec.message]
        return _tags(rec.tags, k)

    return lookup


def log_json(rec: LogRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "type": "log",
        "attributes": {
            "timestamp": iso(rec.timestamp),
            "status": rec.status,
            "service": rec.service,
            "host": rec.host,
            "message": rec.message,
            "tags": rec.tags,
            "attributes": rec.attributes,
        },
    }


# --- spans ----------------------------------------------------------------------------------------
_SPAN_ALIASES = {"resource": "resource_name", "operation": "operation_name", "name": "operation_name"}


def span_lookup(rec: SpanRecord) -> Lookup:
    def lookup(key: str) -> list[object]:
        k = _SPAN_ALIASES.get(key.lower(), key.lower())
        if k.startswith("@"):
            return _nested(rec.custom, key[1:])
        if k in (
            "service",
            "resource_name",
            "operation_name",
            "trace_id",
            "span_id",
            "parent_id",
            "env",
            "host",
            "type",
        ):
            return [getattr(rec, k)]
        if k == "status":
            return [rec.custom.get("status", "ok")]
        if k == "ingestion_reason":
            return ["rule"]
        return _tags(rec.tags, k)

    return lookup


def span_text(rec: SpanRecord) -> Text:
    err = rec.custom.get("error")
    return lambda: f"{rec.resource_name}\n{err.get('message', '') if isinstance(err, dict) else ''}"


def span_json(rec: SpanRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "type": "spans",
        "attributes": {
            "service": rec.service,
            "operation_name": rec.operation_name,
            "resource_name": rec.resource_name,
            "resource_hash": f"{abs(hash_str(rec.resource_name)):016x}"[:16],
            "type": rec.type,
            "env": rec.env,
            "host": rec.host,
            "trace_id": rec.trace_id,
            "span_id": rec.span_id,
            "parent_id": rec.parent_id,
            "start_timestamp": iso(rec.start),
            "end_timestamp": iso(rec.end),
            "tags": rec.tags,
            "custom": rec.custom,
            "attributes": {},
            "ingestion_reason": "rule",
            "retained_by": "retention_filter",
            "single_span": False,
        },
    }


def hash_str(s: str) -> int:
    h = 1469598103934665603
    for ch in s.encode():
        h = ((h ^ ch) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


# --- events ---------------------------------------------------------------------------------------
def event_lookup(rec: EventRecord) -> Lookup:
    def lookup(key: str) -> list[object]:
        k = key.lower()
        if k in ("source", "sources"):
            return [rec.source]
        if k == "status":
            return [rec.status]
        if k == "priority":
            return [rec.priority]
        if k == "host" and rec.host:
            return [rec.host]
        if k == "title":
            return [rec.title]
        if k in ("@evt.category", "category", "@category"):
            return [rec.category] if rec.category else []
        if k.startswith("@"):
            return _nested(rec.extra, key[1:])
        values = _tags(rec.tags, k)
        if k == "service" and rec.service and rec.service not in values:
            values.append(rec.service)
        return values

    return lookup


def event_text(rec: EventRecord) -> Text:
    return lambda: f"{rec.title}\n{rec.text}"


def event_json(rec: EventRecord) -> dict[str, Any]:
    numeric = str(hash_str(rec.id) % 10**18)
    inner: dict[str, Any] = {
        "title": rec.title,
        "timestamp": int(rec.timestamp * 1000),
        "source_type_name": rec.source,
        "status": rec.status,
        "priority": rec.priority,
        "tags": rec.tags,
        "evt": {
            "id": numeric,
            "source_id": hash_str(rec.source) % 1000,
            "type": rec.category or "event",
            "uid": f"{numeric}",
        },
    }
    if rec.service:
        inner["service"] = rec.service
    if rec.host:
        inner["hostname"] = rec.host
    if rec.aggregation_key:
        inner["aggregation_key"] = rec.aggregation_key
    if rec.category:
        inner["category"] = rec.category
    inner.update(rec.extra)
    return {
        "id": rec.id,
        "type": "event",
        "attributes": {
            "timestamp": iso(rec.timestamp),
            "tags": rec.tags,
            "message": rec.text,
            "attributes": inner,
        },
    }


# --- filtering and paging -------------------------------------------------------------------------
def matches(node: Node, lookup: Lookup, text: Text) -> bool:
    return node.match(lookup, text)


def encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    pad = "=" * (-len(cursor) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + pad))
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError("invalid cursor") from exc
    if not isinstance(data, dict):
        raise ValueError("invalid cursor")
    return data
