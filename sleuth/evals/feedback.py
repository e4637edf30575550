"""A human's verdict on a finished investigation: right, or wrong and what the real cause was.

`sleuth feedback <investigation-id> --correct` or `--wrong --cause <service>:<kind> [--by] [--note]`.
The verdict is stored durably under SLEUTH_DATA_DIR/feedback/ (one JSON file per investigation, the
latest verdict wins, and an append-only log of every verdict given), and, when LLM Observability
is on, submitted as feedback on the investigation's span. It is the label that turns the
investigation into a living evaluation case (`sleuth export-case`, see `sleuth.evals.living`).
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sleuth.config import Settings
from sleuth.evals.scorecard import Truth
from sleuth.models.common import ROOT_CAUSE_KINDS, RootCauseKind, Verdict
from sleuth.models.investigation import Report

FEEDBACK_DIR = "feedback"
DEFAULT_TEMPORAL = "127.0.0.1:7233"  # where `sleuth up` embeds Temporal


class Feedback(BaseModel):
    investigation_id: str
    correct: bool
    true_verdict: Verdict  # root_cause_found or inconclusive
    cause_service: str | None = None
    cause_kind: RootCauseKind | None = None
    predicted_verdict: Verdict | None = None
    predicted_service: str | None = None
    predicted_kind: RootCauseKind | None = None
    by: str | None = None
    note: str | None = None
    recorded_at: datetime
    submitted_to_llmobs: bool = False

    def truth(self) -> Truth:
        return Truth(
            service=self.cause_service or "", kind=self.cause_kind or "unknown", verdict=self.true_verdict
        )


def parse_cause(text: str) -> tuple[str, RootCauseKind]:
    service, sep, kind = text.strip().rpartition(":")
    if not sep or not service.strip() or kind.strip() not in ROOT_CAUSE_KINDS:
        raise ValueError(
            f"--cause must be <service>:<kind>, kind one of {', '.join(ROOT_CAUSE_KINDS)}; got {text!r}"
        )
    return service.strip(), kind.strip()  # type: ignore[return-value]


def verdict_from(
    report: Report,
    *,
    correct: bool,
    cause: str | None,
    by: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Feedback:
    """The label: the report's own answer when it was right, the human's cause when it was wrong."""
    rc = report.root_cause
    predicted: dict[str, Any] = {
        "predicted_verdict": report.verdict,
        "predicted_service": rc.service if rc else None,
        "predicted_kind": rc.kind if rc else None,
    }
    if correct:
        if cause is not None:
            raise ValueError("--cause goes with --wrong; --correct confirms the report's own root cause")
        if report.verdict == "root_cause_found" and rc is not None:
            truth: dict[str, Any] = {
                "true_verdict": "root_cause_found",
                "cause_service": rc.service,
                "cause_kind": rc.kind,
            }
        elif report.verdict == "inconclusive":
            truth = {"true_verdict": "inconclusive"}  # right not to guess
        else:
            raise ValueError(
                f"the investigation ended {report.verdict}: there is no answer to confirm; "
                "use --wrong --cause <service>:<kind>"
            )
    else:
        if cause is None:
            raise ValueError("--wrong needs --cause <service>:<kind>, the real root cause")
        service, kind = parse_cause(cause)
        truth = {"true_verdict": "root_cause_found", "cause_service": service, "cause_kind": kind}
    return Feedback(
        investigation_id=report.investigation_id,
        correct=correct,
        by=by or _user(),
        note=note,
        recorded_at=now or datetime.now(UTC),
        **predicted,
        **truth,
    )


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def safe_name(investigation_id: str) -> str:
    """A file name for an id (workflow ids may hold `/`, `:` or spaces); unique when altered."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", investigation_id).strip("._") or "investigation"
    if name != investigation_id:
        name = f"{name[:80]}-{hashlib.sha256(investigation_id.encode()).hexdigest()[:8]}"
    return name


def feedback_path(data_dir: Path, investigation_id: str) -> Path:
    return data_dir / FEEDBACK_DIR / f"{safe_name(investigation_id)}.json"


def record_feedback(data_dir: Path, fb: Feedback) -> Path:
    """Durably: written to a temporary file, fsynced and renamed; and appended to the log."""
    path = feedback_path(data_dir, fb.investigation_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(fb.model_dump_json(indent=2))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with open(path.parent / "log.jsonl", "a", encoding="utf-8") as log:
        log.write(fb.model_dump_json() + "\n")
    return path


def load_feedback(data_dir: Path, investigation_id: str) -> Feedback | None:
    path = feedback_path(data_dir, investigation_id)
    return Feedback.model_validate_json(path.read_text()) if path.is_file() else None


def submit_to_llmobs(fb: Feedback, span: dict[str, str] | None) -> bool:
    """As LLM Observability feedback on the investigation span (or its session), when tracing is on."""
    from sleuth.observability import submit, tracing

    if not tracing.ensure_enabled():
        return False
    tags = {"investigation_id": fb.investigation_id}
    if fb.cause_service:
        tags["true_cause"] = f"{fb.cause_service}:{fb.cause_kind}"
    ok = submit.submit_feedback(
        "human_verdict",
        "correct" if fb.correct else "wrong",
        submitter=fb.by or "unknown",
        span_target=span,
        session_id=None if span else fb.investigation_id,
        reasoning=fb.note,
        assessment="pass" if fb.correct else "fail",
        tags=tags,
    )
    submit.flush()
    return ok


async def give_feedback(
    client: Any,
    data_dir: Path,
    investigation_id: str,
    *,
    correct: bool,
    cause: str | None = None,
    by: str | None = None,
    note: str | None = None,
) -> tuple[Feedback, Path]:
    from sleuth.evals.living import recorded

    rec, _ = await recorded(client, investigation_id)
    if rec.report is None:
        raise ValueError(f"investigation {investigation_id} has not finished: give feedback once it has")
    fb = verdict_from(rec.report, correct=correct, cause=cause, by=by, note=note)
    from sleuth.observability.submit import investigation_span

    span = investigation_span(rec.gather.trace) if rec.gather else None
    fb.submitted_to_llmobs = await asyncio.to_thread(submit_to_llmobs, fb, span)
    return fb, record_feedback(data_dir, fb)


def main_feedback(
    settings: Settings,
    investigation_id: str,
    *,
    correct: bool,
    cause: str | None,
    by: str | None,
    note: str | None,
) -> int:
    from sleuth.worker import connect

    async def run() -> tuple[Feedback, Path]:
        client = await connect(
            settings.temporal_address or DEFAULT_TEMPORAL,
            settings.temporal_namespace,
            settings.temporal_access,
        )
        return await give_feedback(
            client, settings.data_dir, investigation_id, correct=correct, cause=cause, by=by, note=note
        )

    fb, path = asyncio.run(run())
    label = "correct" if fb.correct else f"wrong; real cause {fb.cause_service}:{fb.cause_kind}"
    print(f"recorded: {investigation_id} was {label} (by {fb.by or 'unknown'}) → {path}")
    if fb.submitted_to_llmobs:
        print("submitted to LLM Observability as feedback on the investigation span")
    print(f"turn it into an evaluation case: sleuth export-case {investigation_id}")
    return 0
