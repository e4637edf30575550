"""Real incidents from the Nezha OnlineBoutique dataset, served through the sandbox's Datadog API.

    from sleuth.sandbox.nezha import case_ids, nezha_server
    with nezha_server(case_ids()[0]) as srv:
        ...  # the same API, alert payload and recordings as any sandbox world

The dataset is read at run time (`$SLEUTH_NEZHA_DIR`, default `<repo>/../shared/datasets/
nezha-onlineboutique`), never copied. What is real and what is stitched: see `world.py` and
README.md in this folder.
"""

from __future__ import annotations

from pathlib import Path

from sleuth.sandbox.nezha.dataset import ENV_VAR, DatasetMissing, Incident, Label, dataset_dir, read_cases
from sleuth.sandbox.nezha.world import ENV, NezhaWorld, nezha_server


def available(root: Path | None = None) -> bool:
    return ((root or dataset_dir()) / "faults.csv").is_file()


def case_ids(root: Path | None = None) -> list[str]:
    return [inc.case_id for inc, _ in read_cases(root)]


__all__ = [
    "ENV",
    "ENV_VAR",
    "DatasetMissing",
    "Incident",
    "Label",
    "NezhaWorld",
    "available",
    "case_ids",
    "dataset_dir",
    "nezha_server",
    "read_cases",
]
