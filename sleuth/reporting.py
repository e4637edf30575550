"""How a report reads where the on-call engineer looks: the Datadog event, the notebook, the terminal."""

from __future__ import annotations

from sleuth.models.investigation import Hypothesis, Report

STATUS_MARK = {"validated": "✅", "invalidated": "❌", "inconclusive": "❔", "pending": "…"}


def event_tags(report: Report) -> list[str]:
    tags = [
        "source:sleuth",
        f"investigation_id:{report.investigation_id}",
        f"verdict:{report.verdict}",
    ]
    if report.monitor_id:
        tags.append(f"monitor_id:{report.monitor_id}")
    if report.root_cause:
        tags += [
            f"root_cause_service:{report.root_cause.service}",
            f"root_cause_kind:{report.root_cause.kind}",
        ]
    if report.service:
        tags.append(f"service:{report.service}")
    if report.env:
        tags.append(f"env:{report.env}")
    return tags


def event_title(report: Report) -> str:
    what = report.title or f"monitor {report.monitor_id}"
    if report.root_cause:
        return f"[Sleuth] {report.root_cause.kind.replace('_', ' ')} in {report.root_cause.service} — {what}"
    return f"[Sleuth] {report.verdict.replace('_', ' ')} — {what}"


def event_text(report: Report) -> str:
    lines = [f"**Verdict:** {report.verdict.replace('_', ' ')}"]
    if report.root_cause:
        rc = report.root_cause
        lines.append(
            f"**Root cause:** {rc.kind.replace('_', ' ')} in `{rc.service}` (confidence {rc.confidence:.0%})"
        )
        lines.append(f"{rc.summary}")
    if report.stop_reason:
        lines.append(f"**Ended early:** {report.stop_reason}")
    if report.ranked_causes:
        lines.append("\n**Ranked causes**")
        for i, c in enumerate(report.ranked_causes[:5], 1):
            lines.append(
                f"{i}. `{c.service}` {c.kind.replace('_', ' ')} — score {c.score:.2f}, confidence {c.confidence:.0%}"
            )
    key = [h for h in report.hypotheses if h.status == "validated"][:3]
    if key:
        lines.append("\n**Key evidence**")
        for h in key:
            for e in sorted((e for e in h.evidence if e.supports), key=lambda e: -e.strength)[:2]:
                lines.append(f"- {e.source}: {e.observation} (`{e.query[:120]}`)")
    if report.gaps:
        lines.append("\n**Evidence gaps**")
        lines += [f"- {g.reason}" for g in report.gaps[:6]]
    if report.action:
        a = report.action
        lines.append(f"\n**Proposed action ({a.status}):** {a.description}")
    lines.append(
        f"\n{len(report.hypotheses)} hypotheses, {report.usage.datadog_calls} Datadog calls, "
        f"{report.usage.model_calls} model calls, model `{report.model}`"
    )
    if report.temporal_commands:
        lines.append("\n**Inspect and steer this investigation**")
        lines += [f"    {c}" for c in report.temporal_commands]
    return "%%% \n" + "\n".join(lines) + "\n %%%"


def hypothesis_line(h: Hypothesis) -> str:
    return f"{STATUS_MARK.get(h.status, '?')} {h.id} {h.status:<12} {h.confidence:4.0%}  {h.kind:<19} {h.service}"


def terminal_report(report: Report) -> str:
    out = [
        "",
        "=" * 78,
        f"Investigation {report.investigation_id}",
        f"Verdict: {report.verdict}" + (f"  ({report.stop_reason})" if report.stop_reason else ""),
    ]
    if report.root_cause:
        rc = report.root_cause
        out.append(f"Root cause: {rc.service} — {rc.kind} (confidence {rc.confidence:.0%})")
        out.append(f"  {rc.summary}")
    if report.ranked_causes:
        out.append("Ranked causes:")
        out += [
            f"  {i}. {c.service:<24} {c.kind:<19} score {c.score:.2f}"
            for i, c in enumerate(report.ranked_causes, 1)
        ]
    out.append("Hypotheses:")
    out += ["  " + hypothesis_line(h) for h in report.hypotheses]
    if report.gaps:
        out.append("Evidence gaps:")
        out += [f"  - {g.reason}" for g in report.gaps[:8]]
    if report.action:
        out.append(f"Proposed action: {report.action.description} [{report.action.status}]")
    secs = report.timings.seconds_to_conclusion
    out.append(
        f"Usage: {report.usage.datadog_calls} Datadog calls, {report.usage.model_calls} model calls, "
        f"{report.usage.tokens} tokens, ${report.usage.cost_usd:.4f}"
        + (f"; concluded in {secs:.1f}s" if secs is not None else "")
    )
    if report.publication and report.publication.event_id:
        out.append(
            f"Posted to Datadog: event {report.publication.event_id}, notebook {report.publication.notebook_id}"
        )
    out.append("Inspect it with the temporal CLI:")
    out += [f"  {c}" for c in report.temporal_commands]
    out.append("=" * 78)
    return "\n".join(out)
