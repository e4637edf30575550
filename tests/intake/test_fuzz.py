"""Property-based fuzz of the webhook (bench/fuzz_intake.py): no generated body gets a 5xx."""

from __future__ import annotations

import pytest

from bench.fuzz_intake import fire, fuzz_target, generate


async def test_fuzz_a_few_hundred_bodies() -> None:
    batch = generate(300, seed_value=1)
    assert len(batch) >= 250
    async with fuzz_target() as http:
        result = await fire(http, batch)
    assert result["server_errors"] == 0, result["violations"]
    assert not result["violations"], result["violations"]
    # The generator reaches every layer, not just the parser.
    assert {202, 400, 401, 422} <= set(result["http_status"]), result
    assert {"started", "attached"} <= set(result["accepted_outcomes"]), result


@pytest.mark.slow
async def test_fuzz_ten_thousand_bodies() -> None:
    batch = generate(10_000, seed_value=0)
    assert len(batch) >= 9_000
    async with fuzz_target() as http:
        result = await fire(http, batch)
    assert result["server_errors"] == 0 and not result["violations"], result["violations"]
