"""The webhook body: Sleuth's template (README) or Datadog's default payload, normalised to an Alert.

The model is lenient on purpose. Datadog does not retry a 4xx, so rejecting an alert because a
user's template sends a number where we expected a string, or a monitor carries 300 tags, would
silently lose it. Scalars are coerced to text, long text and long tag lists are truncated, and
only a structurally wrong value (an object where text belongs) is refused with a 422 naming it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from sleuth.models.alert import Alert

MAX_TEXT = 20_000
MAX_TAGS = 200
MAX_TAG_LEN = 200  # Datadog's own limit for one tag
MAX_ID_LEN = 200  # ids end up in workflow ids and search attributes

# Datadog's $ALERT_TRANSITION values, keyed by their letters only ("Re-Triggered" -> "retriggered").
TRANSITIONS = {
    "triggered": "Triggered",
    "retriggered": "Re-Triggered",
    "recovered": "Recovered",
    "warn": "Warn",
    "rewarn": "Re-Warn",
    "nodata": "No Data",
    "renodata": "Re-No Data",
    "renotify": "Renotify",
}
# An event title as Datadog writes it: "[P1] [Triggered on {host:a,env:prod}] CPU is high".
_TITLE = re.compile(
    r"^\s*(?:\[P\d\]\s*)?\[(?P<t>re-?triggered|triggered|recovered|re-?warn|warn|re-?no data|no data|renotify)"
    r"(?:\s+on\s+\{(?P<scope>[^}]*)\})?\]\s*",
    re.IGNORECASE,
)
# The monitor link Datadog appends to $EVENT_MSG (the default payload's only trace of the monitor id).
_MONITOR_LINK = re.compile(r"/monitors/(\d{1,20})")
# An unresolved template variable: "$ID", "$ALERT_CYCLE_KEY", "$TAGS[service]".
_VARIABLE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_.]*(?:\[[^\]]*\])?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Text that Temporal and every JSON encoder accept: lone surrogates (legal in JSON's \\uXXXX
    escapes, illegal in UTF-8) become U+FFFD and control characters other than newlines and tabs go."""
    fixed = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return _CONTROL.sub("", fixed)


def present(value: Any) -> str | None:
    """Datadog sends an unresolved template variable literally: `"$ALERT_CYCLE_KEY"` means missing.
    Only a whole value shaped like a variable counts, so a title like "$5 refunds failing" stays."""
    if value is None:
        return None
    text = clean(str(value)).strip()
    if not text or _VARIABLE.fullmatch(text):
        return None
    return text


def _scalar(value: Any, limit: int, keep_identity: bool = False) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        value = int(value)  # a monitor id sent as 123.0 is still monitor 123
    if isinstance(value, int | float | str):
        text = clean(str(value))
        if len(text) <= limit:
            return text
        # Cutting an id would merge different alerts: keep a digest of the whole value instead.
        return f"{text[: limit - 17]}~{digest(text)}" if keep_identity else text[:limit]
    raise ValueError(f"expected text or a number, got {type(value).__name__}")


def _text(limit: int, keep_identity: bool = False) -> BeforeValidator:
    return BeforeValidator(lambda v: _scalar(v, limit, keep_identity))


def _tags(value: Any) -> list[str] | None:
    """$TAGS is a comma-separated string; a list is accepted too. Bounded, never refused for size."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"expected a comma-separated string or a list of tags, got {type(value).__name__}")
    out: list[str] = []
    for item in items:
        tag = present(_scalar(item, MAX_TAG_LEN))
        if tag:
            out.append(tag)
        if len(out) >= MAX_TAGS:
            break
    return out


def _org(value: Any) -> Any:
    return {"name": value} if isinstance(value, str | int | float) else value


Text = Annotated[str | None, _text(MAX_TEXT)]
Short = Annotated[str | None, _text(MAX_ID_LEN, keep_identity=True)]


class OrgPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: Short = None
    name: Short = None


class WebhookPayload(BaseModel):
    """Every field is optional: a test notification leaves most variables unresolved, and Datadog's
    default payload has only id, title, body, date, last_updated, event_type and org."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "7280302718461882771",
                    "alert_cycle_key": "7280302718461882000",
                    "monitor_id": "12345",
                    "transition": "Triggered",
                    "title": "[Triggered on {service:checkout,env:prod}] checkout p99 latency is high",
                    "message": "p99 latency above 2s",
                    "query": "avg(last_5m):p99:trace.http.request.duration{service:checkout} > 2",
                    "scope": "service:checkout,env:prod",
                    "status": "Alert",
                    "alert_type": "error",
                    "priority": "P2",
                    "tags": "service:checkout,env:prod,team:payments",
                    "date": "1718000000000",
                    "link": "https://app.datadoghq.com/monitors/12345",
                    "aggreg_key": "4f1c2e",
                    "org": {"id": "1", "name": "Acme"},
                }
            ]
        },
    )

    id: Short = Field(
        default=None, validation_alias=AliasChoices("id", "event_id"), description="$ID: one delivery"
    )
    alert_cycle_key: Short = Field(default=None, description="$ALERT_CYCLE_KEY: trigger→recovery")
    monitor_id: Short = Field(default=None, description="$ALERT_ID: the monitor")
    alert_id: Short = Field(default=None, description="$ALERT_ID under another key")
    transition: Short = Field(default=None, description="$ALERT_TRANSITION")
    alert_transition: Short = None
    title: Text = Field(default=None, description="$EVENT_TITLE")
    alert_title: Text = None
    message: Text = Field(
        default=None, validation_alias=AliasChoices("message", "msg"), description="$TEXT_ONLY_MSG"
    )
    body: Text = Field(default=None, description="$EVENT_MSG (Datadog's default payload)")
    query: Text = Field(default=None, description="$ALERT_QUERY")
    scope: Text = Field(default=None, description="$ALERT_SCOPE: the alerting group's tags")
    status: Text = Field(default=None, description="$ALERT_STATUS")
    alert_type: Short = Field(default=None, description="$ALERT_TYPE")
    priority: Short = Field(default=None, description="$ALERT_PRIORITY")
    tags: Annotated[list[str] | None, BeforeValidator(_tags)] = Field(
        default=None,
        json_schema_extra={
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}]
        },
        description="$TAGS (comma-separated); at most 200 are kept",
    )
    date: Short = Field(default=None, description="$DATE (epoch ms)")
    last_updated: Short = Field(default=None, description="$LAST_UPDATED")
    link: Text = Field(default=None, description="$LINK")
    aggreg_key: Short = Field(default=None, description="$AGGREG_KEY")
    event_type: Short = Field(default=None, description="$EVENT_TYPE")
    org: Annotated[OrgPayload | None, BeforeValidator(_org)] = None
    org_id: Short = None

    def to_alert(self, fallback_delivery_id: str | None = None) -> Alert:
        """`fallback_delivery_id` (a digest of the body) stands in for an unresolved $ID, so a
        redelivery of the very same body is still recognised as one delivery."""
        title = present(self.title) or present(self.alert_title) or ""
        from_title = _TITLE.match(title)
        transition = present(self.transition) or present(self.alert_transition)
        if transition is None and from_title:
            transition = from_title["t"]
        body = present(self.message) or present(self.body) or ""
        link = present(self.link)
        monitor = present(self.monitor_id) or present(self.alert_id)
        if monitor is None:
            found = _MONITOR_LINK.search(f"{link or ''} {body}")
            monitor = found.group(1) if found else None
        scope = present(self.scope)
        if scope is None and from_title and from_title["scope"]:
            scope = from_title["scope"].strip() or None
        org = self.org or OrgPayload()
        return Alert(
            delivery_id=present(self.id) or fallback_delivery_id,
            alert_cycle_key=present(self.alert_cycle_key),
            monitor_id=monitor,
            # Nothing says otherwise: someone fired the webhook by hand to get an investigation.
            transition=canonical_transition(transition) if transition else "Triggered",
            title=title,
            message=body,
            query=present(self.query),
            scope=scope,
            status=present(self.status),
            alert_type=present(self.alert_type),
            priority=present(self.priority),
            tags=list(self.tags or []),
            date=_when(self.date),
            last_updated=_when(self.last_updated),
            link=link,
            aggreg_key=present(self.aggreg_key),
            org_id=present(org.id) or present(self.org_id),
            org_name=present(org.name),
        )


def canonical_transition(text: str) -> str:
    """ "re-triggered", "Re Triggered" and "RE_TRIGGERED" are one transition; unknown ones pass as sent."""
    key = re.sub(r"[^a-z]", "", text.lower())
    return TRANSITIONS.get(key, text.strip()[:64])


def title_core(title: str) -> str:
    """The title without Datadog's "[Triggered on {...}]" prefix: the same for a trigger and its recovery."""
    return _TITLE.sub("", title, count=1).strip()


def _when(value: str | None) -> datetime | None:
    """$DATE is epoch milliseconds; accept seconds and ISO 8601 too."""
    text = present(value)
    if text is None:
        return None
    try:
        num = float(text)
        return datetime.fromtimestamp(num / 1000.0 if abs(num) > 1e11 else num, tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    except ValueError:
        return None


def utf8_cut(text: str, limit: int) -> str:
    """Temporal bounds summaries in bytes, not characters."""
    return text.encode("utf-8", "replace")[:limit].decode("utf-8", "ignore")


def digest(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def safe_id(text: str, limit: int = 120) -> str:
    """A workflow-id fragment: ASCII letters, digits and -_. only. Anything rewritten or cut gets a
    digest of the original appended, so two different inputs cannot collapse onto one id."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in text)
    if safe == text and len(safe) <= limit:
        return safe
    return f"{safe[: limit - 17]}~{digest(text)}"


def normalised_scope(scope: str | None) -> str:
    """The alert group: "env:prod, host:a" and "host:a,env:prod" are one group; no scope is "*"."""
    parts = sorted({p.strip() for p in (scope or "").split(",") if p.strip()})
    return ",".join(parts) or "*"


def investigation_id(alert: Alert) -> str:
    """Derived from the alert, so every delivery of one alert cycle lands on one workflow.

    Without $ALERT_CYCLE_KEY (a test notification, Datadog's default payload) the best stand-in
    is what a trigger and its recovery share: monitor, group, aggregation key and title core.
    """
    monitor = safe_id(alert.monitor_id or "unknown", 64)
    if alert.alert_cycle_key:
        key = safe_id(alert.alert_cycle_key, 96)
    else:
        key = digest(f"{normalised_scope(alert.scope)}|{alert.aggreg_key or ''}|{title_core(alert.title)}")
    return f"investigation-{monitor}-{key}"


def rate_limit_id(alert: Alert, deployment: str) -> str:
    """One automatic investigation per monitor and alert group per window: this names the group.

    The window is one Sleuth deployment's policy (its SLEUTH_RATE_LIMIT_SECONDS), and Temporal
    tells deployments apart by task queue, so `deployment` (the task queue) is part of the name:
    replicas and restarts of one deployment share it, a second deployment on the same namespace
    (another team, another Datadog org, a canary model) keeps its own. The org is part of the
    group too: monitor ids are only unique within a Datadog org. With no monitor id, the title
    core stands in for the monitor.
    """
    monitor = safe_id(alert.monitor_id, 64) if alert.monitor_id else f"t{digest(title_core(alert.title), 12)}"
    group = digest(f"{alert.org_id or ''}|{normalised_scope(alert.scope)}", 12)
    return f"sleuth-rate-limit-{safe_id(deployment, 48)}-{monitor}-{group}"
