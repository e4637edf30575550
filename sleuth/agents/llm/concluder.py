"""LLMConcluder: code decides the verdict, ranking and action; the model only writes the prose.

The summary starts with a headline built by code from the decision, so even a model that
contradicts it (or was talked into claiming a rollback happened) cannot change what the on-call
engineer reads first.
"""

from __future__ import annotations

import logging
import re

from sleuth.agents.llm import prompts
from sleuth.agents.llm.common import BudgetExhausted, ConcluderRole, ModelSession, log, with_note, with_usage
from sleuth.agents.providers.base import Message, ModelError, ModelProvider, Role
from sleuth.models.requests import ConcludeInput, Conclusion

MAX_SUMMARY_CHARS = 2000


class LLMConcluder:
    def __init__(
        self, provider: ModelProvider | None, offline: ConcluderRole, role: Role = "concluder"
    ) -> None:
        self.provider = provider
        self.offline = offline
        self.role: Role = role

    async def conclude(self, inp: ConcludeInput) -> Conclusion:
        base = self.offline.conclude(inp)
        if self.provider is None:
            return base
        if inp.stopped:  # a human pressed stop: publish now, not after another model round-trip
            return with_note(base, "summary written offline: the investigation was stopped", logging.INFO)
        session = ModelSession(self.provider, self.role, inp.remaining_tokens)
        try:
            response = await session.ask(
                prompts.SUMMARY_SYSTEM,
                [Message(role="user", content=prompts.summary_user(inp.context, base, inp.hypotheses))],
                max_tokens=600,
            )
        except (BudgetExhausted, ModelError) as exc:
            return with_note(with_usage(base, session.usage), f"summary written offline: {exc}")
        except Exception as exc:  # an LLM add-on must never cost the investigation its conclusion
            log.exception("LLM concluder failed")
            return with_note(
                with_usage(base, session.usage), f"summary written offline: {type(exc).__name__}"
            )
        text = clean(response.text)
        if not text:
            return with_note(
                with_usage(base, session.usage), "summary written offline: the model returned no text"
            )
        # Only the text changes: verdict, root cause, ranking and action are the offline concluder's.
        return with_usage(base.model_copy(update={"summary": f"{headline(base)}\n\n{text}"}), session.usage)


def clean(text: str) -> str:
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text or "").strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text if len(text) <= MAX_SUMMARY_CHARS else text[: MAX_SUMMARY_CHARS - 1] + "…"


def headline(c: Conclusion) -> str:
    rc = c.root_cause
    if c.verdict == "root_cause_found" and rc is not None:
        line = f"Root cause: {rc.kind} in {rc.service} (confidence {rc.confidence:.2f})."
    elif c.verdict == "stopped":
        line = "Investigation stopped before a conclusion."
    elif c.verdict == "failed":
        line = "Investigation failed."
    else:
        line = "Inconclusive: no cause was validated by the evidence."
    if c.action is not None:
        line += f" Proposed action, awaiting human approval: {c.action.kind} {c.action.service}."
    return line
