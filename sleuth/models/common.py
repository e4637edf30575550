"""Vocabulary shared by every layer: root-cause kinds, verdicts, statuses and phases."""

from __future__ import annotations

from typing import Literal, get_args

RootCauseKind = Literal[
    "deployment",
    "config_change",
    "code_error",
    "dependency_failure",
    "database",
    "cpu_saturation",
    "memory_pressure",
    "disk_pressure",
    "network",
    "traffic_surge",
    "external_dependency",
    "unknown",
]
ROOT_CAUSE_KINDS: tuple[str, ...] = get_args(RootCauseKind)

Verdict = Literal["root_cause_found", "inconclusive", "stopped", "failed"]

HypothesisStatus = Literal["pending", "validated", "invalidated", "inconclusive"]

Phase = Literal[
    "received",
    "gathering_context",
    "planning",
    "testing",
    "concluding",
    "publishing",
    "awaiting_approval",
    "evaluating",
    "done",
]

TelemetrySource = Literal["metrics", "logs", "spans", "events", "monitor", "topology", "human"]
