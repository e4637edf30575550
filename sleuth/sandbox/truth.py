"""Ground truth of a packaged world, for offline evaluation only.

Nothing in the server imports this module: truth.json is read here and nowhere else, so the
sandbox cannot leak the answer through any endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sleuth.models.common import RootCauseKind
from sleuth.sandbox.catalog import world_dir

TruthVerdict = str  # "root_cause_found" | "inconclusive"


class GroundTruth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root_cause_service: str | None
    root_cause_kind: RootCauseKind
    verdict: TruthVerdict = Field(pattern=r"^(root_cause_found|inconclusive)$")
    notes: str
    acceptable_services: list[str] = Field(
        default_factory=list
    )  # also right at top-k (e.g. the caller of an external API)
    alert_service: str = ""
    red_herrings: list[str] = Field(default_factory=list)


def load_truth(name: str | Path) -> GroundTruth:
    path = Path(name)
    directory = path if path.is_dir() else world_dir(str(name))
    return GroundTruth.model_validate(json.loads((directory / "truth.json").read_text()))
