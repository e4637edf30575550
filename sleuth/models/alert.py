"""An alert as Sleuth understands it, normalised from whatever Datadog's webhook sent."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

STARTING_TRANSITIONS = frozenset({"triggered", "re-triggered"})
RECOVERY_TRANSITIONS = frozenset({"recovered"})


class Alert(BaseModel):
    """One delivery of a monitor notification, with unresolved `$VARIABLES` already turned into None."""

    delivery_id: str | None = None
    alert_cycle_key: str | None = None
    monitor_id: str | None = None
    transition: str = "Triggered"
    title: str = ""
    message: str = ""
    query: str | None = None
    scope: str | None = None
    status: str | None = None
    alert_type: str | None = None
    priority: str | None = None
    tags: list[str] = Field(default_factory=list)
    date: datetime | None = None
    last_updated: datetime | None = None
    link: str | None = None
    aggreg_key: str | None = None
    org_id: str | None = None
    org_name: str | None = None

    @property
    def starts_investigation(self) -> bool:
        return self.transition.strip().lower() in STARTING_TRANSITIONS

    @property
    def is_recovery(self) -> bool:
        return self.transition.strip().lower() in RECOVERY_TRANSITIONS

    def tag_value(self, key: str) -> str | None:
        """First value of `key:` among the scope and the tags (scope wins: it names the alerting group)."""
        for tag in [*scope_tags(self.scope), *self.tags]:
            k, sep, v = tag.partition(":")
            if sep and k.strip() == key and v.strip():
                return v.strip()
        return None


def scope_tags(scope: str | None) -> list[str]:
    if not scope:
        return []
    return [part.strip() for part in scope.split(",") if ":" in part]


class AlertDelivery(BaseModel):
    """What the intake hands to a running investigation for a later delivery of the same alert."""

    alert: Alert
    received_at: datetime
