"""Sleuth's own metrics, sent to DogStatsD (the Datadog Agent) in its plain-text line protocol.

On when DD_DOGSTATSD_URL (`udp://host:port`, `unix:///path`) or DD_AGENT_HOST / DD_DOGSTATSD_HOST
(+ DD_DOGSTATSD_PORT, default 8125) is set; off otherwise. UDP and datagram sockets never block
and every send is guarded: metrics cannot slow down or fail an investigation.

The metric names below are the contract with `monitoring/` (monitors and dashboards as code).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from sleuth.models.investigation import Report

log = logging.getLogger(__name__)

STARTED = "sleuth.investigations.started"
FINISHED = "sleuth.investigations.finished"  # every end, tagged verdict: the denominator of rates
CONCLUDED = "sleuth.investigations.concluded"  # root_cause_found or inconclusive
FAILED = "sleuth.investigations.failed"
STOPPED = "sleuth.investigations.stopped"  # the stop button
DURATION = "sleuth.investigation.duration"  # seconds, start → evaluation
TIME_TO_CONCLUSION = "sleuth.investigation.time_to_conclusion"  # seconds
TOKENS = "sleuth.investigation.tokens"
COST = "sleuth.investigation.cost_usd"
DATADOG_CALLS = "sleuth.investigation.datadog_calls"
DATADOG_ERRORS = "sleuth.investigation.datadog_errors"
INTAKE_REQUESTS = "sleuth.intake.requests"  # tagged status_class:2xx|4xx|5xx, status, path
INTAKE_LATENCY = "sleuth.intake.latency"  # seconds

EMITTED = frozenset(
    {
        STARTED,
        FINISHED,
        CONCLUDED,
        FAILED,
        STOPPED,
        DURATION,
        TIME_TO_CONCLUSION,
        TOKENS,
        COST,
        DATADOG_CALLS,
        DATADOG_ERRORS,
        INTAKE_REQUESTS,
        INTAKE_LATENCY,
    }
)
INTAKE_PATHS = ("/webhooks/datadog", "/healthz", "/readyz", "/livez")
_BAD_TAG_CHARS = re.compile(r"[|,#\n\r\s]+")


class DogStatsD:
    """A tiny DogStatsD client: `name:value|type|#tag:value,...` datagrams, fire and forget."""

    def __init__(self, target: tuple[str, int] | str, constant_tags: Iterable[str] = ()) -> None:
        self.target = target
        self.constant_tags = [_tag(t) for t in constant_tags]
        family = socket.AF_UNIX if isinstance(target, str) else _family(target[0])
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    def increment(self, name: str, value: float = 1, tags: Iterable[str] = ()) -> None:
        self._send(name, value, "c", tags)

    def gauge(self, name: str, value: float, tags: Iterable[str] = ()) -> None:
        self._send(name, value, "g", tags)

    def distribution(self, name: str, value: float, tags: Iterable[str] = ()) -> None:
        self._send(name, value, "d", tags)

    def _send(self, name: str, value: float, kind: str, tags: Iterable[str]) -> None:
        all_tags = [*self.constant_tags, *(_tag(t) for t in tags)]
        line = f"{name}:{_num(value)}|{kind}" + (f"|#{','.join(all_tags)}" if all_tags else "")
        try:
            self._sock.sendto(line.encode("utf-8"), self.target)
        except OSError as err:  # no agent listening, buffer full: metrics are best effort
            log.debug("dogstatsd send failed: %s", err)

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


def _tag(tag: str) -> str:
    return _BAD_TAG_CHARS.sub("_", tag.strip())[:200]


def target_from_env(env: Mapping[str, str] | None = None) -> tuple[str, int] | str | None:
    env = os.environ if env is None else env
    url = (env.get("DD_DOGSTATSD_URL") or "").strip()
    if url:
        if url.startswith("/"):
            return url
        parsed = urlparse(url if "://" in url else f"udp://{url}")
        if parsed.scheme == "unix":
            return parsed.path
        if parsed.scheme == "udp" and parsed.hostname:
            return (parsed.hostname, parsed.port or 8125)
        log.warning("DD_DOGSTATSD_URL %r not understood: metrics are off", url)
        return None
    host = (env.get("DD_DOGSTATSD_HOST") or env.get("DD_AGENT_HOST") or "").strip()
    if not host:
        return None
    try:
        port = int(env.get("DD_DOGSTATSD_PORT") or 8125)
    except ValueError:
        port = 8125
    return (host, port)


def constant_tags(env: Mapping[str, str] | None = None) -> list[str]:
    """Unified service tagging for Sleuth itself (the investigated service is `alert_service`)."""
    env = os.environ if env is None else env
    tags = [f"service:{env.get('DD_SERVICE') or 'sleuth'}"]
    for var, key in (("DD_ENV", "env"), ("DD_VERSION", "version")):
        if env.get(var):
            tags.append(f"{key}:{env[var]}")
    return tags


_client: DogStatsD | None = None
_client_ready = False
_lock = threading.Lock()


def client() -> DogStatsD | None:
    global _client, _client_ready
    if not _client_ready:
        with _lock:
            if not _client_ready:
                target = target_from_env()
                try:
                    _client = DogStatsD(target, constant_tags()) if target else None
                except OSError as err:
                    log.warning("DogStatsD client not created: %s", err)
                    _client = None
                _client_ready = True
    return _client


def _reset_for_tests() -> None:
    global _client, _client_ready
    with _lock:
        if _client is not None:
            _client.close()
        _client, _client_ready = None, False


def _guarded(fn: Callable[[DogStatsD], None]) -> None:
    try:
        c = client()
        if c is not None:
            fn(c)
    except Exception as err:  # metrics must never fail an investigation
        log.debug("metrics failed: %s", err)


def investigation_tags(
    monitor_id: str | None, service: str | None, env: str | None, model: str | None
) -> list[str]:
    pairs = (("monitor_id", monitor_id), ("alert_service", service), ("alert_env", env), ("model", model))
    return [f"{k}:{v}" for k, v in pairs if v]


def investigation_started(tags: list[str]) -> None:
    _guarded(lambda c: c.increment(STARTED, tags=tags))


def investigation_finished(report: Report, now: datetime | None = None) -> None:
    """One investigation's outcome, duration and spend, from its report (in evaluate_investigation)."""

    def send(c: DogStatsD) -> None:
        tags = investigation_tags(report.monitor_id, report.service, report.env, report.model)
        outcome = [*tags, f"verdict:{report.verdict}"]
        if report.root_cause is not None:
            outcome.append(f"root_cause_kind:{report.root_cause.kind}")
        c.increment(FINISHED, tags=outcome)
        if report.verdict in ("root_cause_found", "inconclusive"):
            c.increment(CONCLUDED, tags=outcome)
        elif report.verdict == "failed":
            c.increment(FAILED, tags=outcome)
        elif report.verdict == "stopped":
            c.increment(STOPPED, tags=outcome)
        end = now or datetime.now(UTC)
        c.distribution(DURATION, max(0.0, (end - report.timings.started_at).total_seconds()), tags=outcome)
        seconds = report.timings.seconds_to_conclusion
        if seconds is not None:
            c.distribution(TIME_TO_CONCLUSION, seconds, tags=outcome)
        c.distribution(TOKENS, report.usage.tokens, tags=outcome)
        c.distribution(COST, report.usage.cost_usd, tags=outcome)
        c.distribution(DATADOG_CALLS, report.usage.datadog_calls, tags=outcome)
        c.distribution(DATADOG_ERRORS, report.usage.datadog_errors, tags=outcome)

    _guarded(send)


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class IntakeMetrics:
    """ASGI middleware: every intake response counted by status class (the intake 5xx monitor)
    and timed. Install with `app.add_middleware(IntakeMetrics)` or wrap: `IntakeMetrics(app)`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception that escapes the app becomes a 500
        start = time.perf_counter()

        async def recording_send(message: Any) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 500))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            path = str(scope.get("path", ""))
            tags = [
                f"status_class:{status // 100}xx",
                f"status:{status}",
                f"path:{path if path in INTAKE_PATHS else 'other'}",
            ]
            elapsed = time.perf_counter() - start

            def record(c: DogStatsD) -> None:
                c.increment(INTAKE_REQUESTS, tags=tags)
                c.distribution(INTAKE_LATENCY, elapsed, tags=tags)

            _guarded(record)
