"""Raw telemetry as it comes back from Datadog. These stay inside activities: only summaries leave."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Series(BaseModel):
    query: str
    scope: str = ""  # "service:checkout" for a grouped series, "" otherwise
    times: list[float] = Field(default_factory=list)  # epoch seconds
    values: list[float | None] = Field(default_factory=list)


class LogRecord(BaseModel):
    timestamp: float  # epoch seconds
    service: str = ""
    status: str = ""
    message: str = ""
    host: str = ""
    tags: list[str] = Field(default_factory=list)
    error_kind: str = ""


class SpanRecord(BaseModel):
    trace_id: str
    span_id: str
    parent_id: str = "0"
    service: str = ""
    resource: str = ""
    operation: str = ""
    start: float = 0.0  # epoch seconds
    duration_ms: float = 0.0
    error: bool = False
    error_message: str = ""
    peer_service: str = ""
    peer_host: str = ""  # out.host / peer.hostname / the http.url host of an exit span
    status_code: int | None = None
    span_type: str = ""
