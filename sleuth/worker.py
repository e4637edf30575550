"""Builds the Temporal client and worker: the InvestigateAlert workflow and every activity."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from sleuth.activities.evaluation import EvaluationActivities
from sleuth.activities.investigation import InvestigationActivities
from sleuth.activities.publishing import PublishingActivities
from sleuth.config import Settings
from sleuth.workflows import InvestigateAlert


async def connect(address: str, namespace: str = "default") -> Client:
    return await Client.connect(address, namespace=namespace, data_converter=pydantic_data_converter)


def activities(settings: Settings) -> list[Callable[..., Any]]:
    inv = InvestigationActivities(settings)
    pub = PublishingActivities(settings)
    ev = EvaluationActivities(settings)
    return [
        inv.gather_context,
        inv.plan_hypotheses,
        inv.test_hypothesis,
        inv.conclude_investigation,
        pub.publish_findings,
        pub.execute_action,
        ev.evaluate_investigation,
    ]


def build_worker(client: Client, settings: Settings, *, max_concurrent_activities: int = 64) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[InvestigateAlert],
        activities=activities(settings),
        max_concurrent_activities=max_concurrent_activities,
        # Gateway calls block in threads; this bounds how many run at once in one worker.
        activity_executor=ThreadPoolExecutor(max_workers=max_concurrent_activities),
    )
