"""The model token budget running out mid-investigation, end to end: SLEUTH_MODEL=openai:gpt-4o-mini
against the local OpenAI wire stub (tests/fixtures/wire_stubs.py), the worker reading
OPENAI_BASE_URL / OPENAI_API_KEY from its environment as in production."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from temporalio.client import Client

from sleuth.sandbox import load_truth
from tests.faults.conftest import Recorder, assert_concluded, investigate
from tests.fixtures.wire_stubs import Captured, Turn, WireStub, running_stub, text_turn

WORLD = "logistics-cpu"
TRUTH = load_truth(WORLD)


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[WireStub]:
    with running_stub() as s:
        monkeypatch.setenv("OPENAI_BASE_URL", s.openai_base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
        yield s


async def test_token_budget_exhausted_still_concludes_and_publishes(
    temporal_client: Client, recorders: list[Recorder], stub: WireStub
) -> None:
    """Planning is cheap, each hypothesis test's model call is reported at 5,000 tokens: six parallel
    tests spend 30k of a 24k budget, so no second round is planned and the run concludes."""

    def answer(c: Captured) -> Turn:
        planner = b"propose_hypotheses" in c.body
        return text_turn("Nothing to add.", usage=(500, 5) if planner else (5_000, 5))

    stub.responder = answer
    run = await investigate(
        temporal_client,
        WORLD,
        SLEUTH_MODEL="openai:gpt-4o-mini",
        SLEUTH_MAX_MODEL_TOKENS=24_000,
        SLEUTH_MAX_ROUNDS=3,
    )
    r = run.report
    print(f"\nusage {r.usage}; {len(stub.requests)} model requests; stop_reason {r.stop_reason!r}")
    assert stub.requests, "the model was really called over the wire"
    assert all(q.path == "/v1/chat/completions" for q in stub.requests)
    assert r.usage.model_calls == len(stub.requests)
    assert r.usage.tokens >= 24_000
    assert r.stop_reason == "model token budget exhausted"
    assert_concluded(run)
    assert {h.round for h in r.hypotheses} == {1}, "no round was planned after the budget ran out"
    # the offline statistics carry the conclusion when the model cannot be afforded
    assert r.verdict == TRUTH.verdict
    assert r.root_cause is not None and r.root_cause.service == TRUTH.root_cause_service
    assert len(run.findings()) == 1


async def test_budget_too_small_for_another_call_is_reported(
    temporal_client: Client, recorders: list[Recorder], stub: WireStub
) -> None:
    """The first model call leaves 495 of 6,000 tokens: no step can afford another call, yet usage
    never reaches the cap itself. The report must still say the budget ran out."""
    stub.responder = lambda c: text_turn("Nothing to add.", usage=(5_500, 5))
    run = await investigate(
        temporal_client, WORLD, SLEUTH_MODEL="openai:gpt-4o-mini", SLEUTH_MAX_MODEL_TOKENS=6_000
    )
    assert_concluded(run)
    assert run.report.usage.model_calls == 1 and run.report.usage.tokens < 6_000
    assert run.report.stop_reason == "model token budget exhausted"


async def test_hypotheses_planned_before_the_budget_ran_out_are_still_tested(
    temporal_client: Client, recorders: list[Recorder], stub: WireStub
) -> None:
    """Two tests at a time, and the first two spend the whole budget: the rest of the round's
    hypotheses are tested by the statistics alone instead of being closed untested."""
    stub.responder = lambda c: text_turn(
        "Nothing to add.", usage=(300, 5) if b"propose_hypotheses" in c.body else (6_000, 5)
    )
    run = await investigate(
        temporal_client,
        WORLD,
        SLEUTH_MODEL="openai:gpt-4o-mini",
        SLEUTH_MAX_MODEL_TOKENS=12_000,
        SLEUTH_MAX_PARALLEL_TESTS=2,
    )
    r = run.report
    assert r.stop_reason == "model token budget exhausted"
    assert len(r.hypotheses) > 2, "the round planned more hypotheses than run at once"
    untested = [h.id for h in r.hypotheses if any(g.reason.startswith("not tested") for g in h.gaps)]
    assert untested == []
    # a test starts with a share of what is left; once usage passes the cap no test calls the model
    assert r.usage.model_calls == len(stub.requests) < 2 + len(r.hypotheses)
    assert r.verdict == TRUTH.verdict
    assert r.root_cause is not None and r.root_cause.service == TRUTH.root_cause_service
