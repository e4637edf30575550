"""Code, not a prompt, decides a hypothesis' status and caps its confidence by its evidence.

Each kind has a score for a service, computed from that service's own evidence. A hypothesis is
validated only when its kind's score is clearly high, invalidated only when the signals it needs
were measured and are normal, and inconclusive otherwise: a guess is never promoted to a finding.
"""

from __future__ import annotations

from sleuth.agents.signals import CACHE_QUEUE_WORDS, DATABASE_WORDS, KIND_SIGNALS
from sleuth.models.common import RootCauseKind
from sleuth.models.investigation import Evidence, Hypothesis, InvestigationContext, Lead

VALIDATE_AT = 0.5
INVALIDATE_BELOW = 0.2
LEAD_AT = 0.45
# Confidence may not exceed what the number of independent sources can carry.
SOURCE_CAP = {0: 0.0, 1: 0.6, 2: 0.8}
MAX_CONFIDENCE = 0.95

SYMPTOMS = ("self_latency", "originated_errors", "new_log_patterns", "log_errors", "errors", "latency")


def strongest(evidence: list[Evidence]) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in evidence:
        out[e.signal] = max(out.get(e.signal, 0.0), e.strength)
    return out


def measured(evidence: list[Evidence]) -> set[str]:
    return {e.signal for e in evidence}


def kind_scores(service: str, evidence: list[Evidence]) -> dict[RootCauseKind, float]:
    s = strongest(evidence)

    def g(*names: str) -> float:
        return max((s.get(n, 0.0) for n in names), default=0.0)

    own = g("self_latency", "originated_errors", "new_log_patterns")
    symptom = max(own, g("errors", "latency", "log_errors") * 0.8)
    is_db = bool(DATABASE_WORDS.search(service)) or g("db_latency", "db_connections", "db_locks") > 0
    is_infra = bool(CACHE_QUEUE_WORDS.search(service)) or "queue_lag" in s
    resources = max(g("cpu", "cpu_throttle"), g("memory", "restarts", "oom_logs"), g("disk", "disk_logs"))
    changed = max(g("deployment_event"), g("config_event"))
    scores: dict[RootCauseKind, float] = {
        "cpu_saturation": _corroborated(g("cpu", "cpu_throttle"), g("self_latency", "latency")),
        "memory_pressure": _corroborated(
            g("memory", "restarts", "oom_logs"), max(g("restarts"), g("oom_logs"), symptom)
        ),
        "disk_pressure": _corroborated(g("disk", "disk_logs", "disk_io"), symptom),
        "network": _corroborated(
            g("net_errors", "net_latency", "edge_latency_in"), g("latency", "errors", "edge_latency_in")
        ),
        "database": (max(g("db_latency", "db_connections", "db_locks"), own) if is_db else 0.0),
        "dependency_failure": (max(own, g("queue_lag")) if is_infra and not is_db else 0.0),
        "code_error": g("originated_errors", "new_log_patterns") * (1.0 - 0.6 * max(resources, changed)),
        "deployment": min(g("deployment_event"), max(symptom, 0.0)) if g("deployment_event") else 0.0,
        "config_change": min(g("config_event"), max(symptom, 0.0)) if g("config_event") else 0.0,
        "traffic_surge": g("hits") * (1.0 if g("hits") >= 0.6 else 0.5),
        "external_dependency": g("external_errors", "external_latency"),
        "unknown": 0.0,
    }
    return scores


def _corroborated(primary: float, secondary: float) -> float:
    """A resource signal alone is a weaker finding than one that also hurt the service's latency or errors."""
    return primary * (0.6 + 0.4 * secondary) if primary else 0.0


def confidence_cap(evidence: list[Evidence]) -> float:
    sources = {e.source for e in evidence if e.supports and e.source != "human"}
    return SOURCE_CAP.get(len(sources), MAX_CONFIDENCE)


def judge(h: Hypothesis, ctx: InvestigationContext | None = None) -> Hypothesis:
    scores = kind_scores(h.service, h.evidence)
    score = scores.get(h.kind, 0.0)
    needs = _needed_signals(h.kind)
    seen = measured(h.evidence)
    supporting = [e for e in h.evidence if e.supports]
    confidence = round(min(score, confidence_cap(supporting), MAX_CONFIDENCE), 3)
    if score >= VALIDATE_AT and confidence >= VALIDATE_AT:
        status = "validated"
    elif score < INVALIDATE_BELOW and needs and needs & seen:
        status = "invalidated"
    else:
        status = "inconclusive"
    onsets = [e.onset for e in supporting if e.onset is not None]
    return h.model_copy(
        update={
            "status": status,
            "confidence": confidence,
            "onset": min(onsets) if onsets else h.onset,
            "leads": _leads(h, scores, ctx),
        }
    )


def _needed_signals(kind: RootCauseKind) -> set[str]:
    return set(KIND_SIGNALS.get(kind, ()))


def _leads(h: Hypothesis, scores: dict[RootCauseKind, float], ctx: InvestigationContext | None) -> list[Lead]:
    leads: list[Lead] = []
    mine = scores.get(h.kind, 0.0)
    for kind, score in sorted(scores.items(), key=lambda kv: -kv[1]):
        if kind != h.kind and score >= LEAD_AT and score > mine:
            leads.append(
                Lead(
                    service=h.service,
                    kind=kind,
                    reason=f"{kind} signals in {h.service} ({score:.2f})",
                    strength=round(score, 3),
                )
            )
            break
    if ctx is not None and ctx.span_summary is not None:
        for e in ctx.span_summary.edges:
            if e.caller != h.service or e.callee == h.service:
                continue
            err_up = e.window_error_rate - e.baseline_error_rate
            slow = (
                (e.window_p50_ms or 0.0) / max(e.baseline_p50_ms or 0.0, 0.05) if e.baseline_p50_ms else 1.0
            )
            if err_up > 0.02 or slow > 1.4:
                strength = min(1.0, max(err_up * 5, (slow - 1.0) / 2))
                leads.append(
                    Lead(
                        service=e.callee,
                        kind="unknown",
                        reason=f"calls from {h.service} to {e.callee}: errors {e.window_error_rate:.1%} (was {e.baseline_error_rate:.1%}), latency ×{slow:.1f}",
                        strength=round(strength, 3),
                    )
                )
    return leads[:6]
