"""Spans and log lines of individual requests, laid out from the same draws as the metrics.

Span shapes follow TrainTicket's Java instrumentation: a server span per request on each pod (the
route), an internal controller span, repository and SQL spans, and per downstream call an internal
`HTTP GET`/`HTTP POST` client span whose child is the callee's server span. Server spans start on a
whole millisecond, as in the real data. Log lines are Logback lines (JSON for the non-Java services)
wrapped by the container runtime.
"""

from __future__ import annotations

import functools
import json
import random
import re
import zlib

from .fmt import rfc3339
from .simulate import GAP_MS, Day, OpDraws, OpRun
from .system import ENTRY, NON_JAVA, System, camel, short_name

Span = tuple[int, str, str, str, str, str, int, int]  # depth, trace, span, parent, pod, name, start, end
Log = tuple[int, str, str, str, str, str]  # ns, node, pod, trace, span, container-runtime JSON line
MS = 1_000_000
CST = 8 * 3600 * 1_000_000_000  # TrainTicket logs in China Standard Time
EXCEPTIONS = (
    'java.lang.NullPointerException: Cannot invoke "{c}.getId()" because "{v}" is null',
    "java.lang.IllegalStateException: {c} record is in an inconsistent state",
    "org.springframework.dao.DataIntegrityViolationException: could not execute statement",
    "java.lang.ArithmeticException: / by zero",
)


def _ns(ms: float) -> int:
    return int(ms * MS)


def _line(service: str, tag: str) -> int:
    return 30 + zlib.crc32(f"{service}/{tag}".encode()) % 400


@functools.cache
def _human(method: str) -> str:
    return " ".join(w.capitalize() for w in re.findall(r"[A-Za-z][a-z]*", method))


class Renderer:
    def __init__(self, system: System, day: Day, ids: random.Random) -> None:
        self.system, self.day, self.ids = system, day, ids
        self.exception = {f.service: int(f.size["kind"]) for f in day.faults if f.kind == "exception"}
        self.trace, self.spans, self.logs, self.logging = "", list[Span](), list[Log](), False

    def _method(self, service: str) -> str:
        return self.system.services[service].method.rsplit(".", 1)[-1]

    def _id(self, bits: int = 64) -> str:
        return f"{self.ids.getrandbits(bits):0{bits // 4}x}"

    def _uuid(self) -> str:
        h = self._id(128)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _log(self, service: str, ns: int, span: str, level: str, cls: str, msg: str) -> None:
        if service == ENTRY or not self.logging:
            return  # the gateway does not log requests
        svc = self.system.services[service]
        if service in NON_JAVA:
            body = {"message": f"TraceID: {self.trace} SpanID: {span} {msg}", "severity": level.lower()}
            text = json.dumps({**body, "timestamp": rfc3339(ns)}, separators=(",", ":"))
        else:
            local = rfc3339(ns + CST)[11:23]
            logger = (
                f"{short_name(service)[0]}.{cls[0].lower()}.{camel(service)}{cls}#{_line(service, msg[:12])}"
            )
            text = f"{local} {level:<5} {logger} TraceID: {self.trace} SpanID: {span} {msg}"
        wrapped = json.dumps(
            {"log": text + "\n", "stream": "stdout", "time": rfc3339(ns + 40_000)}, separators=(",", ":")
        )
        self.logs.append(
            (ns, svc.node_ip, self.system.pod(service, self.day.index), self.trace, span, wrapped)
        )

    def request(self, x: OpDraws, run: OpRun, r: int, logs: bool) -> tuple[list[Span], list[Log]]:
        """One request's spans (breadth first, as the real files list them) and, if wanted, log lines."""
        self.trace, self.spans, self.logs, self.logging = self._id(128), [], [], logs
        start = int(x.t[r] * 1e9)
        self._server(x, run, r, 0, start - start % MS, "root", 0, retry=False)
        self.spans.sort(key=lambda s: (s[0], s[6]))
        return self.spans, self.logs

    def _span(
        self, depth: int, parent: str, service: str, name: str, start: int, end: int, span: str = ""
    ) -> str:
        span = span or self._id()
        pod = self.system.pod(service, self.day.index)
        self.spans.append((depth, self.trace, span, parent, pod, name, start, end))
        return span

    def _server(
        self, x: OpDraws, run: OpRun, r: int, i: int, start: int, parent: str, depth: int, retry: bool
    ) -> int:
        """Lays out node i's server span from `start` (a retried call throws again); returns its end."""
        service, d = x.op.services[i], x.d[i]
        svc, method = self.system.services[service], self._method(service)
        self_ms = float(run.self_ms[i][r]) * (float(d["r2"][r]) if retry else 1.0)
        server, inner = self._id(), self._id()
        inner_start = cursor = start + _ns(float(d["pre"][r]))
        cursor += _ns(0.3 * self_ms)
        if self.logging:
            msg = f"[{method}][{_human(method)}][{self._uuid()}]"
            self._log(service, inner_start + 200_000, inner, "INFO", "Controller", msg)
        if retry or run.own[i][r]:
            c = camel(service)
            sig = EXCEPTIONS[self.exception.get(service, 0)].format(c=c, v=c[0].lower() + c[1:])
            where = (
                f"{short_name(service).replace('-', '')}.service.{c}ServiceImpl.{method}({c}ServiceImpl.java:"
            )
            msg = f"[{method}][Unexpected exception][{sig} at {where}{_line(service, 'x')})]"
            self._log(service, cursor, inner, "ERROR", "ServiceImpl", msg)
        else:
            db = float(d["db"][r])
            if db > 0 and self.logging and self.ids.random() < 0.002:  # noise, unrelated to any fault
                msg = f"[{method}][Slow query][ts.{svc.table} took {int(db * 40)} ms]"
                self._log(service, cursor + _ns(db), inner, "WARN", "ServiceImpl", msg)
            if db > 0:
                repo = self._span(
                    depth + 2,
                    inner,
                    service,
                    f"{camel(service)}Repository.findById",
                    cursor,
                    cursor + _ns(db),
                )
                self._span(
                    depth + 3,
                    repo,
                    service,
                    f"SELECT ts.{svc.table}",
                    cursor + _ns(0.1 * db),
                    cursor + _ns(0.9 * db),
                )
                cursor += _ns(db + GAP_MS)
            # the gateway's client spans hang off its root span, a service's off its controller span
            calls_parent, calls_depth = (server, depth + 1) if service == ENTRY else (inner, depth + 2)
            for j in x.op.children[i]:
                if run.executed[j][r]:
                    cursor = self._call(x, run, r, i, j, cursor, calls_parent, calls_depth) + _ns(GAP_MS)
            cursor += _ns(0.7 * self_ms)
        end = cursor + _ns(float(d["post"][r]))
        self._span(depth, parent, service, svc.route, start, end, server)
        self._span(depth + 1, server, service, svc.method, inner_start, cursor, inner)
        return end

    def _call(
        self, x: OpDraws, run: OpRun, r: int, i: int, j: int, start: int, parent: str, depth: int
    ) -> int:
        """Node i calls node j (once more if j threw); returns the end of the last client span."""
        caller, callee, d, end = x.op.services[i], self.system.services[x.op.services[j]], x.d[j], start
        for attempt in range(2 if run.retry[j][r] else 1):
            if attempt:
                start = end + _ns(GAP_MS + float(run.backoff[j][r]))
                msg = f"[{self._method(caller)}][Call to {callee.name} failed, retrying][500 INTERNAL_SERVER_ERROR]"
                self._log(caller, start, parent, "WARN", "ServiceImpl", msg)
            client = self._id()
            s = start + _ns(float(d["out"][r]))
            s -= s % MS
            if callee.traced:
                s_end = self._server(x, run, r, j, s, client, depth + 1, retry=attempt == 1)
            else:
                s_end = s + _ns(float(run.server[j][r]))
            end = s_end + _ns(float(d["back"][r]) + float(run.delay[j][r]))
            self._span(depth, parent, caller, f"HTTP {callee.verb}", start, end, client)
        if run.val[j][r]:
            msg = f"[{self._method(caller)}][Response validation failed][{callee.name} returned Response(status=1, msg=Success, data=null)]"
            self._log(caller, end + 100_000, parent, "ERROR", "ServiceImpl", msg)
        return end


def rows(spans: list[Span]) -> list[list[object]]:
    return [[t, s, p, pod, name, a, b, (b - a) // 1000] for _, t, s, p, pod, name, a, b in spans]
