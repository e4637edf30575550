"""The one Datadog gateway: every Datadog call Sleuth makes goes through `DatadogGateway`."""

from sleuth.gateway.budget import CallBudget
from sleuth.gateway.client import DatadogGateway, GatewayConfig
from sleuth.gateway.errors import (
    CallBudgetExhausted,
    DatadogAuthError,
    DatadogError,
    DatadogMalformedResponse,
    DatadogNotFound,
    DatadogRequestError,
    DatadogUnavailable,
)
from sleuth.gateway.records import LogRecord, Series, SpanRecord

__all__ = [
    "CallBudget",
    "CallBudgetExhausted",
    "DatadogAuthError",
    "DatadogError",
    "DatadogGateway",
    "DatadogMalformedResponse",
    "DatadogNotFound",
    "DatadogRequestError",
    "DatadogUnavailable",
    "GatewayConfig",
    "LogRecord",
    "Series",
    "SpanRecord",
]
