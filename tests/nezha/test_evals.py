"""The Nezha suite's cases, ground-truth mapping and the comparison with published results."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sleuth.evals.nezha import KIND, PUBLISHED, comparison_table, nezha_cases
from sleuth.evals.suite import cases_for
from sleuth.sandbox.server import SandboxServer


def test_every_case_with_mapped_truth(nezha_root: Path) -> None:
    cases = cases_for("nezha-ob", None)
    assert len(cases) == 56 and len({c.name for c in cases}) == 56
    assert {c.truth.verdict for c in cases} == {"root_cause_found"}
    kinds = Counter(c.truth.kind for c in cases)
    assert kinds == {"cpu_saturation": 26, "network": 16, "code_error": 14}
    assert {c.truth.service for c in cases} == {
        "frontend",
        "cartservice",
        "checkoutservice",
        "currencyservice",
        "emailservice",
        "paymentservice",
        "productcatalogservice",
        "recommendationservice",
        "shippingservice",
        "adservice",
    }
    assert KIND == {
        "cpu_contention": "cpu_saturation",
        "cpu_consumed": "cpu_saturation",
        "network_delay": "network",
        "return": "code_error",
        "exception": "code_error",
    }


def test_cases_by_name_and_their_servers(nezha_root: Path) -> None:
    [case] = nezha_cases(["2022-08-23-19"], root=nezha_root)
    assert case.name == "nezha-hipster-2022-08-23-19"
    assert (case.truth.service, case.truth.kind) == ("productcatalogservice", "code_error")
    srv = case.server()
    assert isinstance(srv, SandboxServer)
    world = srv.world
    assert "productcatalog" not in world.monitor().query and world.name == "nezha-ob"
    assert not any("hipster-2022" in str(v) or "code_error" in str(v) for v in vars(world).values())
    with pytest.raises(ValueError, match="matches 0"):
        nezha_cases(["no-such-case"], root=nezha_root)


def test_comparison_table_against_published_results() -> None:
    table = comparison_table({"ac1": 0.75, "ac3": 0.9, "ac5": 0.95}, label="Sleuth (offline)")
    lines = table.splitlines()
    assert lines[0] == "| method | top-1 % | top-3 % | top-5 % |"
    assert lines[2] == "| Nezha (with logs) | 92.86 | 96.43 | 96.43 |"
    assert lines[3] == "| **Sleuth (offline)** | 75.00 | 90.00 | 95.00 |"
    assert "| Nezha (without logs) | 64.28 | – | – |" in lines
    assert len([line for line in lines if line.startswith("| ")]) == 1 + 1 + len(PUBLISHED)
    assert "+10.72 points" in table
