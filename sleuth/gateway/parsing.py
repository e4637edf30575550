"""Datadog API models → Sleuth's raw records. Tolerant: real accounts omit fields freely."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sleuth.gateway.records import LogRecord, Series, SpanRecord
from sleuth.models.telemetry import ChangeEvent

_DEPLOY_WORDS = re.compile(r"\b(deploy(ed|ment|ing)?|rollout|rolled out|release[ds]?|version)\b", re.I)
_CONFIG_WORDS = re.compile(r"\b(config(uration)?|feature[ _-]?flag|flag|configmap|setting|toggle)\b", re.I)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    try:
        value = obj.get(key, default)
    except (AttributeError, KeyError, TypeError):
        return default
    return default if value is None else value


def _plain(obj: Any) -> dict[str, Any]:
    """Free-form attribute bags come back as dicts or model objects; flatten to a plain dict."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else {}


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float):
        return float(value) / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
    return 0.0


def _nested(d: dict[str, Any], dotted: str) -> Any:
    """`error.message` may be stored flat or nested, depending on who sent the span."""
    if dotted in d:
        return d[dotted]
    cur: Any = d
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _items(obj: Any) -> list[Any]:
    """List-shaped API models (ModelSimple wrappers such as TimeseriesResponseTimes) keep items in `.value`."""
    if obj is None:
        return []
    if isinstance(obj, list | tuple):
        return list(obj)
    inner = getattr(obj, "value", None)
    return list(inner) if isinstance(inner, list | tuple) else []


def series_from(response: Any, queries: list[str]) -> list[Series]:
    attrs = _get(_get(response, "data"), "attributes")
    times = [float(t) / 1000.0 for t in _items(_get(attrs, "times"))]
    values = [_items(v) for v in _items(_get(attrs, "values"))]
    out: list[Series] = []
    for i, meta in enumerate(_items(_get(attrs, "series"))):
        idx = int(_get(meta, "query_index", 0) or 0)
        query = queries[idx] if idx < len(queries) else queries[0]
        scope = ",".join(str(t) for t in _items(_get(meta, "group_tags")))
        vals = values[i] if i < len(values) else []
        out.append(Series(query=query, scope=scope, times=times[: len(vals)], values=[_num(v) for v in vals]))
    return out


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def log_from(item: Any) -> LogRecord:
    attrs = _get(item, "attributes")
    custom = _plain(_get(attrs, "attributes"))
    raw_error = custom.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    return LogRecord(
        timestamp=_epoch(_get(attrs, "timestamp")),
        service=str(_get(attrs, "service", "") or ""),
        status=str(_get(attrs, "status", "") or "").lower(),
        message=str(_get(attrs, "message", "") or ""),
        host=str(_get(attrs, "host", "") or ""),
        tags=[str(t) for t in (_get(attrs, "tags") or [])],
        error_kind=str(error.get("kind") or custom.get("error.kind") or ""),
    )


def span_from(item: Any) -> SpanRecord:
    attrs = _get(item, "attributes")
    custom = {**_plain(_get(attrs, "custom")), **_plain(_get(attrs, "attributes"))}
    start = _epoch(_get(attrs, "start_timestamp"))
    end = _epoch(_get(attrs, "end_timestamp"))
    duration_ns = _nested(custom, "duration")
    duration_ms = (
        float(duration_ns) / 1e6 if isinstance(duration_ns, int | float) else max(0.0, (end - start) * 1000)
    )
    status = str(_nested(custom, "status") or "").lower()
    error_message = str(_nested(custom, "error.message") or _nested(custom, "error.msg") or "")
    code = _nested(custom, "http.status_code")
    try:
        status_code = int(code) if code is not None else None
    except (TypeError, ValueError):
        status_code = None
    return SpanRecord(
        trace_id=str(_get(attrs, "trace_id", "") or ""),
        span_id=str(_get(attrs, "span_id", "") or ""),
        parent_id=str(_get(attrs, "parent_id", "0") or "0"),
        service=str(_get(attrs, "service", "") or ""),
        resource=str(_get(attrs, "resource_name", "") or ""),
        operation=str(_get(attrs, "operation_name", "") or _nested(custom, "operation_name") or ""),
        start=start,
        duration_ms=duration_ms,
        error=status == "error" or bool(_nested(custom, "error") == 1) or bool(error_message),
        error_message=error_message,
        peer_service=str(_nested(custom, "peer.service") or ""),
        peer_host=_host(custom),
        status_code=status_code,
        span_type=str(_get(attrs, "type", "") or ""),
    )


def _host(custom: dict[str, Any]) -> str:
    for key in ("out.host", "peer.hostname", "network.destination.name", "server.address"):
        value = _nested(custom, key)
        if value:
            return str(value)
    url = _nested(custom, "http.url")
    if isinstance(url, str) and "://" in url:
        return url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    return ""


def change_event_from(item: Any) -> ChangeEvent:
    outer = _get(item, "attributes")
    inner = _get(outer, "attributes")
    tags = [str(t) for t in (_get(outer, "tags") or _get(inner, "tags") or [])]
    title = str(_get(inner, "title", "") or _get(outer, "message", "") or "")
    text = str(_get(outer, "message", "") or "")
    ts_raw = _get(outer, "timestamp") or _get(inner, "timestamp")
    ts = datetime.fromtimestamp(_epoch(ts_raw), tz=UTC)
    service = str(_get(inner, "service", "") or "") or _tag(tags, "service")
    return ChangeEvent(
        id=str(_get(item, "id", "") or ""),
        title=title,
        timestamp=ts,
        kind=classify_change(title, text, tags),
        service=service or None,
        tags=tags,
        text=text[:500],
    )


def classify_change(title: str, text: str, tags: list[str]) -> str:  # type: ignore[return]
    """Public conventions only: CI deploy events, change-tracking categories, feature flags."""
    lowered = {t.lower() for t in tags}
    if any(
        t.startswith(("source:deploy", "deployment", "change_type:deploy", "category:deploy"))
        for t in lowered
    ):
        return "deployment"
    if any(
        t.startswith(
            (
                "source:config",
                "change_type:config",
                "change_type:feature_flag",
                "feature_flag",
                "category:config",
            )
        )
        for t in lowered
    ):
        return "config_change"
    blob = f"{title} {text}"
    if _CONFIG_WORDS.search(blob):
        return "config_change"
    if _DEPLOY_WORDS.search(blob):
        return "deployment"
    return "other"


def _tag(tags: list[str], key: str) -> str:
    for t in tags:
        k, sep, v = t.partition(":")
        if sep and k == key:
            return v
    return ""
