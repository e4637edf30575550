"""The investigation's own state: budgets, hypotheses, evidence, the report and human control inputs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from sleuth.models.alert import Alert
from sleuth.models.common import HypothesisStatus, Phase, RootCauseKind, TelemetrySource, Verdict
from sleuth.models.telemetry import ChangeEvent, Edge, EvidenceGap, MonitorInfo, ServiceHealth, SpanSummary


class Budget(BaseModel):
    """Every limit an investigation runs under; when one runs out it concludes with what it knows."""

    max_rounds: int = Field(default=3, ge=1, le=10)
    max_parallel_tests: int = Field(default=8, ge=1, le=64)
    max_hypotheses: int = Field(default=24, ge=1, le=200)
    max_datadog_calls: int = Field(default=400, ge=1)
    max_model_tokens: int = Field(default=200_000, ge=0)
    max_cost_usd: float = Field(default=2.0, ge=0)
    deadline_seconds: float = Field(default=600.0, gt=0)
    approval_timeout_seconds: float = Field(default=1800.0, gt=0)


class Usage(BaseModel):
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    datadog_calls: int = 0
    datadog_errors: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def plus(self, other: Usage) -> Usage:
        return Usage(
            model_calls=self.model_calls + other.model_calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
            datadog_calls=self.datadog_calls + other.datadog_calls,
            datadog_errors=self.datadog_errors + other.datadog_errors,
        )


class Evidence(BaseModel):
    """One thing seen in telemetry, with the query that saw it."""

    source: TelemetrySource
    query: str
    observation: str
    signal: str = ""  # what was measured: "self_latency", "error_rate", "cpu", "new_log_pattern", ...
    strength: float = Field(default=0.0, ge=0.0, le=1.0)  # how anomalous, 0 = normal
    supports: bool = True  # for the hypothesis (True) or against it (False)
    baseline: float | None = None
    current: float | None = None
    onset: datetime | None = None
    points_to: str | None = None  # another service this observation implicates (a drill-down lead)


class Lead(BaseModel):
    """Where the evidence points next: a drill-down the planner turns into a hypothesis next round."""

    service: str
    kind: RootCauseKind
    reason: str
    strength: float = Field(default=0.0, ge=0.0, le=1.0)


class Hypothesis(BaseModel):
    id: str
    service: str
    kind: RootCauseKind
    statement: str
    origin: Literal["planner", "drilldown", "human"] = "planner"
    round: int = 1
    status: HypothesisStatus = "pending"
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)
    gaps: list[EvidenceGap] = Field(default_factory=list)
    onset: datetime | None = None
    leads: list[Lead] = Field(default_factory=list)


class Hint(BaseModel):
    """A human's pointer, sent with `temporal workflow signal --name hint`."""

    text: str
    service: str | None = None
    kind: RootCauseKind | None = None
    by: str | None = None


class StopRequest(BaseModel):
    by: str | None = None
    reason: str | None = None


class Decision(BaseModel):
    """Approve or reject the proposed action (`temporal workflow update execute --name approve`)."""

    by: str | None = None
    action_id: str | None = None
    comment: str | None = None


class ProposedAction(BaseModel):
    id: str
    kind: Literal["rollback", "revert_config", "scale_out", "restart", "failover"]
    service: str
    description: str
    status: Literal["proposed", "approved", "rejected", "expired", "executed", "not_executed"] = "proposed"
    decided_by: str | None = None
    comment: str | None = None


class RootCause(BaseModel):
    service: str
    kind: RootCauseKind
    summary: str
    confidence: float = Field(ge=0.0, le=1.0)


class RankedCause(BaseModel):
    service: str
    kind: RootCauseKind
    score: float
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str
    hypothesis_ids: list[str] = Field(default_factory=list)


class InvestigationContext(BaseModel):
    """What the investigator learned before forming hypotheses."""

    alert: Alert
    monitor: MonitorInfo | None = None
    service: str | None = None
    env: str | None = None
    alert_time: datetime
    window_start: datetime
    window_end: datetime
    baseline_start: datetime
    baseline_end: datetime
    monitor_metric: str | None = None
    services: list[str] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    # False when the span searches hit their cap: the edges are then a sample of the call graph, and a
    # service missing from it is unobserved rather than unconnected.
    call_graph_complete: bool = True
    span_summary: SpanSummary | None = None
    health: list[ServiceHealth] = Field(default_factory=list)
    changes: list[ChangeEvent] = Field(default_factory=list)
    runbook_links: list[str] = Field(default_factory=list)
    gaps: list[EvidenceGap] = Field(default_factory=list)


class Timings(BaseModel):
    started_at: datetime
    first_finding_at: datetime | None = None
    concluded_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def seconds_to_conclusion(self) -> float | None:
        if self.concluded_at is None:
            return None
        return (self.concluded_at - self.started_at).total_seconds()


class Publication(BaseModel):
    event_id: str | None = None
    notebook_id: str | None = None
    url: str | None = None
    gaps: list[EvidenceGap] = Field(default_factory=list)


class Report(BaseModel):
    """The workflow's result: what the on-call engineer reads, and what evaluations score."""

    investigation_id: str
    monitor_id: str | None = None
    service: str | None = None
    env: str | None = None
    title: str = ""
    verdict: Verdict
    root_cause: RootCause | None = None
    ranked_causes: list[RankedCause] = Field(default_factory=list)
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    gaps: list[EvidenceGap] = Field(default_factory=list)
    summary: str = ""
    action: ProposedAction | None = None
    stopped_by: StopRequest | None = None
    stop_reason: str | None = None  # budget or human reason that ended the run early
    recovered_at: datetime | None = None
    deliveries: int = 1
    hints: list[Hint] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    timings: Timings
    model: str = "offline"
    publication: Publication | None = None
    temporal_commands: list[str] = Field(default_factory=list)


class Status(BaseModel):
    """Answer to `temporal workflow query --type status`."""

    investigation_id: str
    phase: Phase
    round: int
    hypotheses: list[Hypothesis]
    usage: Usage
    budget: Budget
    verdict: Verdict | None = None
    root_cause: RootCause | None = None
    action: ProposedAction | None = None
    stop_requested: bool = False
    recovered: bool = False
    deliveries: int = 1
    pending_hints: int = 0
