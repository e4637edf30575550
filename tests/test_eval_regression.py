"""CI's regression gate for the offline investigator: every sandbox world through the whole
workflow, scored against ground truth the investigator never sees."""

from __future__ import annotations

from temporalio.client import Client

from sleuth.config import Settings
from sleuth.evals.suite import run_suite

# The committed scorecard (bench/results/eval-sandbox-offline.json) shows what is normal; worlds are
# re-simulated at every run's "now", so a borderline world may flip. Below these, something regressed.
MIN_AC1 = 0.70
MIN_AC3 = 0.85
MIN_KIND = 0.60


async def test_offline_investigator_does_not_regress_on_the_sandbox_worlds(temporal_client: Client) -> None:
    card = await run_suite(Settings(), "sandbox", concurrency=3, say=lambda _: None, client=temporal_client)
    failures = [c for c in card.cases if c.error]
    assert not failures, [f"{c.case}: {c.error}" for c in failures]
    summary = {c.case: (c.verdict, c.predicted_service, c.truth.service) for c in card.cases}
    assert card.ac1 >= MIN_AC1, summary
    assert card.ac3 >= MIN_AC3, summary
    assert card.kind_accuracy >= MIN_KIND, summary
