"""Self-monitoring as code: every monitor and dashboard under monitoring/ is a valid datadog-api-client
model (v1 Monitor, v1 Dashboard: unknown fields and unknown enum values are errors), and every
metric they query is one the code emits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from datadog_api_client import Configuration
from datadog_api_client.model_utils import (
    ModelComposed,
    ModelSimple,
    OpenApiModel,
    UnparsedObject,
    validate_and_convert_types,
)
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.monitor import Monitor

from sleuth.observability import metrics

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
MONITORS = sorted((MONITORING / "monitors").glob("*.json"))
DASHBOARDS = sorted((MONITORING / "dashboards").glob("*.json"))
METRIC = re.compile(r"\b(sleuth\.[a-z_]+(?:\.[a-z_]+)+)")


def strict(data: dict[str, Any], model: type) -> Any:
    value = validate_and_convert_types(data, (model,), [model.__name__], True, True, Configuration())
    _no_unknowns(value, model.__name__)
    return value


def _no_unknowns(value: Any, path: str) -> None:
    """The client keeps unknown fields and enum values (forward compatibility); a definition in
    this repository must not have any."""
    if isinstance(value, list):
        for i, v in enumerate(value):
            _no_unknowns(v, f"{path}[{i}]")
        return
    if isinstance(value, ModelComposed):
        inner = value.get_oneof_instance()
        assert not isinstance(inner, UnparsedObject), f"{path}: matches no schema: {value.to_dict()}"
        _no_unknowns(inner, path)
        return
    if isinstance(value, UnparsedObject | ModelSimple):
        assert not value._unparsed, f"{path}: unknown value {value}"
        return
    if isinstance(value, OpenApiModel):
        assert not value._unparsed, f"{path}: unknown value"
        known = type(value).openapi_types
        for key, v in value._data_store.items():
            assert key in known, f"{path}: unknown field {key!r}"
            _no_unknowns(v, f"{path}.{key}")


def _metrics_in(text: str) -> set[str]:
    return set(METRIC.findall(text))


def test_the_validator_catches_mistakes() -> None:
    ok = {
        "type": "query alert",
        "query": "avg(last_5m):avg:sleuth.investigation.duration{*} > 5",
        "name": "x",
    }
    strict(ok, Monitor)
    with pytest.raises(AssertionError, match="unknown field"):
        strict({**ok, "options": {"treshold": {"critical": 1}}}, Monitor)
    with pytest.raises(AssertionError, match="unknown value"):
        strict({**ok, "type": "query-alert"}, Monitor)
    bad_widget = {
        "title": "t",
        "layout_type": "ordered",
        "widgets": [
            {"definition": {"type": "timeseries", "requests": [{"q": "avg:a{*}", "display_type": "wiggly"}]}}
        ],
    }
    with pytest.raises(AssertionError):
        strict(bad_widget, Dashboard)


@pytest.mark.parametrize("path", MONITORS, ids=lambda p: p.stem)
def test_monitor_definitions_are_valid(path: Path) -> None:
    data = json.loads(path.read_text())
    monitor = strict(data, Monitor)
    assert str(monitor.type) == "query alert" and monitor.name.startswith("[Sleuth]")
    assert "service:sleuth" in data["tags"] and data["message"].strip()
    thresholds = data["options"]["thresholds"]
    assert thresholds["warning"] < thresholds["critical"]
    bound = re.search(r"[<>]=?\s*([0-9.]+)\s*$", data["query"])
    assert bound and float(bound.group(1)) == thresholds["critical"], (
        "the query's bound is the critical threshold"
    )
    used = _metrics_in(data["query"])
    assert used and used <= metrics.EMITTED, (
        f"{path.name} queries metrics the code never emits: {used - metrics.EMITTED}"
    )


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_definitions_are_valid(path: Path) -> None:
    data = json.loads(path.read_text())
    strict(data, Dashboard)
    used = _metrics_in(path.read_text())
    assert used <= metrics.EMITTED, (
        f"{path.name} graphs metrics the code never emits: {used - metrics.EMITTED}"
    )


def test_monitoring_covers_what_matters() -> None:
    assert len(MONITORS) >= 5 and DASHBOARDS
    queries = " ".join(json.loads(p.read_text())["query"] for p in MONITORS)
    for metric in (
        metrics.FAILED,
        metrics.TIME_TO_CONCLUSION,
        metrics.COST,
        metrics.STOPPED,
        metrics.INTAKE_REQUESTS,
    ):
        assert metric in queries, f"no monitor on {metric}"
    assert "status_class:5xx" in queries
    graphed = _metrics_in(" ".join(p.read_text() for p in DASHBOARDS))
    assert graphed >= metrics.EMITTED, f"emitted but never graphed: {metrics.EMITTED - graphed}"
