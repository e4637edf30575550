"""Builds the Temporal client and worker: the InvestigateAlert workflow and every activity."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig
from temporalio.worker import Worker

from sleuth.activities.evaluation import EvaluationActivities
from sleuth.activities.investigation import InvestigationActivities
from sleuth.activities.publishing import PublishingActivities
from sleuth.config import Settings, TemporalAccess
from sleuth.workflows import InvestigateAlert


async def connect(address: str, namespace: str = "default", access: TemporalAccess | None = None) -> Client:
    """A client for `address`; `access` only for a Temporal the user configured (never the embedded one)."""
    access = access or TemporalAccess()
    return await Client.connect(
        address,
        namespace=namespace,
        api_key=access.api_key,
        tls=tls_config(access),
        data_converter=pydantic_data_converter,
    )


def tls_config(access: TemporalAccess) -> TLSConfig | bool:
    if not access.tls:
        return False
    return TLSConfig(
        server_root_ca_cert=_read(access.server_ca_cert_path, "TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
        domain=access.server_name,
        client_cert=_read(access.client_cert_path, "TEMPORAL_TLS_CLIENT_CERT_PATH"),
        client_private_key=_read(access.client_key_path, "TEMPORAL_TLS_CLIENT_KEY_PATH"),
    )


def _read(path: Path | None, variable: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.expanduser().read_bytes()
    except OSError as err:
        raise ValueError(f"{variable}: cannot read {path} ({err.strerror}); point it at a PEM file") from err


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
