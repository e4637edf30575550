"""LLMTester: the offline probes first, then a few model-directed queries — and code judges.

The model only chooses query strings. Code fixes the time range, bounds every call, digests the
results (the model never sees raw telemetry), computes each evidence item with the offline
tester's own statistics, counts a query as evidence only when it is scoped to the hypothesis'
own service (span searches never: see `digest_spans`), and lets `judge.judge()` set status and
confidence. What the model writes is discarded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sleuth.agents.llm import prompts
from sleuth.agents.llm.common import (
    BudgetExhausted,
    Gateway,
    Judge,
    ModelSession,
    TesterRole,
    default_judge,
    log,
    with_note,
    with_usage,
)
from sleuth.agents.llm.digest import Digest, Window, digest_events, digest_logs, digest_metrics, digest_spans
from sleuth.agents.providers.base import Message, ModelError, ModelProvider, Role, ToolCall
from sleuth.gateway.errors import DatadogError
from sleuth.gateway.io import in_io_thread
from sleuth.models.common import TelemetrySource
from sleuth.models.investigation import Evidence, Hypothesis, Usage
from sleuth.models.requests import TestInput, TestResult
from sleuth.models.telemetry import EvidenceGap

MAX_ROUNDS = 3
MAX_CALLS_PER_ROUND = 3
MAX_TOOL_RESULT_CHARS = 1200  # hard cap per tool result, whatever the telemetry volume
MAX_QUERY_CHARS = 300
LOG_LIMIT = 1000
SPAN_LIMIT = 2000

SOURCES: dict[str, TelemetrySource] = {
    "query_metrics": "metrics",
    "search_logs": "logs",
    "search_spans": "spans",
    "search_events": "events",
}


class LLMTester:
    def __init__(
        self,
        provider: ModelProvider | None,
        offline: TesterRole,
        judge: Judge | None = None,
        role: Role = "summariser",
        max_rounds: int = MAX_ROUNDS,
    ) -> None:
        self.provider = provider
        self.offline = offline
        self._judge = judge
        self.role: Role = role
        self.max_rounds = max(0, min(MAX_ROUNDS, max_rounds))

    @property
    def judge(self) -> Judge:
        if self._judge is None:
            self._judge = default_judge()
        return self._judge

    async def test(self, inp: TestInput, gateway: Gateway) -> TestResult:
        # The offline tester blocks on HTTP: keep it off the event loop.
        base = await in_io_thread(self.offline.test, inp, gateway)
        if self.provider is None or self.max_rounds == 0:
            return base
        session = ModelSession(self.provider, self.role, inp.remaining_tokens)
        budget = getattr(gateway, "budget", None)
        calls0, errors0 = _budget_counts(budget)
        try:
            evidence, gaps = await self._explore(session, inp, base.hypothesis, gateway)
            failure = None
        except (BudgetExhausted, ModelError) as exc:
            evidence, gaps, failure = [], [], str(exc)
        except Exception as exc:  # an LLM add-on must never cost the investigation its offline result
            log.exception("LLM tester failed")
            evidence, gaps, failure = [], [], type(exc).__name__
        calls1, errors1 = _budget_counts(budget)
        spent = session.usage.plus(Usage(datadog_calls=calls1 - calls0, datadog_errors=errors1 - errors0))
        if failure is not None:
            return with_note(with_usage(base, spent), f"tester fell back to offline: {failure}")
        h = base.hypothesis
        evidence = novel(evidence, h.evidence)
        if evidence or gaps:
            h = self.judge(
                h.model_copy(update={"evidence": [*h.evidence, *evidence], "gaps": [*h.gaps, *gaps]}),
                inp.context,
            )
        return with_usage(base.model_copy(update={"hypothesis": h}), spent)

    async def _explore(
        self, session: ModelSession, inp: TestInput, h: Hypothesis, gateway: Gateway
    ) -> tuple[list[Evidence], list[EvidenceGap]]:
        window = Window.of(inp.context)
        messages = [Message(role="user", content=prompts.tester_user(inp.context, h, window.describe()))]
        evidence: list[Evidence] = []
        gaps: list[EvidenceGap] = []
        seen: set[tuple[str, str]] = set()
        for _round in range(self.max_rounds):
            response = await session.ask(
                prompts.TESTER_SYSTEM, messages, prompts.TESTER_TOOLS, max_tokens=512
            )
            if not response.tool_calls:
                break
            # The model's prose (including any "this is validated") is not kept: only its queries.
            messages.append(
                Message(role="assistant", content=response.text[:500], tool_calls=response.tool_calls)
            )
            for i, call in enumerate(response.tool_calls):
                if i >= MAX_CALLS_PER_ROUND:
                    text = f"skipped: at most {MAX_CALLS_PER_ROUND} tool calls per round"
                else:
                    text, found, gap = await self._run(call, inp, window, gateway, seen)
                    evidence += found
                    gaps += [gap] if gap else []
                messages.append(Message(role="tool", tool_call_id=call.id, content=text))
        return evidence, gaps

    async def _run(
        self, call: ToolCall, inp: TestInput, w: Window, gateway: Gateway, seen: set[tuple[str, str]]
    ) -> tuple[str, list[Evidence], EvidenceGap | None]:
        h = inp.hypothesis
        source = SOURCES.get(call.name)
        if source is None:
            return f"error: unknown tool {call.name[:40]!r}; tools: {', '.join(SOURCES)}", [], None
        raw = call.arguments.get("query")
        if not isinstance(raw, str) or not raw.strip():
            return "error: `query` must be a non-empty string", [], None
        query = " ".join(raw.split())[:MAX_QUERY_CHARS]
        if (call.name, query) in seen:
            return "already answered: same query as before", [], None
        seen.add((call.name, query))
        scoped = scoped_to(query, h.service)
        try:
            digest = await in_io_thread(_fetch(call.name, query, inp, w, gateway))
        except DatadogError as exc:
            gap = exc.gap(source, query)
            return (
                prompts.data_block(f"result {call.name}", {"unavailable": gap.reason}),
                [],
                gap if scoped else None,
            )
        text = bounded(prompts.data_block(f"result {call.name}", digest.view))
        if not scoped:
            return (
                text + f"\n(not counted as evidence: the query is not scoped to service:{h.service})",
                [],
                None,
            )
        evidence = [
            e.model_copy(update={"observation": f"[model-chosen query] {e.observation}"[:400]})
            for e in digest.evidence
        ]
        return text, evidence, None


def _fetch(tool: str, query: str, inp: TestInput, w: Window, gateway: Gateway) -> Callable[[], Digest]:
    """The time ranges are the investigation's, never the model's: it cannot cherry-pick a window."""

    def run() -> Digest:
        if tool == "query_metrics":
            return digest_metrics(gateway.query_metrics([query], w.baseline_start, w.window_end, 60), w)
        if tool == "search_logs":
            window = gateway.search_logs(query, w.window_start, w.window_end, LOG_LIMIT)
            baseline = gateway.search_logs(query, w.log_baseline_start, w.baseline_end, LOG_LIMIT)
            return digest_logs(query, baseline, window, w)
        if tool == "search_spans":
            window_spans = gateway.search_spans(query, w.window_start, w.window_end, SPAN_LIMIT)
            baseline_spans = gateway.search_spans(query, w.baseline_start, w.baseline_end, SPAN_LIMIT)
            return digest_spans(query, baseline_spans, window_spans)
        return digest_events(
            gateway.search_events(query, w.events_start, w.alert_time), inp.hypothesis.service, w
        )

    return run


def bounded(text: str, limit: int = MAX_TOOL_RESULT_CHARS) -> str:
    if len(text) <= limit:
        return text
    marker = "\n<<<END DATA>>>"
    return text[: limit - len(marker) - 14] + " …(truncated)" + marker


def novel(found: list[Evidence], known: list[Evidence]) -> list[Evidence]:
    """Drop what only repeats a measurement already made: the judge keeps the strongest reading
    per signal, so a repeat changes nothing but would clutter the report's evidence."""
    out: list[Evidence] = []
    for e in found:
        if any(
            k.signal == e.signal and k.source == e.source and abs(k.strength - e.strength) < 0.05
            for k in [*known, *out]
        ):
            continue
        out.append(e)
    return out


def scoped_to(query: str, service: str) -> bool:
    """Every `service:` term names the hypothesis' service, and nothing widens it (`OR`, wildcards).

    Otherwise an anomaly in another service could be counted for this one.
    """
    terms = re.findall(r"(?i)(?:^|[\s{,(])([-!]?)service:\"?([^\s\"{}(),]+)", query)
    positive = [name for negated, name in terms if not negated]
    if not positive or re.search(r"\bOR\b|\|\|", query):
        return False
    return all(name.lower() == service.lower() for name in positive)


def _budget_counts(budget: Any) -> tuple[int, int]:
    if budget is None:
        return 0, 0
    return int(getattr(budget, "used", 0)), int(getattr(budget, "errors", 0))
