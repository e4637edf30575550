"""Typed Datadog failures. Each one knows how to become a named evidence gap for the report."""

from __future__ import annotations

from sleuth.models.common import TelemetrySource
from sleuth.models.telemetry import EvidenceGap


class DatadogError(Exception):
    """A Datadog call that did not produce data. `what` is short and human: "403", "timeout", ..."""

    unread = True  # the data may exist: the call just did not bring it back

    def __init__(self, what: str, path: str, detail: str = "") -> None:
        super().__init__(f"{what} from {path}" + (f": {detail}" if detail else ""))
        self.what = what
        self.path = path
        self.detail = detail

    def gap(self, source: TelemetrySource, query: str) -> EvidenceGap:
        return EvidenceGap(
            source=source,
            query=query,
            reason=f"{source} unavailable: {self.what} from {self.path}",
            unread=self.unread,
        )


class DatadogAuthError(DatadogError):
    """401/403: keys missing, wrong, or lacking a scope. Retrying will not help."""


class DatadogNotFound(DatadogError):
    unread = False  # Datadog answered: there is no such thing


class DatadogRequestError(DatadogError):
    """Another 4xx: the query itself was refused."""


class DatadogUnavailable(DatadogError):
    """5xx, 429 or timeouts that outlasted the retries."""


class DatadogMalformedResponse(DatadogError):
    """The body did not parse as the API's model."""


class CallBudgetExhausted(DatadogError):
    def __init__(self, path: str, limit: int) -> None:
        super().__init__("call budget exhausted", path, f"{limit} calls allowed")

    def gap(self, source: TelemetrySource, query: str) -> EvidenceGap:
        return EvidenceGap(
            source=source,
            query=query,
            reason=f"{source} not queried: Datadog call budget exhausted",
            unread=self.unread,
        )
