"""A tool span per Datadog query, without touching the gateway: `traced_gateway(gw)` wraps the
public calls of one gateway instance (the reads, and publishing's writes)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sleuth.observability.tracing import carry_context, enabled, in_span, span

G = TypeVar("G")
# The gateway's public calls: each becomes one tool span (reads and the publishing writes).
GATEWAY_TOOLS = {
    "get_monitor": "monitors",
    "list_metrics": "metrics",
    "query_metrics": "metrics",
    "search_logs": "logs",
    "search_spans": "spans",
    "search_events": "events",
    "create_event": "events",
    "create_notebook": "notebooks",
}


def traced_gateway(gateway: G) -> G:
    """The same gateway, each of whose Datadog queries becomes a tool span (when tracing is on).

    Create it inside the activity's span: a call made from a pool thread that did not inherit
    that context (`run_in_executor`) is then run in the context captured here, so its tool span
    still hangs under the activity span instead of starting a trace of its own."""
    if not enabled():
        return gateway
    for method, source in GATEWAY_TOOLS.items():
        original = getattr(gateway, method, None)
        if callable(original):
            setattr(gateway, method, _tool(method, source, original, gateway))
    return gateway


def _tool(method: str, source: str, fn: Callable[..., Any], gateway: Any) -> Callable[..., Any]:
    in_captured_context = carry_context(lambda *a, **kw: traced(*a, **kw))

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return traced(*args, **kwargs) if in_span() else in_captured_context(*args, **kwargs)

    def traced(*args: Any, **kwargs: Any) -> Any:
        budget = getattr(gateway, "budget", None)
        used, errors = getattr(budget, "used", 0), getattr(budget, "errors", 0)
        with span(
            "tool", f"datadog.{method}", input=_describe_call(args, kwargs), tags={"datadog.source": source}
        ) as s:
            try:
                result = fn(*args, **kwargs)
                s.annotate(output=_describe_result(result))
                return result
            finally:
                s.annotate(
                    metrics={
                        "http_calls": getattr(budget, "used", 0) - used,
                        "http_errors": getattr(budget, "errors", 0) - errors,
                    }
                )

    return call


def _describe_call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {f"arg{i}": a for i, a in enumerate(args)}
    out.update({k: v for k, v in kwargs.items() if k not in ("markdown", "text")})
    return out


def _describe_result(result: Any) -> Any:
    if isinstance(result, list):
        desc: dict[str, Any] = {"count": len(result)}
        queries = sorted({str(getattr(r, "query", "")) for r in result if getattr(r, "query", "")})
        if queries:
            desc["queries"] = queries[:20]
        services = sorted({str(getattr(r, "service", "")) for r in result if getattr(r, "service", "")})
        if services:
            desc["services"] = services[:20]
        return desc
    return result
