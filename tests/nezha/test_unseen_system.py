"""The investigator on a system it has never seen: 46 services in the Nezha layout (bench.nezha_synth).

Nothing in Sleuth knows this system: the importer reads its entry service, namespace and environment
from the data, and the investigator meets it only through the Datadog API. The dataset is generated
(seed 0, deterministic) into a temporary directory; the cases are those of `python -m bench.nezha_synth`:
two each of CPU contention, CPU consumption, network delay, exception, wrong return value and memory
leak. Measured (bench/results/nezha-unseen-system.md), with the alert at second 0 of its minute as here:
AC@1 11 of 12, AC@3 11 of 12 (session 13's regression, `14-05`, mended in session 14: error lines that
name the failing callee are not the caller's own errors). The one out of reach is documented there: a
wrong return value with no logs, where only the entry's error count moves.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from temporalio.client import Client

from bench.diagnose import investigate
from bench.nezha_synth import write_dataset
from sleuth.config import Settings
from sleuth.evals.nezha import nezha_cases
from sleuth.evals.suite import run_suite
from sleuth.sandbox.nezha.dataset import read_cases, system

MIN_TOP1 = 11  # of 12
MIN_TOP3 = 11


@pytest.fixture(scope="module")
def rail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("rail") / "synth-rail", seed=0)


def test_the_system_is_read_from_the_data(rail: Path) -> None:
    sysinfo = system(rail)
    assert sysinfo.entry == "ts-gateway-service"
    assert (sysinfo.namespace, sysinfo.env) == ("rail", "synth-rail")
    assert len(sysinfo.services) >= 40
    [case] = nezha_cases(["2023-03-14-03"], root=rail)
    world = case.server().world
    query = world.monitor().query
    assert query.startswith("avg(last_1m):p90:trace.grpc.server{service:ts-gateway-service,env:synth-rail}")
    assert case.truth.service not in query


def test_the_offline_investigator_on_a_46_service_system_it_has_never_seen(rail: Path) -> None:
    names = [inc.case_id for inc, _ in read_cases(rail)]
    assert len(names) == 12
    dataset = f"nezha:{rail}"
    # Spawned, not forked: this test process runs threads (servers) that a fork would copy mid-flight.
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(
            pool.map(investigate, [dataset] * 12, names, [False] * 12, [0] * 12, [None] * 12, [0.0] * 12)
        )
    lines = "\n".join(text for text, *_ in results)
    top1 = sum(r[1] for r in results)
    top3 = sum(r[2] for r in results)
    assert top1 >= MIN_TOP1 and top3 >= MIN_TOP3, lines


async def test_a_case_of_it_through_the_whole_workflow(rail: Path, temporal_client: Client) -> None:
    """`sleuth eval --dataset nezha:<dir>`'s path: webhook payload → Temporal → report, on this system.
    The culprit is ranked first; whether it is also *named* depends on the instant (the span sample of
    a system this busy is the window's latest seconds): in most runs it is, in some the runner-up comes
    close enough that the report says inconclusive. Naming is measured above, over all twelve cases."""
    card = await run_suite(
        Settings(),
        f"nezha:{rail}",
        ["synth-rail-2023-03-15-01"],  # CPU contention in ts-security-service
        say=lambda _: None,
        client=temporal_client,
    )
    [case] = card.cases
    seen = (case.verdict, case.predicted_service, case.ranked_services)
    assert case.error is None and case.ranked_services[:1] == ["ts-security-service"], seen
    assert case.verdict in ("root_cause_found", "inconclusive"), seen
    assert case.predicted_service in (None, "ts-security-service"), seen
