"""LLMPlanner: the offline planner's hypotheses, plus what a model adds — validated by code.

Merge policy (why): the model may add coverage but must never remove it. The offline planner's
hypotheses come first and keep their ids. Model proposals that survive validation and are not
duplicates (same service and kind as a planned or already tested hypothesis) fill the room the
offline planner left under `max_new`; when it left none, they may take at most a quarter of the
slots, displacing only the offline planner's lowest-ranked candidates. So at least the offline
top ¾ is always tested, whatever the model says.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sleuth.agents.llm import prompts
from sleuth.agents.llm.common import BudgetExhausted, ModelSession, PlannerRole, log, with_note, with_usage
from sleuth.agents.providers.base import Message, ModelError, ModelProvider, Role
from sleuth.models.common import ROOT_CAUSE_KINDS
from sleuth.models.investigation import Hypothesis
from sleuth.models.requests import PlanInput, PlanResult

MAX_STATEMENT = 300


class LLMPlanner:
    def __init__(self, provider: ModelProvider | None, offline: PlannerRole, role: Role = "planner") -> None:
        self.provider = provider
        self.offline = offline
        self.role: Role = role

    async def plan(self, inp: PlanInput) -> PlanResult:
        base = self.offline.plan(inp)
        if self.provider is None or inp.max_new <= 0:
            return base
        session = ModelSession(self.provider, self.role, inp.remaining_tokens)
        try:
            proposals, errors = await self._ask(session, inp, base.hypotheses)
        except BudgetExhausted as exc:
            spent = with_usage(base, session.usage).model_copy(update={"model_budget_exhausted": True})
            return with_note(spent, f"planner fell back to offline: {exc}")
        except ModelError as exc:
            return with_note(with_usage(base, session.usage), f"planner fell back to offline: {exc}")
        except Exception as exc:  # an LLM add-on must never cost the investigation its offline plan
            log.exception("LLM planner failed")
            return with_note(
                with_usage(base, session.usage), f"planner fell back to offline: {type(exc).__name__}"
            )
        if errors:
            note = f"planner fell back to offline: model proposals invalid twice ({'; '.join(errors[:3])})"
            return with_note(with_usage(base, session.usage), note)
        merged, added = merge(base.hypotheses, proposals, inp)
        result = base.model_copy(update={"hypotheses": merged})
        result = with_usage(result, session.usage)
        if not added:
            return result
        return with_note(
            result, f"planner: model {self.provider.name} added {added} hypothesis(es)", logging.INFO
        )

    async def _ask(
        self, session: ModelSession, inp: PlanInput, candidates: list[Hypothesis]
    ) -> tuple[list[tuple[str, str, str]], list[str]]:
        known = known_services(inp)
        hints = [h.text for h in inp.hints]
        max_items = max(1, inp.max_new)
        tool = prompts.propose_tool(max_items)
        messages = [
            Message(
                role="user",
                content=prompts.planner_user(
                    inp.context, sorted(known.values()), candidates, inp.tested, hints, max_items
                ),
            )
        ]
        errors: list[str] = []
        for _attempt in range(2):  # one re-ask with the validation errors, then give up
            response = await session.ask(prompts.PLANNER_SYSTEM, messages, [tool], max_tokens=1024)
            call = next((c for c in response.tool_calls if c.name == tool.name), None)
            if call is None:
                errors = ["no call to propose_hypotheses"]
                messages += [
                    Message(role="assistant", content=response.text or "(no answer)"),
                    Message(
                        role="user", content="Call the tool propose_hypotheses (an empty list is allowed)."
                    ),
                ]
                continue
            proposals, errors = validate(call.arguments, known, hints, max_items)
            if not errors:
                return proposals, []
            messages += [
                Message(role="assistant", content=response.text, tool_calls=[call]),
                Message(
                    role="tool",
                    tool_call_id=call.id,
                    content="Rejected, fix and call propose_hypotheses again:\n- " + "\n- ".join(errors[:10]),
                ),
            ]
            # Calls the model made besides ours still need an answer for the conversation to be valid.
            messages += [
                Message(role="tool", tool_call_id=c.id, content="unknown tool")
                for c in response.tool_calls
                if c.id != call.id
            ]
        return [], errors


def known_services(inp: PlanInput) -> dict[str, str]:
    """lower-cased name → canonical name, from the topology, the alert and the humans' hints."""
    ctx = inp.context
    names = [*ctx.services, *(e.caller for e in ctx.edges), *(e.callee for e in ctx.edges)]
    names += [ctx.service or ""] + [h.service or "" for h in inp.hints]
    return {n.strip().lower(): n.strip() for n in names if n and n.strip()}


def _named_in_hints(service: str, hints: list[str]) -> bool:
    pattern = re.compile(rf"(?<![\w.-]){re.escape(service)}(?![\w.-])", re.I)
    return any(pattern.search(t) for t in hints)


def validate(
    args: dict[str, Any], known: dict[str, str], hints: list[str], max_items: int
) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(service, kind, statement) triples, or the errors to show the model. Unknown fields are ignored."""
    items = args.get("hypotheses")
    if not isinstance(items, list):
        return [], ["`hypotheses` must be an array of {service, kind, statement}"]
    errors: list[str] = []
    if len(items) > max_items:
        errors.append(f"at most {max_items} hypotheses, got {len(items)}")
    out: list[tuple[str, str, str]] = []
    for i, item in enumerate(items[: max_items + 5]):
        if not isinstance(item, dict):
            errors.append(f"item {i}: must be an object")
            continue
        service = str(item.get("service") or "").strip()
        kind = str(item.get("kind") or "").strip().lower()
        statement = " ".join(str(item.get("statement") or "").split())
        canonical = known.get(service.lower())
        if canonical is None and service and _named_in_hints(service, hints):
            canonical = service
        if canonical is None:
            shown = ", ".join(sorted(known.values())[:30])
            errors.append(f"item {i}: unknown service {service[:60]!r}; known services: {shown}")
        if kind not in ROOT_CAUSE_KINDS:
            errors.append(f"item {i}: kind {kind[:40]!r} is not one of {', '.join(ROOT_CAUSE_KINDS)}")
        if not statement:
            errors.append(f"item {i}: statement is empty")
        if canonical and kind in ROOT_CAUSE_KINDS and statement:
            out.append((canonical, kind, statement[:MAX_STATEMENT]))
    return out, errors


def merge(
    offline: list[Hypothesis], proposals: list[tuple[str, str, str]], inp: PlanInput
) -> tuple[list[Hypothesis], int]:
    taken: set[tuple[str, str]] = {(h.service.lower(), h.kind) for h in [*inp.tested, *offline]}
    fresh: list[tuple[str, str, str]] = []
    for service, kind, statement in proposals:
        if (service.lower(), kind) not in taken:
            taken.add((service.lower(), kind))
            fresh.append((service, kind, statement))
    if not fresh:
        return list(offline), 0
    room = inp.max_new - len(offline)
    slots = len(fresh) if room >= len(fresh) else min(len(fresh), max(room, inp.max_new // 4))
    kept = offline[: max(0, inp.max_new - slots)] if slots > room else list(offline)
    used_ids = {h.id for h in [*inp.tested, *offline]}
    added: list[Hypothesis] = []
    n = 0
    for service, kind, statement in fresh[:slots]:
        n += 1
        while f"h{inp.round}-{n}" in used_ids:
            n += 1
        added.append(
            Hypothesis(
                id=f"h{inp.round}-{n}",
                service=service,
                kind=kind,  # type: ignore[arg-type]  # checked against ROOT_CAUSE_KINDS in validate()
                statement=statement,
                origin="planner",
                round=inp.round,
            )
        )
    return [*kept, *added], len(added)
