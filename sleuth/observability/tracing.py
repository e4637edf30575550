"""Datadog LLM Observability for investigations: one trace per investigation, never a failure.

Shape of a trace (ddtrace has no Temporal integration, so spans are made in activities only):

    workflow "investigation"            opened by gather_context; its distributed headers travel
      task  "gather_context"            in workflow state (TraceContext) to every later activity
        tool "datadog.<method>"         one per Datadog query (tools.traced_gateway)
      agent "planner"                   plan_hypotheses (llm spans below it come from ddtrace's
      task  "test_hypothesis"           openai/anthropic auto-instrumentation)
        tool "datadog.<method>"
      agent "concluder"
      task  "publish_findings"  →  tool spans for the writes
      task  "online_evaluation"         evaluations are joined to the "investigation" span

Every span carries session_id = the workflow id, tags investigation_id, monitor_id,
alert_service, alert_env, model, and temporal.workflow_id/run_id/activity_id/activity_type/attempt.
The alert's service is tagged `alert_service`, because `service` is Sleuth's own (DD_SERVICE).

On when DD_LLMOBS_ENABLED is true, or when it is unset and DD_API_KEY is set; off otherwise.
ddtrace reads every other DD_* setting itself (site, agentless or agent, sampling). Every call
into ddtrace is guarded: a broken intake, a bad key or a ddtrace bug is logged, never raised.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from sleuth.agents.redaction import redact_obj
from sleuth.models.investigation import InvestigationContext, Usage
from sleuth.models.requests import TraceContext

log = logging.getLogger(__name__)

T = TypeVar("T")

SPAN_ID_KEY = "x-sleuth-llmobs-span-id"  # the investigation span, exported, for joining evaluations
TRACE_ID_KEY = "x-sleuth-llmobs-trace-id"
KINDS = ("workflow", "agent", "task", "tool", "llm")
MAX_TEXT = 2000

_lock = threading.Lock()
_decided: bool | None = None
# How many Sleuth spans are open in this context: 0 in a pool thread that did not inherit one.
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("sleuth_llmobs_depth", default=0)


def requested(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    flag = (env.get("DD_LLMOBS_ENABLED") or "").strip().lower()
    if flag:
        return flag in ("1", "true", "yes", "on")
    return bool((env.get("DD_API_KEY") or "").strip())


def ensure_enabled() -> bool:
    """Enable LLMObs once per process when the environment asks for it. Never raises."""
    global _decided
    if _decided is None:
        with _lock:
            if _decided is None:
                _decided = _enable()
    return _decided


def _enable() -> bool:
    if not requested():
        return False
    try:
        from ddtrace.llmobs import LLMObs

        if not LLMObs.enabled:
            kw: dict[str, Any] = {}
            if not os.environ.get("DD_SERVICE") and not os.environ.get("DD_LLMOBS_ML_APP"):
                kw.update(agent_service="sleuth", service="sleuth")
            LLMObs.enable(integrations_enabled=True, **kw)
        if LLMObs.enabled:
            log.info("LLM Observability tracing is on")
        return bool(LLMObs.enabled)
    except Exception as err:  # a bad key or an unreachable agent must not stop a worker
        log.warning("LLM Observability not enabled: %s", err)
        return False


def enabled() -> bool:
    if not ensure_enabled():
        return False
    try:
        from ddtrace.llmobs import LLMObs

        return bool(LLMObs.enabled)
    except Exception:
        return False


def _reset_for_tests() -> None:
    global _decided
    _decided = None


def guard(what: str, fn: Callable[[], Any], default: Any = None) -> Any:
    try:
        return fn()
    except Exception as err:
        log.debug("LLM Observability %s failed: %s", what, err)
        return default


def clean(value: Any) -> Any:
    """Redacted and bounded: everything sent to a trace is redacted first."""
    value = redact_obj(_jsonable(value))
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT] + "…"
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _jsonable(value.model_dump(mode="json", exclude_none=True))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT] + "…"
    return value


class Span:
    """A guarded handle on one LLMObs span; a no-op when tracing is off."""

    def __init__(self, raw: Any = None) -> None:
        self.raw = raw

    @property
    def active(self) -> bool:
        return self.raw is not None

    def annotate(
        self,
        *,
        input: Any = None,
        output: Any = None,
        metadata: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        if self.raw is not None:
            guard("annotate", functools.partial(self._annotate, input, output, metadata, metrics, tags))

    def _annotate(
        self,
        input: Any,
        output: Any,
        metadata: Mapping[str, Any] | None,
        metrics: Mapping[str, float] | None,
        tags: Mapping[str, Any] | None,
    ) -> None:
        from ddtrace.llmobs import LLMObs

        kw: dict[str, Any] = {}
        if input is not None:
            kw["input_data"] = clean(input)
        if output is not None:
            kw["output_data"] = clean(output)
        if metadata:
            kw["metadata"] = clean(dict(metadata))
        if metrics:
            kw["metrics"] = {k: float(v) for k, v in metrics.items()}
        if tags:
            kw["tags"] = {k: str(v) for k, v in tags.items() if v is not None and v != ""}
        if kw:
            LLMObs.annotate(span=self.raw, **kw)

    def exported(self) -> dict[str, str] | None:
        if self.raw is None:
            return None
        from ddtrace.llmobs import LLMObs

        exported = guard("export_span", lambda: LLMObs.export_span(self.raw))
        return (
            {"span_id": str(exported["span_id"]), "trace_id": str(exported["trace_id"])} if exported else None
        )


@contextmanager
def span(
    kind: str,
    name: str,
    *,
    session_id: str | None = None,
    model_name: str | None = None,
    model_provider: str | None = None,
    input: Any = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """Any LLMObs span kind, as a context manager the agents can use too. The body's exceptions
    pass through unchanged (and mark the span as an error); tracing's own never escape."""
    if kind not in KINDS:
        raise ValueError(f"unknown LLMObs span kind {kind!r}")
    raw = None
    if enabled():
        raw = guard("start", functools.partial(_start, kind, name, session_id, model_name, model_provider))
    handle = Span(raw)
    handle.annotate(input=input, metadata=metadata, tags=tags)
    token = _depth.set(_depth.get() + 1)
    try:
        yield handle
    except BaseException as exc:
        if raw is not None:
            guard("finish", functools.partial(raw.__exit__, type(exc), exc, exc.__traceback__))
        raise
    finally:
        _depth.reset(token)
    if raw is not None:
        guard("finish", functools.partial(raw.__exit__, None, None, None))


def in_span() -> bool:
    """Whether a Sleuth span is open in this context (False in a thread that did not inherit one)."""
    return _depth.get() > 0


def carry_context(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn`, run in (a copy of) the context of this call, so spans it opens in a pool thread
    that does not copy contextvars (`run_in_executor`) keep their parent. Itself when tracing is off."""
    if not enabled():
        return fn
    captured = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        return captured.copy().run(fn, *args, **kwargs)

    return run


def _start(
    kind: str, name: str, session_id: str | None, model_name: str | None, model_provider: str | None
) -> Any:
    from ddtrace.llmobs import LLMObs

    if kind == "llm":
        return LLMObs.llm(
            model_name=model_name or "unknown",
            name=name,
            model_provider=model_provider,
            session_id=session_id,
        )
    return getattr(LLMObs, kind)(name=name, session_id=session_id)


def temporal_tags() -> dict[str, str]:
    from temporalio import activity

    try:
        info = activity.info()
    except Exception:  # not in an activity (CLI, tests)
        return {}
    return {
        "temporal.workflow_id": info.workflow_id or "",
        "temporal.run_id": info.workflow_run_id or "",
        "temporal.activity_id": info.activity_id,
        "temporal.activity_type": info.activity_type,
        "temporal.attempt": str(info.attempt),
        "temporal.task_queue": info.task_queue,
    }


def investigation_tags(
    investigation_id: str,
    *,
    monitor_id: str | None = None,
    service: str | None = None,
    env: str | None = None,
    model: str | None = None,
) -> dict[str, str]:
    tags = {
        "investigation_id": investigation_id,
        "monitor_id": monitor_id,
        "alert_service": service,
        "alert_env": env,
        "model": model,
    }
    return {k: v for k, v in tags.items() if v}


def context_tags(
    investigation_id: str, context: InvestigationContext, model: str | None = None
) -> dict[str, str]:
    return investigation_tags(
        investigation_id,
        monitor_id=context.alert.monitor_id,
        service=context.service,
        env=context.env,
        model=model,
    )


def continue_trace(trace: TraceContext | None) -> None:
    """Make the investigation's span the parent of what this activity (task) opens next."""
    if trace is None or not trace.headers or not enabled():
        return
    from ddtrace.llmobs import LLMObs

    headers = {k: v for k, v in trace.headers.items() if k not in (SPAN_ID_KEY, TRACE_ID_KEY)}
    guard("activate_distributed_headers", lambda: LLMObs.activate_distributed_headers(headers))


@contextmanager
def activity_span(
    kind: str,
    name: str,
    trace: TraceContext | None,
    *,
    investigation_id: str,
    tags: Mapping[str, str] | None = None,
    input: Any = None,
    metadata: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A span for one activity attempt, joined to the investigation's trace."""
    continue_trace(trace)
    all_tags = {**temporal_tags(), **investigation_tags(investigation_id), **(tags or {})}
    with span(kind, name, session_id=investigation_id, input=input, metadata=metadata, tags=all_tags) as s:
        yield s


def usage_metrics(usage: Usage) -> dict[str, float]:
    """Span metrics for one activity's spend. Prefixed, so LLMObs does not add them to the token
    counts its llm spans already carry."""
    return {
        "usage_model_calls": usage.model_calls,
        "usage_input_tokens": usage.input_tokens,
        "usage_output_tokens": usage.output_tokens,
        "usage_cost_usd": usage.cost_usd,
        "usage_datadog_calls": usage.datadog_calls,
        "usage_datadog_errors": usage.datadog_errors,
    }


class InvestigationTrace:
    """What gather_context holds while it runs: the root span, its own task span and the headers."""

    def __init__(self, root: Span, task: Span, trace: TraceContext) -> None:
        self.root = root
        self.task = task
        self.trace = trace

    def annotate(self, **kw: Any) -> None:
        """Tags and output for both the investigation span and the gather_context span."""
        self.root.annotate(**kw)
        self.task.annotate(**kw)


@contextmanager
def investigation(
    investigation_id: str, trace: TraceContext, *, input: Any = None, tags: Mapping[str, str] | None = None
) -> Iterator[InvestigationTrace]:
    """The investigation's root (workflow) span and gather_context's task span below it.

    When the workflow already carries headers (a trace opened earlier), this attempt joins it
    instead of starting a second root. The returned `.trace` is what the workflow carries on."""
    if trace.headers or not enabled():
        with activity_span(
            "task", "gather_context", trace, investigation_id=investigation_id, tags=tags
        ) as t:
            yield InvestigationTrace(Span(), t, trace)
        return
    all_tags = {**temporal_tags(), **investigation_tags(investigation_id), **(tags or {})}
    with span("workflow", "investigation", session_id=investigation_id, input=input, tags=all_tags) as root:
        headers = _headers_for(root)
        with span("task", "gather_context", session_id=investigation_id, tags=all_tags) as task:
            yield InvestigationTrace(root, task, TraceContext(headers=headers) if headers else trace)


def _headers_for(root: Span) -> dict[str, str]:
    """Distributed headers of the root span (it must be the active one), plus its exported ids."""
    if root.raw is None:
        return {}
    from ddtrace.llmobs import LLMObs

    headers: dict[str, str] = (
        guard("inject", lambda: LLMObs.inject_distributed_headers({}, root.raw), {}) or {}
    )
    exported = root.exported()
    if not headers or exported is None:
        return {}
    return {
        **{str(k): str(v) for k, v in headers.items()},
        SPAN_ID_KEY: exported["span_id"],
        TRACE_ID_KEY: exported["trace_id"],
    }
