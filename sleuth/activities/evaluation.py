"""Online evaluation of a finished investigation: scores to LLM Observability, metrics to DogStatsD."""

from __future__ import annotations

from temporalio import activity

from sleuth.activities import names
from sleuth.config import Settings
from sleuth.evals.online import assess, score
from sleuth.models.requests import EvaluateInput, EvaluateResult
from sleuth.observability import metrics, submit, tracing


class EvaluationActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        tracing.ensure_enabled()

    @activity.defn(name=names.EVALUATE)
    async def evaluate_investigation(self, inp: EvaluateInput) -> EvaluateResult:
        report = inp.report
        scores = score(report, budget=inp.budget or self.settings.budget())
        tags = tracing.investigation_tags(
            report.investigation_id,
            monitor_id=report.monitor_id,
            service=report.service,
            env=report.env,
            model=report.model,
        )
        with tracing.activity_span(
            "task",
            "online_evaluation",
            inp.trace,
            investigation_id=report.investigation_id,
            tags={**tags, "verdict": report.verdict},
            input=report.summary,
        ) as span:
            span.annotate(output={s.label: s.value for s in scores})
            # Joined to the investigation's span; when gather_context never opened one, to this span.
            target = submit.investigation_span(inp.trace) or span.exported()
            submitted = submit.submit_evaluations(scores, target, tags=tags, assess=assess)
        metrics.investigation_finished(report)
        return EvaluateResult(scores=scores, submitted=submitted)
