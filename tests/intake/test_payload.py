"""The webhook body → Alert normalisation, without a server: fallbacks, leniency, ids."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from sleuth.intake.payload import (
    MAX_TAG_LEN,
    MAX_TAGS,
    WebhookPayload,
    canonical_transition,
    investigation_id,
    present,
    rate_limit_id,
    safe_id,
    title_core,
)

README_TEMPLATE = {
    "id": "$ID", "alert_cycle_key": "$ALERT_CYCLE_KEY", "monitor_id": "$ALERT_ID",
    "transition": "$ALERT_TRANSITION", "title": "$EVENT_TITLE", "message": "$TEXT_ONLY_MSG",
    "query": "$ALERT_QUERY", "scope": "$ALERT_SCOPE", "status": "$ALERT_STATUS",
    "alert_type": "$ALERT_TYPE", "priority": "$ALERT_PRIORITY", "tags": "$TAGS",
    "date": "$DATE", "last_updated": "$LAST_UPDATED", "link": "$LINK",
    "aggreg_key": "$AGGREG_KEY", "org": {"id": "$ORG_ID", "name": "$ORG_NAME"},
}  # fmt: skip


def default_payload(title: str, body: str, event_id: str = "555") -> dict[str, object]:
    """Datadog's default webhook payload, as its integration fills it in."""
    return {
        "body": body, "last_updated": "1718000000000", "event_type": "metric_alert_monitor",
        "title": title, "date": "1718000000000", "org": {"id": "11", "name": "Acme"}, "id": event_id,
    }  # fmt: skip


def test_unresolved_variables_are_missing() -> None:
    assert present("$ALERT_CYCLE_KEY") is None
    assert present("  ") is None
    assert present(None) is None
    assert present(" 42 ") == "42"
    assert present("$TAGS[service]") is None
    assert present("$5 refunds failing") == "$5 refunds failing"  # text, not a variable
    alert = WebhookPayload.model_validate(README_TEMPLATE).to_alert("body-abc")
    assert alert.alert_cycle_key is None and alert.monitor_id is None and alert.scope is None
    assert alert.delivery_id == "body-abc"  # the body digest stands in for $ID
    assert alert.transition == "Triggered"  # fired by hand: investigate
    assert alert.tags == [] and alert.org_id is None and alert.date is None
    assert investigation_id(alert).startswith("investigation-unknown-")


@pytest.mark.parametrize(
    ("sent", "canonical", "starts"),
    [
        ("Triggered", "Triggered", True),
        ("re-triggered", "Re-Triggered", True),
        ("RE_TRIGGERED", "Re-Triggered", True),
        ("Recovered", "Recovered", False),
        ("Warn", "Warn", False),
        ("Re-Warn", "Re-Warn", False),
        ("No Data", "No Data", False),
        ("Re-No Data", "Re-No Data", False),
        ("Renotify", "Renotify", False),
        ("Something New", "Something New", False),
    ],
)
def test_transitions(sent: str, canonical: str, starts: bool) -> None:
    assert canonical_transition(sent) == canonical
    alert = WebhookPayload.model_validate({"transition": sent}).to_alert()
    assert alert.transition == canonical
    assert alert.starts_investigation is starts


def test_default_payload_trigger_and_recovery_share_an_investigation() -> None:
    body = (
        "%%%\nCPU above 90%\n[[Monitor Status](https://app.datadoghq.com/monitors/4242?group=host%3Aa)]\n%%%"
    )
    trig = WebhookPayload.model_validate(
        default_payload("[P2] [Triggered on {host:a,env:prod}] CPU is high", body, "1")
    ).to_alert()
    rec = WebhookPayload.model_validate(
        default_payload("[Recovered on {host:a,env:prod}] CPU is high", body, "2")
    ).to_alert()
    assert (trig.transition, rec.transition) == ("Triggered", "Recovered")
    assert trig.monitor_id == rec.monitor_id == "4242"  # from the monitor link in $EVENT_MSG
    assert trig.scope == "host:a,env:prod"
    assert trig.org_id == "11" and trig.date is not None and trig.date.year == 2024
    assert investigation_id(trig) == investigation_id(rec)
    assert rate_limit_id(trig, "q") == rate_limit_id(rec, "q")
    assert title_core(trig.title) == "CPU is high"


def test_lenient_types_and_sizes() -> None:
    many = ",".join(f"k{i}:" + "v" * 300 for i in range(1000))
    alert = WebhookPayload.model_validate(
        {
            "monitor_id": 123.0,
            "alert_cycle_key": 99,
            "priority": 1,
            "tags": many,
            "title": "x" * 50_000,
            "org": "Acme",
            "event_id": "e-1",
            "msg": "from the platform notes' template",
        }
    ).to_alert()
    assert alert.monitor_id == "123" and alert.alert_cycle_key == "99" and alert.priority == "1"
    assert len(alert.tags) == MAX_TAGS and all(len(t) <= MAX_TAG_LEN for t in alert.tags)
    assert len(alert.title) == 20_000
    assert alert.org_name == "Acme" and alert.delivery_id == "e-1"
    assert alert.message.startswith("from the platform")
    assert WebhookPayload.model_validate({"tags": ["a:1", 2, None]}).to_alert().tags == ["a:1", "2"]


def test_structurally_wrong_fields_are_named() -> None:
    with pytest.raises(ValidationError) as info:
        WebhookPayload.model_validate({"title": {"a": 1}, "tags": {"x": 1}, "org": [1]})
    fields = {e["loc"][0] for e in info.value.errors()}
    assert fields == {"title", "tags", "org"}


def test_text_is_made_safe_for_temporal() -> None:
    raw = '{"title": "bad \\ud800 surrogate \\u0000 nul", "monitor_id": "m/1 2"}'
    alert = WebhookPayload.model_validate(json.loads(raw)).to_alert()
    alert.model_dump_json()  # must encode
    assert "\x00" not in alert.title and "\ud800" not in alert.title
    wid = investigation_id(alert)
    assert wid.isascii() and "/" not in wid and " " not in wid


def test_ids_are_bounded_and_distinct() -> None:
    a = WebhookPayload.model_validate({"monitor_id": "1", "alert_cycle_key": "k" * 5000}).to_alert()
    b = WebhookPayload.model_validate({"monitor_id": "1", "alert_cycle_key": "k" * 4999}).to_alert()
    assert len(investigation_id(a)) < 200 and investigation_id(a) != investigation_id(b)
    assert safe_id("a/b") != safe_id("a-b")  # rewritten text carries a digest of the original
    assert safe_id("abc-1.2_3") == "abc-1.2_3"


def test_rate_limit_groups() -> None:
    def group(deployment: str = "sleuth", **kw: object) -> str:
        return rate_limit_id(WebhookPayload.model_validate(kw).to_alert(), deployment)

    assert group(monitor_id="1", scope="env:prod, host:a") == group(monitor_id="1", scope="host:a,env:prod")
    assert group(monitor_id="1", scope="host:a") != group(monitor_id="1", scope="host:b")
    assert group(monitor_id="1", scope="host:a") != group(monitor_id="2", scope="host:a")
    # the cycle does not matter: that is the point
    assert group(monitor_id="1", alert_cycle_key="a") == group(monitor_id="1", alert_cycle_key="b")
    # monitor ids are unique per Datadog org; the window is one deployment's policy
    assert group(monitor_id="1", org={"id": "a"}) != group(monitor_id="1", org={"id": "b"})
    assert group("sleuth", monitor_id="1") != group("canary", monitor_id="1")
