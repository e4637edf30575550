"""InvestigateAlert: gather context → plan → test in parallel → judge → drill down → conclude →
publish → approval gate → evaluate. The story only: every side effect is an activity, and every
judgement is made by the agents behind those activities.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from sleuth.activities import names as act
    from sleuth.models.alert import AlertDelivery
    from sleuth.models.common import Phase
    from sleuth.models.investigation import (
        Decision,
        Hint,
        Hypothesis,
        InvestigationContext,
        ProposedAction,
        Publication,
        Report,
        Status,
        StopRequest,
        Timings,
    )
    from sleuth.models.requests import (
        ActionInput,
        ConcludeInput,
        Conclusion,
        EvaluateInput,
        EvaluateResult,
        GatherContextInput,
        GatherContextResult,
        InvestigationRequest,
        PlanInput,
        PlanResult,
        PublishInput,
        TestInput,
        TestResult,
        TraceContext,
    )
    from sleuth.models.telemetry import EvidenceGap
    from sleuth.workflows import search_attributes as sa
    from sleuth.workflows.commands import temporal_commands
    from sleuth.workflows.ledger import COST_SPENT, DEADLINE, TOKENS_SPENT, Ledger

T = TypeVar("T")

# Activities are retried, but never without a cap.
RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=3,
    non_retryable_error_types=["DatadogAuthError", "ValidationError"],
)
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500), maximum_interval=timedelta(seconds=10), maximum_attempts=6
)


# Without a context there is nothing to conclude from, so a deadline that passes while it is gathered
# ends planning and testing, not the gathering (a stop still does; the activity has its own timeout).
CONTEXT_OUTLASTS_DEADLINE = "context-outlasts-deadline"


class Stopped(Exception):
    """Raised inside the workflow when a human pressed stop or a budget ran out."""


@workflow.defn(name="InvestigateAlert")
class InvestigateAlert:
    @workflow.init
    def __init__(self, request: InvestigationRequest) -> None:
        self._request = request
        self._budget = request.budget
        self._phase: Phase = "received"
        self._round = 0
        self._hypotheses: dict[str, Hypothesis] = {}
        self._pending_hints: list[Hint] = []
        self._hints: list[Hint] = []
        self._stop: StopRequest | None = None
        self._stop_reason: str | None = None
        self._ledger = Ledger(request.budget)
        self._gaps: list[EvidenceGap] = []
        self._conclusion: Conclusion | None = None
        self._action: ProposedAction | None = None
        self._decision: tuple[str, Decision] | None = None
        self._seen_deliveries: set[str] = {request.alert.delivery_id} if request.alert.delivery_id else set()
        self._deliveries = 1
        self._recovered_at: datetime | None = None
        self._trace = TraceContext()

    # -- the story -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: InvestigationRequest) -> Report:
        wid = workflow.info().workflow_id
        timings = Timings(started_at=workflow.now())
        self._ledger.start(timings.started_at)
        context: InvestigationContext | None = None
        try:
            context = await self._gather(wid, request)
            if context is None:
                raise Stopped()
            for round_no in range(1, self._budget.max_rounds + 1):
                self._round = round_no
                planned = await self._plan(wid, context, round_no)
                if not planned:
                    break
                await self._test_all(wid, context, planned, timings)
                self._check_budgets()
        except Stopped:
            pass

        if context is None:
            report = self._report(
                wid, timings, None, Conclusion(verdict="failed", summary=self._why_failed())
            )
            self._set_phase("publishing")
            return await self._finish(await self._publish(report))

        self._set_phase("concluding")
        self._close_untested()
        conclusion = await self._conclude(wid, context)
        self._conclusion = conclusion
        timings.concluded_at = workflow.now()
        report = self._report(wid, timings, context, conclusion)

        self._set_phase("publishing")
        report = await self._publish(report)

        if report.action is not None and self._stop is None:
            report.action = await self._approval_gate(wid, report)
        return await self._finish(report)

    async def _gather(self, wid: str, request: InvestigationRequest) -> InvestigationContext | None:
        self._set_phase("gathering_context")
        try:
            result = await self._activity(
                act.GATHER_CONTEXT,
                GatherContextInput(
                    investigation_id=wid,
                    alert=request.alert,
                    now=workflow.now(),
                    max_datadog_calls=self._ledger.remaining_calls(),
                    trace=self._trace,
                ),
                GatherContextResult,
                timeout=timedelta(seconds=60),
                outlasts_deadline=True,
            )
        except ActivityError as err:
            self._gaps.append(EvidenceGap(source="monitor", query="gather context", reason=_why(err)))
            self._stop_reason = self._stop_reason or "context could not be gathered"
            return None
        self._ledger.add(result.usage)
        self._trace = result.trace
        context = result.context
        self._gaps.extend(context.gaps)
        upserts = [sa.SERVICE.value_set(context.service)] if context.service else []
        if context.env:
            upserts.append(sa.ENV.value_set(context.env))
        if upserts:
            workflow.upsert_search_attributes(upserts)
        return context

    async def _plan(self, wid: str, context: InvestigationContext, round_no: int) -> list[Hypothesis]:
        self._set_phase("planning")
        room = self._budget.max_hypotheses - len(self._hypotheses)
        if room <= 0:
            self._stop_reason = self._stop_reason or "hypothesis budget exhausted"
            return []
        hints, self._pending_hints = self._pending_hints, []
        try:
            result = await self._activity(
                act.PLAN_HYPOTHESES,
                PlanInput(
                    investigation_id=wid,
                    context=context,
                    round=round_no,
                    tested=list(self._hypotheses.values()),
                    hints=hints,
                    max_new=room,
                    model=self._request.model,
                    remaining_tokens=self._ledger.remaining_tokens(),
                    trace=self._trace,
                ),
                PlanResult,
                timeout=timedelta(seconds=120),
            )
        except ActivityError as err:
            self._gaps.append(EvidenceGap(source="monitor", query=f"plan round {round_no}", reason=_why(err)))
            return []
        self._ledger.add(result.usage, model_budget_exhausted=result.model_budget_exhausted)
        fresh = [h for h in result.hypotheses if h.id not in self._hypotheses][:room]
        for h in fresh:
            self._hypotheses[h.id] = h
        return fresh

    async def _test_all(
        self, wid: str, context: InvestigationContext, planned: list[Hypothesis], timings: Timings
    ) -> None:
        """Test hypotheses in parallel, at most `max_parallel_tests` at a time, recording each result as it
        lands. A spent budget stops new tests but lets those in flight finish; a stop or the deadline
        cancels them. A spent model budget does not stop them: the statistical tests cost no tokens."""
        self._set_phase("testing")
        queue = list(planned)
        running: dict[str, asyncio.Task[TestResult]] = {}
        while queue or running:
            while queue and len(running) < self._budget.max_parallel_tests:
                if self._budget_spent() and not self._offline_tests_allowed():
                    queue.clear()
                    break
                h = queue.pop(0)
                running[h.id] = asyncio.create_task(self._test_one(wid, context, h))
            if not running:
                break
            try:
                await self._wait(lambda: any(t.done() for t in running.values()), running.values())
            finally:
                for hid in [hid for hid, t in running.items() if t.done() and not t.cancelled()]:
                    result = running.pop(hid).result()
                    self._hypotheses[hid] = result.hypothesis
                    self._ledger.add(result.usage)
                    if result.hypothesis.status == "validated" and timings.first_finding_at is None:
                        timings.first_finding_at = workflow.now()

    async def _test_one(self, wid: str, context: InvestigationContext, h: Hypothesis) -> TestResult:
        per_test_calls = max(1, self._ledger.remaining_calls() // max(1, self._budget.max_parallel_tests))
        try:
            return await workflow.execute_activity(
                act.TEST_HYPOTHESIS,
                TestInput(
                    investigation_id=wid,
                    context=context,
                    hypothesis=h,
                    max_datadog_calls=per_test_calls,
                    model=self._request.model,
                    remaining_tokens=self._ledger.remaining_tokens(share=self._budget.max_parallel_tests),
                    trace=self._trace,
                ),
                result_type=TestResult,
                start_to_close_timeout=self._ledger.bounded(timedelta(seconds=90), workflow.now()),
                heartbeat_timeout=timedelta(seconds=20),
                retry_policy=RETRY,
                summary=f"test {h.id}: {h.kind} in {h.service}",
            )
        except ActivityError as err:
            failed = h.model_copy(
                update={
                    "status": "inconclusive",
                    "gaps": [*h.gaps, EvidenceGap(source="metrics", query=h.statement, reason=_why(err))],
                }
            )
            return TestResult(hypothesis=failed)

    async def _conclude(self, wid: str, context: InvestigationContext) -> Conclusion:
        try:
            conclusion = await self._activity(
                act.CONCLUDE,
                ConcludeInput(
                    investigation_id=wid,
                    context=context,
                    hypotheses=list(self._hypotheses.values()),
                    model=self._request.model,
                    remaining_tokens=self._ledger.remaining_tokens(),
                    stopped=self._stop is not None,
                    trace=self._trace,
                ),
                Conclusion,
                timeout=timedelta(seconds=120),
                stoppable=False,
            )
        except ActivityError as err:
            return Conclusion(verdict="failed", summary=f"could not conclude: {_why(err)}")
        self._ledger.add(conclusion.usage)
        if self._stop is not None:
            conclusion = conclusion.model_copy(update={"verdict": "stopped", "action": None})
        return conclusion

    async def _publish(self, report: Report) -> Report:
        try:
            publication = await workflow.execute_activity(
                act.PUBLISH_FINDINGS,
                PublishInput(report=report, trace=self._trace),
                result_type=Publication,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=PUBLISH_RETRY,
                summary="publish findings to Datadog",
            )
        except ActivityError as err:
            report.gaps.append(EvidenceGap(source="events", query="publish findings", reason=_why(err)))
            return report
        report.publication = publication
        report.gaps.extend(report.publication.gaps)
        return report

    async def _approval_gate(self, wid: str, report: Report) -> ProposedAction:
        """Nothing is executed unless a human approves before the timeout."""
        assert report.action is not None
        self._action = report.action
        self._set_phase("awaiting_approval")
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None or self._stop is not None,
                timeout=timedelta(seconds=self._budget.approval_timeout_seconds),
                timeout_summary="approval timeout",
            )
        except TimeoutError:
            pass
        action = self._action
        if self._decision is None and self._stop is not None:
            action = action.model_copy(update={"status": "not_executed", "comment": self._stop_reason})
        elif self._decision is None:
            action = action.model_copy(update={"status": "expired"})
        elif self._decision[0] == "reject":
            d = self._decision[1]
            action = action.model_copy(
                update={"status": "rejected", "decided_by": d.by, "comment": d.comment}
            )
        else:
            d = self._decision[1]
            action = action.model_copy(
                update={"status": "approved", "decided_by": d.by, "comment": d.comment}
            )
            try:
                action = await workflow.execute_activity(
                    act.EXECUTE_ACTION,
                    ActionInput(
                        investigation_id=wid,
                        action=action,
                        monitor_id=report.monitor_id,
                        aggreg_key=self._request.alert.aggreg_key,
                    ),
                    result_type=ProposedAction,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=PUBLISH_RETRY,
                    summary=f"execute approved {action.kind} of {action.service}",
                )
            except ActivityError as err:
                action = action.model_copy(update={"status": "not_executed", "comment": _why(err)})
        self._action = action
        return action

    async def _finish(self, report: Report) -> Report:
        self._set_phase("evaluating")
        try:
            await workflow.execute_activity(
                act.EVALUATE,
                EvaluateInput(report=report, trace=self._trace, budget=self._budget),
                result_type=EvaluateResult,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=2),
                summary="online evaluation",
            )
        except ActivityError:
            pass  # evaluation must never fail an investigation
        report.timings.finished_at = workflow.now()
        report.recovered_at = self._recovered_at
        report.deliveries = self._deliveries
        self._set_phase("done")
        workflow.upsert_search_attributes(
            [sa.VERDICT.value_set(report.verdict)]
            + (
                [
                    sa.ROOT_CAUSE_KIND.value_set(report.root_cause.kind),
                    sa.ROOT_CAUSE_SERVICE.value_set(report.root_cause.service),
                ]
                if report.root_cause
                else []
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return report

    # -- helpers that keep the story short -------------------------------------------------------

    async def _activity(
        self,
        name: str,
        arg: Any,
        result_type: type[T],
        timeout: timedelta,
        stoppable: bool = True,
        outlasts_deadline: bool = False,
    ) -> T:
        """Run an activity, cut short by a stop and (unless it `outlasts_deadline`) by the deadline."""
        task: asyncio.Task[T] = asyncio.create_task(
            workflow.execute_activity(
                name,
                arg,
                result_type=result_type,
                start_to_close_timeout=timeout
                if outlasts_deadline
                else self._ledger.bounded(timeout, workflow.now()),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
                summary=name.replace("_", " "),
            )
        )
        if stoppable:
            await self._wait(task.done, [task], outlasts_deadline)
        return await task

    async def _wait(self, ready: Any, tasks: Any, outlasts_deadline: bool = False) -> None:
        """Wait for `ready`, but give up at once on stop or when the wall-clock deadline passes (unless
        what is awaited `outlasts_deadline`: then the deadline is only recorded, and ends what follows)."""
        remaining = self._ledger.seconds_left(workflow.now())
        try:
            await workflow.wait_condition(
                lambda: ready() or self._stop is not None, timeout=max(0.001, remaining)
            )
        except TimeoutError:
            self._stop_reason = self._stop_reason or DEADLINE
            if outlasts_deadline and workflow.patched(CONTEXT_OUTLASTS_DEADLINE):
                await workflow.wait_condition(lambda: ready() or self._stop is not None)
        if self._stop is not None or not ready():
            pending = [t for t in tasks if not t.done()]
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            raise Stopped()

    def _close_untested(self) -> None:
        """Planned but never tested (stopped, or a budget ran out): inconclusive, and why."""
        why = self._stop_reason or "not tested"
        for hid, h in list(self._hypotheses.items()):
            if h.status == "pending":
                gap = EvidenceGap(source="monitor", query=h.statement[:120], reason=f"not tested: {why}")
                self._hypotheses[hid] = h.model_copy(
                    update={"status": "inconclusive", "gaps": [*h.gaps, gap]}
                )

    def _check_budgets(self) -> None:
        if self._budget_spent():
            raise Stopped()

    def _budget_spent(self) -> bool:
        """True when a budget has run out (recording which one): the investigation then concludes."""
        spent = self._spent_budgets()
        if spent:
            self._stop_reason = self._stop_reason or spent[0]
        return bool(spent)

    def _spent_budgets(self) -> list[str]:
        """Every budget that has run out, the one to report first; a stop counts as one."""
        stopped = [self._stop_reason] if self._stop is not None and self._stop_reason else []
        return stopped + self._ledger.spent(workflow.now())

    def _offline_tests_allowed(self) -> bool:
        """True when only the model's tokens or cost ran out: tests then go on without the model."""
        if not set(self._spent_budgets()) <= {TOKENS_SPENT, COST_SPENT}:
            return False
        return workflow.patched("offline-tests-after-token-budget")

    def _set_phase(self, phase: Phase) -> None:
        self._phase = phase
        workflow.upsert_search_attributes([sa.PHASE.value_set(phase)])

    def _why_failed(self) -> str:
        if self._stop is not None:
            return "stopped before any context was gathered"
        return self._stop_reason or "context could not be gathered"

    def _report(
        self, wid: str, timings: Timings, context: InvestigationContext | None, conclusion: Conclusion
    ) -> Report:
        alert = self._request.alert
        verdict = "stopped" if self._stop is not None else conclusion.verdict
        return Report(
            investigation_id=wid,
            monitor_id=alert.monitor_id,
            service=context.service if context else alert.tag_value("service"),
            env=context.env if context else alert.tag_value("env"),
            title=alert.title,
            verdict=verdict,
            root_cause=conclusion.root_cause,
            ranked_causes=conclusion.ranked_causes,
            hypotheses=list(self._hypotheses.values()),
            gaps=list(self._gaps),
            summary=conclusion.summary,
            action=conclusion.action if verdict == "root_cause_found" else None,
            stopped_by=self._stop,
            stop_reason=self._stop_reason,
            hints=list(self._hints),
            usage=self._ledger.usage,
            timings=timings,
            model=self._request.model,
            temporal_commands=temporal_commands(wid, context.service if context else None, self._request),
        )

    # -- human control ---------------------------------------------------------------------------

    @workflow.signal
    def stop(self, request: StopRequest) -> None:
        """The stop button: end now, publish what is known, marked as stopped by a human."""
        if self._stop is None:
            self._stop = request
            self._stop_reason = (
                "stopped by " + (request.by or "a human") + (f": {request.reason}" if request.reason else "")
            )

    @workflow.signal
    def hint(self, hint: Hint) -> None:
        """A human hypothesis or pointer, tested in the next round."""
        self._hints.append(hint)
        self._pending_hints.append(hint)

    @workflow.signal
    def alert(self, delivery: AlertDelivery) -> None:
        """Every delivery of this alert cycle (the first, re-notifications, recovery) arrives here.
        Redeliveries of one webhook share a delivery id and count once."""
        key = delivery.alert.delivery_id
        if key is not None and key in self._seen_deliveries:
            return
        if key is not None:
            self._seen_deliveries.add(key)
        if key != self._request.alert.delivery_id:
            self._deliveries += 1
        if delivery.alert.is_recovery and self._recovered_at is None:
            self._recovered_at = delivery.received_at

    @workflow.update
    def approve(self, decision: Decision) -> ProposedAction:
        assert self._action is not None
        self._decision = ("approve", decision)
        return self._action.model_copy(update={"status": "approved", "decided_by": decision.by})

    @approve.validator
    def _validate_approve(self, decision: Decision) -> None:
        self._validate_decision(decision)

    @workflow.update
    def reject(self, decision: Decision) -> ProposedAction:
        assert self._action is not None
        self._decision = ("reject", decision)
        return self._action.model_copy(update={"status": "rejected", "decided_by": decision.by})

    @reject.validator
    def _validate_reject(self, decision: Decision) -> None:
        self._validate_decision(decision)

    def _validate_decision(self, decision: Decision) -> None:
        if self._phase != "awaiting_approval" or self._action is None:
            raise ValueError(f"nothing awaits approval (phase: {self._phase})")
        if self._decision is not None:
            raise ValueError(f"action {self._action.id} was already decided")
        if decision.action_id and decision.action_id != self._action.id:
            raise ValueError(f"unknown action {decision.action_id!r}; awaiting {self._action.id!r}")

    @workflow.query
    def status(self) -> Status:
        return Status(
            investigation_id=workflow.info().workflow_id,
            phase=self._phase,
            round=self._round,
            hypotheses=list(self._hypotheses.values()),
            usage=self._ledger.usage,
            budget=self._budget,
            verdict=None if self._conclusion is None else self._conclusion.verdict,
            root_cause=None if self._conclusion is None else self._conclusion.root_cause,
            action=self._action,
            stop_requested=self._stop is not None,
            recovered=self._recovered_at is not None,
            deliveries=self._deliveries,
            pending_hints=len(self._pending_hints),
        )


def _why(err: BaseException) -> str:
    cause = err.cause if isinstance(err, ActivityError) and err.cause is not None else err
    return f"{type(cause).__name__}: {cause}"[:300]
