"""DatadogGateway: reads and writes through `datadog-api-client`, with Sleuth's own retry policy.

The client's built-in retry is off on purpose: every HTTP attempt must count against the
investigation's call budget, and a failure must end as a named gap rather than a stack trace.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ApiException, ApiTypeError, ApiValueError
from datadog_api_client.v1.api.events_api import EventsApi as EventsApiV1
from datadog_api_client.v1.api.metrics_api import MetricsApi as MetricsApiV1
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.api.notebooks_api import NotebooksApi
from datadog_api_client.v1.model.event_alert_type import EventAlertType
from datadog_api_client.v1.model.event_create_request import EventCreateRequest
from datadog_api_client.v1.model.notebook_absolute_time import NotebookAbsoluteTime
from datadog_api_client.v1.model.notebook_cell_create_request import NotebookCellCreateRequest
from datadog_api_client.v1.model.notebook_cell_resource_type import NotebookCellResourceType
from datadog_api_client.v1.model.notebook_create_data import NotebookCreateData
from datadog_api_client.v1.model.notebook_create_data_attributes import NotebookCreateDataAttributes
from datadog_api_client.v1.model.notebook_create_request import NotebookCreateRequest
from datadog_api_client.v1.model.notebook_markdown_cell_attributes import NotebookMarkdownCellAttributes
from datadog_api_client.v1.model.notebook_markdown_cell_definition import NotebookMarkdownCellDefinition
from datadog_api_client.v1.model.notebook_markdown_cell_definition_type import (
    NotebookMarkdownCellDefinitionType,
)
from datadog_api_client.v1.model.notebook_resource_type import NotebookResourceType
from datadog_api_client.v1.model.notebook_status import NotebookStatus
from datadog_api_client.v1.model.notebook_timeseries_cell_attributes import NotebookTimeseriesCellAttributes
from datadog_api_client.v1.model.timeseries_widget_definition import TimeseriesWidgetDefinition
from datadog_api_client.v1.model.timeseries_widget_definition_type import TimeseriesWidgetDefinitionType
from datadog_api_client.v1.model.timeseries_widget_request import TimeseriesWidgetRequest
from datadog_api_client.v2.api.events_api import EventsApi
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.api.metrics_api import MetricsApi
from datadog_api_client.v2.api.spans_api import SpansApi
from datadog_api_client.v2.model.events_sort import EventsSort
from datadog_api_client.v2.model.logs_aggregate_request import LogsAggregateRequest
from datadog_api_client.v2.model.logs_aggregation_function import LogsAggregationFunction
from datadog_api_client.v2.model.logs_compute import LogsCompute
from datadog_api_client.v2.model.logs_compute_type import LogsComputeType
from datadog_api_client.v2.model.logs_group_by import LogsGroupBy
from datadog_api_client.v2.model.logs_list_request import LogsListRequest
from datadog_api_client.v2.model.logs_list_request_page import LogsListRequestPage
from datadog_api_client.v2.model.logs_query_filter import LogsQueryFilter
from datadog_api_client.v2.model.logs_sort import LogsSort
from datadog_api_client.v2.model.metrics_data_source import MetricsDataSource
from datadog_api_client.v2.model.metrics_timeseries_query import MetricsTimeseriesQuery
from datadog_api_client.v2.model.query_formula import QueryFormula
from datadog_api_client.v2.model.spans_list_request import SpansListRequest
from datadog_api_client.v2.model.spans_list_request_attributes import SpansListRequestAttributes
from datadog_api_client.v2.model.spans_list_request_data import SpansListRequestData
from datadog_api_client.v2.model.spans_list_request_page import SpansListRequestPage
from datadog_api_client.v2.model.spans_list_request_type import SpansListRequestType
from datadog_api_client.v2.model.spans_query_filter import SpansQueryFilter
from datadog_api_client.v2.model.spans_sort import SpansSort
from datadog_api_client.v2.model.timeseries_formula_query_request import TimeseriesFormulaQueryRequest
from datadog_api_client.v2.model.timeseries_formula_request import TimeseriesFormulaRequest
from datadog_api_client.v2.model.timeseries_formula_request_attributes import (
    TimeseriesFormulaRequestAttributes,
)
from datadog_api_client.v2.model.timeseries_formula_request_queries import TimeseriesFormulaRequestQueries
from datadog_api_client.v2.model.timeseries_formula_request_type import TimeseriesFormulaRequestType
from pydantic import BaseModel
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from sleuth.gateway.budget import CallBudget
from sleuth.gateway.errors import (
    CallBudgetExhausted,
    DatadogAuthError,
    DatadogError,
    DatadogMalformedResponse,
    DatadogNotFound,
    DatadogRequestError,
    DatadogUnavailable,
)
from sleuth.gateway.parsing import change_event_from, log_from, series_from, span_from
from sleuth.gateway.records import LogRecord, Series, SpanRecord
from sleuth.models.telemetry import ChangeEvent, MonitorInfo

T = TypeVar("T")

# A reset far in the future is not worth blocking an investigation for: give up and name the gap.
MAX_RATE_LIMIT_WAIT_SECONDS = 10.0


class GatewayConfig(BaseModel):
    base_url: str
    api_key: str
    app_key: str
    timeout_seconds: float = 10.0
    max_retries: int = 3
    backoff_seconds: float = 0.25


class NotebookGraph(BaseModel):
    title: str
    query: str


_clients: dict[tuple[str, str, str, float, bool], ApiClient] = {}
_clients_lock = threading.Lock()


def _api_client(cfg: GatewayConfig, raw: bool = False) -> ApiClient:
    """One pooled client per endpoint and keys: urllib3 pools are thread-safe and costly to rebuild.
    A `raw` client returns bodies unparsed: building model objects for a 1,000-span page costs about
    20× the request itself, so bulk searches read the JSON directly."""
    key = (cfg.base_url, cfg.api_key, cfg.app_key, cfg.timeout_seconds, raw)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            conf = Configuration(
                host=cfg.base_url,
                api_key={"apiKeyAuth": cfg.api_key, "appKeyAuth": cfg.app_key},
                request_timeout=cfg.timeout_seconds,
            )
            conf.enable_retry = False
            conf.preload_content = not raw
            client = ApiClient(conf)
            _clients[key] = client
        return client


class DatadogGateway:
    def __init__(self, config: GatewayConfig, budget: CallBudget | None = None) -> None:
        self.config = config
        self.budget = budget or CallBudget(10_000)
        self._api = _api_client(config)
        self._raw = _api_client(config, raw=True)

    # -- the retry policy ------------------------------------------------------------------------

    def _call(self, path: str, fn: Callable[[], T], idempotent: bool = True) -> T:
        attempt = 0
        while True:
            if not self.budget.take():
                raise CallBudgetExhausted(path, self.budget.limit)
            try:
                return fn()
            except ApiException as exc:
                self.budget.record_error()
                status = int(exc.status or 0)
                if status in (401, 403):
                    raise DatadogAuthError(str(status), path, _error_text(exc)) from None
                if status == 404:
                    raise DatadogNotFound("404", path, _error_text(exc)) from None
                retryable = status == 429 or status == 408 or status >= 500
                if not retryable:
                    raise DatadogRequestError(str(status), path, _error_text(exc)) from None
                # A write answered 5xx may still have been applied: only a 429 is certain not to be.
                if attempt >= self.config.max_retries or (not idempotent and status != 429):
                    raise DatadogUnavailable(str(status), path, _error_text(exc)) from None
                wait = self._rate_limit_wait(exc) if status == 429 else self._backoff(attempt)
                if wait is None:
                    raise DatadogUnavailable("429 (reset too far away)", path) from None
                time.sleep(wait)
            except (ApiTypeError, ApiValueError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                self.budget.record_error()
                if attempt >= self.config.max_retries:
                    raise DatadogMalformedResponse("malformed response", path, str(exc)[:200]) from None
                time.sleep(self._backoff(attempt))
            except Urllib3HTTPError as exc:
                self.budget.record_error()
                # A write that timed out may have been applied: never send it again from here. The
                # caller (the publish activity) looks for what was created before it retries.
                if attempt >= self.config.max_retries or not idempotent:
                    what = "timeout" if "timed out" in str(exc).lower() else "connection error"
                    raise DatadogUnavailable(what, path, type(exc).__name__) from None
                time.sleep(self._backoff(attempt))
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        return float(self.config.backoff_seconds * (2**attempt))

    def _rate_limit_wait(self, exc: ApiException) -> float | None:
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        try:
            reset = float(headers.get("x-ratelimit-reset", "1"))
        except ValueError:
            reset = 1.0
        if reset > MAX_RATE_LIMIT_WAIT_SECONDS:
            return None
        return max(0.0, reset)

    # -- reads -----------------------------------------------------------------------------------

    def get_monitor(self, monitor_id: str) -> MonitorInfo:
        path = f"/api/v1/monitor/{monitor_id}"
        try:
            mid = int(monitor_id)
        except ValueError:
            raise DatadogRequestError("400", path, f"monitor id {monitor_id!r} is not a number") from None
        m = self._call(path, lambda: MonitorsApi(self._api).get_monitor(monitor_id=mid))
        return MonitorInfo(
            id=str(m.get("id", monitor_id)),
            name=str(m.get("name") or ""),
            type=str(m.get("type") or ""),
            query=str(m.get("query") or ""),
            message=str(m.get("message") or ""),
            tags=[str(t) for t in (m.get("tags") or [])],
            overall_state=str(m.get("overall_state")) if m.get("overall_state") is not None else None,
        )

    def list_metrics(self, since: datetime, tag_filter: str | None = None) -> list[str]:
        def call() -> Any:
            api = MetricsApiV1(self._api)
            if tag_filter:
                return api.list_active_metrics(_from=int(since.timestamp()), tag_filter=tag_filter)
            return api.list_active_metrics(_from=int(since.timestamp()))

        r = self._call("/api/v1/metrics", call)
        return sorted(str(m) for m in (r.get("metrics") or []))

    def query_metrics(
        self, queries: list[str], start: datetime, end: datetime, interval_seconds: int = 60
    ) -> list[Series]:
        """Several queries in one request; every returned series keeps the query that produced it."""
        if not queries:
            return []
        names = [f"q{i}" for i in range(len(queries))]
        body = TimeseriesFormulaQueryRequest(
            data=TimeseriesFormulaRequest(
                type=TimeseriesFormulaRequestType.TIMESERIES_REQUEST,
                attributes=TimeseriesFormulaRequestAttributes(
                    _from=int(start.timestamp() * 1000),
                    to=int(end.timestamp() * 1000),
                    interval=interval_seconds * 1000,
                    queries=TimeseriesFormulaRequestQueries(
                        [
                            MetricsTimeseriesQuery(data_source=MetricsDataSource.METRICS, name=n, query=q)
                            for n, q in zip(names, queries, strict=True)
                        ]
                    ),
                    formulas=[QueryFormula(formula=n) for n in names],
                ),
            )
        )
        r = self._call(
            "/api/v2/query/timeseries", lambda: MetricsApi(self._api).query_timeseries_data(body=body)
        )
        return series_from(r, queries)

    def search_logs(
        self, query: str, start: datetime, end: datetime, limit: int = 1000, max_pages: int = 3
    ) -> list[LogRecord]:
        out: list[LogRecord] = []
        cursor: str | None = None
        for _ in range(max_pages):
            page = LogsListRequestPage(limit=min(limit, 1000))
            if cursor:
                page.cursor = cursor
            body = LogsListRequest(
                filter=LogsQueryFilter(query=query, _from=_iso(start), to=_iso(end), indexes=["*"]),
                sort=LogsSort.TIMESTAMP_DESCENDING,
                page=page,
            )
            r: Any = self._call(
                "/api/v2/logs/events/search", partial(_json, LogsApi(self._raw).list_logs, body=body)
            )
            out.extend(log_from(item) for item in (r.get("data") or []))
            cursor = _next_cursor(r)
            if not cursor or len(out) >= limit:
                break
        return out[:limit]

    def count_logs(
        self, query: str, start: datetime, end: datetime, facet: str = "service", limit: int = 100
    ) -> dict[str, int]:
        """Log counts per value of a facet (one aggregate call): e.g. error logs per service."""
        body = LogsAggregateRequest(
            filter=LogsQueryFilter(query=query, _from=_iso(start), to=_iso(end), indexes=["*"]),
            compute=[LogsCompute(aggregation=LogsAggregationFunction.COUNT, type=LogsComputeType.TOTAL)],
            group_by=[LogsGroupBy(facet=facet, limit=limit)],
        )
        r: Any = self._call(
            "/api/v2/logs/analytics/aggregate", partial(_json, LogsApi(self._raw).aggregate_logs, body=body)
        )
        out: dict[str, int] = {}
        for bucket in (r.get("data") or {}).get("buckets") or []:
            value = (bucket.get("by") or {}).get(facet)
            count = (bucket.get("computes") or {}).get("c0")
            if value is not None and isinstance(count, int | float):
                out[str(value)] = int(count)
        return out

    def search_spans(
        self, query: str, start: datetime, end: datetime, limit: int = 5000, max_pages: int = 5
    ) -> list[SpanRecord]:
        out: list[SpanRecord] = []
        cursor: str | None = None
        r: Any
        for _ in range(max_pages):
            page = SpansListRequestPage(limit=min(limit, 1000))
            if cursor:
                page.cursor = cursor
            body = SpansListRequest(
                data=SpansListRequestData(
                    type=SpansListRequestType.SEARCH_REQUEST,
                    attributes=SpansListRequestAttributes(
                        filter=SpansQueryFilter(query=query, _from=_iso(start), to=_iso(end)),
                        sort=SpansSort.TIMESTAMP_DESCENDING,
                        page=page,
                    ),
                )
            )
            r = self._call(
                "/api/v2/spans/events/search", partial(_json, SpansApi(self._raw).list_spans, body=body)
            )
            out.extend(span_from(item) for item in (r.get("data") or []))
            cursor = _next_cursor(r)
            if not cursor or len(out) >= limit:
                break
        return out[:limit]

    def search_events(
        self, query: str, start: datetime, end: datetime, limit: int = 100
    ) -> list[ChangeEvent]:
        params: dict[str, Any] = {
            "filter_from": _iso(start),
            "filter_to": _iso(end),
            "sort": EventsSort.TIMESTAMP_DESCENDING,
            "page_limit": min(limit, 1000),
        }
        if query:
            params["filter_query"] = query
        r = self._call("/api/v2/events", lambda: EventsApi(self._api).list_events(**params))
        return [change_event_from(item) for item in (r.get("data") or [])]

    # -- writes ----------------------------------------------------------------------------------

    def create_event(
        self, title: str, text: str, tags: list[str], aggregation_key: str | None, alert_type: str = "info"
    ) -> str:
        body = EventCreateRequest(
            title=title[:100],
            text=text[:4000],
            tags=tags,
            alert_type=EventAlertType(alert_type),
            source_type_name="sleuth",
        )
        if aggregation_key:
            body.aggregation_key = aggregation_key[:100]
        r = self._call(
            "/api/v1/events", lambda: EventsApiV1(self._api).create_event(body=body), idempotent=False
        )
        event = r.get("event")
        return str(event.get("id")) if event is not None and event.get("id") is not None else ""

    def create_notebook(
        self, name: str, markdown: str, graphs: list[NotebookGraph], start: datetime, end: datetime
    ) -> str:
        cells = [
            NotebookCellCreateRequest(
                type=NotebookCellResourceType.NOTEBOOK_CELLS,
                attributes=NotebookMarkdownCellAttributes(
                    definition=NotebookMarkdownCellDefinition(
                        type=NotebookMarkdownCellDefinitionType.MARKDOWN, text=markdown
                    )
                ),
            )
        ]
        for g in graphs:
            cells.append(
                NotebookCellCreateRequest(
                    type=NotebookCellResourceType.NOTEBOOK_CELLS,
                    attributes=NotebookTimeseriesCellAttributes(
                        definition=TimeseriesWidgetDefinition(
                            type=TimeseriesWidgetDefinitionType.TIMESERIES,
                            title=g.title[:100],
                            requests=[TimeseriesWidgetRequest(q=g.query)],
                        )
                    ),
                )
            )
        body = NotebookCreateRequest(
            data=NotebookCreateData(
                type=NotebookResourceType.NOTEBOOKS,
                attributes=NotebookCreateDataAttributes(
                    name=name[:80],
                    status=NotebookStatus.PUBLISHED,
                    time=NotebookAbsoluteTime(start=start, end=end),
                    cells=cells,
                ),
            )
        )
        r = self._call(
            "/api/v1/notebooks", lambda: NotebooksApi(self._api).create_notebook(body=body), idempotent=False
        )
        data = r.get("data")
        return str(data.get("id")) if data is not None and data.get("id") is not None else ""


def _json(call: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    resp = call(**kwargs)
    data = json.loads(resp.data)
    if not isinstance(data, dict):
        raise json.JSONDecodeError("expected a JSON object", str(data)[:40], 0)
    return data


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _next_cursor(r: Any) -> str | None:
    meta = r.get("meta")
    page = meta.get("page") if meta is not None else None
    after = page.get("after") if page is not None else None
    return str(after) if after else None


def _error_text(exc: ApiException) -> str:
    body = exc.body
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e) for e in errors)[:200]
    return str(body)[:200] if body else ""


__all__ = ["DatadogError", "DatadogGateway", "GatewayConfig", "NotebookGraph"]
