"""The webhook body: Sleuth's template (README) or Datadog's default payload, normalised to an Alert."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sleuth.models.alert import Alert

MAX_TEXT = 20_000
MAX_TAGS = 200


def present(value: Any) -> str | None:
    """Datadog sends an unresolved template variable literally: `"$ALERT_CYCLE_KEY"` means missing."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or text.startswith("$"):
        return None
    return text


class OrgPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | int | None = None
    name: str | None = None


class WebhookPayload(BaseModel):
    """Every field optional: a test notification from Datadog leaves most variables unresolved."""

    model_config = ConfigDict(extra="ignore")

    id: str | int | None = Field(default=None, description="$ID: one delivery (idempotency key)")
    alert_cycle_key: str | int | None = Field(default=None, description="$ALERT_CYCLE_KEY: trigger→recovery")
    monitor_id: str | int | None = Field(default=None, description="$ALERT_ID")
    alert_id: str | int | None = Field(default=None, description="Datadog's default payload")
    transition: str | None = Field(default=None, description="$ALERT_TRANSITION")
    alert_transition: str | None = None
    title: str | None = Field(default=None, max_length=MAX_TEXT)
    alert_title: str | None = Field(default=None, max_length=MAX_TEXT)
    message: str | None = Field(default=None, max_length=MAX_TEXT)
    body: str | None = Field(default=None, max_length=MAX_TEXT)
    query: str | None = Field(default=None, max_length=MAX_TEXT)
    scope: str | None = Field(default=None, max_length=MAX_TEXT)
    status: str | None = Field(default=None, max_length=MAX_TEXT)
    alert_type: str | None = None
    priority: str | None = None
    tags: str | list[str] | None = None
    date: str | int | float | None = None
    last_updated: str | int | float | None = None
    link: str | None = Field(default=None, max_length=MAX_TEXT)
    aggreg_key: str | None = None
    org: OrgPayload | None = None

    @field_validator("tags")
    @classmethod
    def _bounded_tags(cls, v: str | list[str] | None) -> str | list[str] | None:
        items = v.split(",") if isinstance(v, str) else (v or [])
        if len(items) > MAX_TAGS:
            raise ValueError(f"at most {MAX_TAGS} tags are accepted, got {len(items)}")
        if any(len(t) > 512 for t in items):
            raise ValueError("a tag is longer than 512 characters")
        return v

    def to_alert(self) -> Alert:
        tags = self.tags.split(",") if isinstance(self.tags, str) else (self.tags or [])
        org = self.org or OrgPayload()
        return Alert(
            delivery_id=present(self.id),
            alert_cycle_key=present(self.alert_cycle_key),
            monitor_id=present(self.monitor_id) or present(self.alert_id),
            transition=present(self.transition) or present(self.alert_transition) or "Triggered",
            title=present(self.title) or present(self.alert_title) or "",
            message=present(self.message) or present(self.body) or "",
            query=present(self.query),
            scope=present(self.scope),
            status=present(self.status),
            alert_type=present(self.alert_type),
            priority=present(self.priority),
            tags=[t.strip() for t in tags if present(t)],
            date=_when(self.date),
            last_updated=_when(self.last_updated),
            link=present(self.link),
            aggreg_key=present(self.aggreg_key),
            org_id=present(org.id),
            org_name=present(org.name),
        )


def _when(value: str | int | float | None) -> datetime | None:
    """$DATE is epoch milliseconds; accept seconds and ISO 8601 too."""
    text = present(value)
    if text is None:
        return None
    try:
        num = float(text)
        return datetime.fromtimestamp(num / 1000.0 if num > 1e11 else num, tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    except ValueError:
        return None


def investigation_id(alert: Alert) -> str:
    """Derived from the alert, so every delivery of one alert cycle lands on one workflow."""
    monitor = alert.monitor_id or "unknown"
    if alert.alert_cycle_key:
        key = alert.alert_cycle_key
    else:
        basis = f"{alert.scope or ''}|{alert.aggreg_key or ''}|{alert.title}"
        key = hashlib.sha256(basis.encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in f"{monitor}-{key}")
    return f"investigation-{safe}"[:200]
