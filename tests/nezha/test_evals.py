"""The Nezha suite's cases, ground-truth mapping and the comparison with published results."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import get_args

import pytest

from sleuth.evals.nezha import KIND, PUBLISHED, comparison_table, is_nezha, nezha_cases
from sleuth.evals.nezha import nezha_root as nezha_root_of
from sleuth.evals.suite import cases_for, default_out
from sleuth.models.common import RootCauseKind
from sleuth.sandbox.nezha.dataset import system
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
    assert {
        t: KIND[t] for t in ("cpu_contention", "cpu_consumed", "network_delay", "return", "exception")
    } == {
        "cpu_contention": "cpu_saturation",
        "cpu_consumed": "cpu_saturation",
        "network_delay": "network",
        "return": "code_error",
        "exception": "code_error",
    }
    assert set(KIND.values()) <= set(get_args(RootCauseKind))


def test_the_system_is_read_from_the_data(nezha_root: Path) -> None:
    sysinfo = system(nezha_root)
    assert (sysinfo.entry, sysinfo.namespace, sysinfo.env) == ("frontend", "hipster", "nezha-ob")
    assert len(sysinfo.services) == 10 and "frontend" in sysinfo.services


def test_a_dataset_named_by_its_directory(nezha_root: Path, tmp_path: Path) -> None:
    assert nezha_root_of("nezha-ob") is None and is_nezha("nezha-ob") and not is_nezha("sandbox")
    assert nezha_root_of(f"nezha:{nezha_root}") == nezha_root
    assert len(cases_for(f"nezha:{nezha_root}", ["2022-08-23-19"])) == 1
    assert (
        default_out(f"nezha:{tmp_path / 'trainticket'}", "offline").name
        == "eval-nezha-trainticket-offline.json"
    )
    with pytest.raises(FileNotFoundError, match="SLEUTH_NEZHA_DIR"):
        cases_for(f"nezha:{tmp_path}", None)
    with pytest.raises(ValueError, match="directory after the colon"):
        cases_for("nezha:", None)
    with pytest.raises(ValueError, match="nezha:<dir"):
        cases_for("nezha-tt", None)


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
