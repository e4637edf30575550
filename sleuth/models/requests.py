"""Inputs and outputs of the workflow and its activities: one model each, so fields can be added later."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from sleuth.models.alert import Alert
from sleuth.models.common import Verdict
from sleuth.models.investigation import (
    Budget,
    Hint,
    Hypothesis,
    InvestigationContext,
    ProposedAction,
    RankedCause,
    Report,
    RootCause,
    Usage,
)
from sleuth.models.telemetry import EvidenceGap


class InvestigationRequest(BaseModel):
    alert: Alert
    received_at: datetime
    budget: Budget = Field(default_factory=Budget)
    model: str = "offline"
    task_queue: str = "sleuth"  # printed in the report's temporal commands
    namespace: str = "default"


class TraceContext(BaseModel):
    """LLM Observability distributed headers, carried through workflow state to join one trace."""

    headers: dict[str, str] = Field(default_factory=dict)


class GatherContextInput(BaseModel):
    investigation_id: str
    alert: Alert
    now: datetime
    max_datadog_calls: int
    trace: TraceContext = Field(default_factory=TraceContext)


class GatherContextResult(BaseModel):
    context: InvestigationContext
    usage: Usage = Field(default_factory=Usage)
    trace: TraceContext = Field(default_factory=TraceContext)


class PlanInput(BaseModel):
    investigation_id: str
    context: InvestigationContext
    round: int
    tested: list[Hypothesis] = Field(default_factory=list)
    hints: list[Hint] = Field(default_factory=list)
    max_new: int
    model: str = "offline"
    remaining_tokens: int = 0
    trace: TraceContext = Field(default_factory=TraceContext)


class PlanResult(BaseModel):
    hypotheses: list[Hypothesis]
    usage: Usage = Field(default_factory=Usage)
    notes: list[str] = Field(default_factory=list)
    # The planner had the whole remaining token budget and it could not pay for one more call.
    model_budget_exhausted: bool = False


class TestInput(BaseModel):
    investigation_id: str
    context: InvestigationContext
    hypothesis: Hypothesis
    max_datadog_calls: int
    model: str = "offline"
    remaining_tokens: int = 0
    trace: TraceContext = Field(default_factory=TraceContext)


class TestResult(BaseModel):
    hypothesis: Hypothesis  # with status, confidence, evidence and gaps set by code
    usage: Usage = Field(default_factory=Usage)


class ConcludeInput(BaseModel):
    investigation_id: str
    context: InvestigationContext
    hypotheses: list[Hypothesis]
    model: str = "offline"
    remaining_tokens: int = 0
    stopped: bool = False
    trace: TraceContext = Field(default_factory=TraceContext)


class Conclusion(BaseModel):
    verdict: Verdict
    root_cause: RootCause | None = None
    ranked_causes: list[RankedCause] = Field(default_factory=list)
    summary: str = ""
    action: ProposedAction | None = None
    usage: Usage = Field(default_factory=Usage)


class PublishInput(BaseModel):
    report: Report
    trace: TraceContext = Field(default_factory=TraceContext)


class ActionInput(BaseModel):
    investigation_id: str
    action: ProposedAction
    monitor_id: str | None = None
    aggreg_key: str | None = None


class EvaluateInput(BaseModel):
    report: Report
    trace: TraceContext = Field(default_factory=TraceContext)
    budget: Budget | None = None  # the budget this run had (settings may have changed since)


class EvaluationScore(BaseModel):
    label: str
    metric_type: str  # "score" | "categorical" | "boolean"
    value: float | str | bool
    reasoning: str = ""


class EvaluateResult(BaseModel):
    scores: list[EvaluationScore] = Field(default_factory=list)
    submitted: bool = False
    gaps: list[EvidenceGap] = Field(default_factory=list)
