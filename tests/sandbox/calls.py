"""Each sandbox endpoint called the way Sleuth's gateway calls it, through datadog-api-client's real API classes."""

from __future__ import annotations

from typing import Any

from datadog_api_client import ApiClient
from datadog_api_client.v1.api.events_api import EventsApi as EventsV1
from datadog_api_client.v1.api.metrics_api import MetricsApi as MetricsV1
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.api.notebooks_api import NotebooksApi
from datadog_api_client.v1.model.event_alert_type import EventAlertType
from datadog_api_client.v1.model.event_create_request import EventCreateRequest as EventV1
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
from datadog_api_client.v1.model.notebook_relative_time import NotebookRelativeTime
from datadog_api_client.v1.model.notebook_resource_type import NotebookResourceType
from datadog_api_client.v1.model.notebook_status import NotebookStatus
from datadog_api_client.v1.model.widget_live_span import WidgetLiveSpan
from datadog_api_client.v2.api.events_api import EventsApi as EventsV2
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.api.metrics_api import MetricsApi as MetricsV2
from datadog_api_client.v2.api.spans_api import SpansApi
from datadog_api_client.v2.model.alert_event_custom_attributes import AlertEventCustomAttributes
from datadog_api_client.v2.model.alert_event_custom_attributes_status import AlertEventCustomAttributesStatus
from datadog_api_client.v2.model.event_category import EventCategory
from datadog_api_client.v2.model.event_create_request import EventCreateRequest as EventV2
from datadog_api_client.v2.model.event_create_request_payload import EventCreateRequestPayload
from datadog_api_client.v2.model.event_create_request_type import EventCreateRequestType
from datadog_api_client.v2.model.event_payload import EventPayload
from datadog_api_client.v2.model.events_sort import EventsSort
from datadog_api_client.v2.model.logs_aggregate_request import LogsAggregateRequest
from datadog_api_client.v2.model.logs_aggregation_function import LogsAggregationFunction
from datadog_api_client.v2.model.logs_compute import LogsCompute
from datadog_api_client.v2.model.logs_group_by import LogsGroupBy
from datadog_api_client.v2.model.logs_list_request import LogsListRequest
from datadog_api_client.v2.model.logs_list_request_page import LogsListRequestPage
from datadog_api_client.v2.model.logs_query_filter import LogsQueryFilter
from datadog_api_client.v2.model.logs_sort import LogsSort
from datadog_api_client.v2.model.metrics_data_source import MetricsDataSource
from datadog_api_client.v2.model.metrics_timeseries_query import MetricsTimeseriesQuery
from datadog_api_client.v2.model.query_formula import QueryFormula
from datadog_api_client.v2.model.spans_aggregate_data import SpansAggregateData
from datadog_api_client.v2.model.spans_aggregate_request import SpansAggregateRequest
from datadog_api_client.v2.model.spans_aggregate_request_attributes import SpansAggregateRequestAttributes
from datadog_api_client.v2.model.spans_aggregate_request_type import SpansAggregateRequestType
from datadog_api_client.v2.model.spans_aggregation_function import SpansAggregationFunction
from datadog_api_client.v2.model.spans_compute import SpansCompute
from datadog_api_client.v2.model.spans_group_by import SpansGroupBy
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


def monitor(api: ApiClient, monitor_id: int) -> Any:
    return MonitorsApi(api).get_monitor(monitor_id=monitor_id, group_states="all")


def active_metrics(api: ApiClient, since_s: int, tag_filter: str | None = None) -> Any:
    kw = {"tag_filter": tag_filter} if tag_filter else {}
    return MetricsV1(api).list_active_metrics(_from=since_s, **kw)


def timeseries(
    api: ApiClient,
    start_ms: int,
    end_ms: int,
    queries: dict[str, str],
    formula: str = "a",
    interval_ms: int = 60_000,
) -> Any:
    body = TimeseriesFormulaQueryRequest(
        data=TimeseriesFormulaRequest(
            type=TimeseriesFormulaRequestType.TIMESERIES_REQUEST,
            attributes=TimeseriesFormulaRequestAttributes(
                _from=start_ms,
                to=end_ms,
                interval=interval_ms,
                queries=TimeseriesFormulaRequestQueries(
                    [
                        MetricsTimeseriesQuery(data_source=MetricsDataSource.METRICS, name=n, query=q)
                        for n, q in queries.items()
                    ]
                ),
                formulas=[QueryFormula(formula=formula)],
            ),
        )
    )
    return MetricsV2(api).query_timeseries_data(body=body)


def query_v1(api: ApiClient, start_s: int, end_s: int, query: str) -> Any:
    return MetricsV1(api).query_metrics(_from=start_s, to=end_s, query=query)


def logs(
    api: ApiClient,
    query: str,
    frm: str = "now-15m",
    to: str = "now",
    limit: int = 50,
    cursor: str | None = None,
    sort: LogsSort = LogsSort.TIMESTAMP_DESCENDING,
) -> Any:
    page = LogsListRequestPage(limit=limit, cursor=cursor) if cursor else LogsListRequestPage(limit=limit)
    return LogsApi(api).list_logs(
        body=LogsListRequest(
            filter=LogsQueryFilter(query=query, _from=frm, to=to, indexes=["*"]), sort=sort, page=page
        )
    )


def logs_aggregate(api: ApiClient, query: str, facet: str = "service", frm: str = "now-15m") -> Any:
    body = LogsAggregateRequest(
        compute=[LogsCompute(aggregation=LogsAggregationFunction.COUNT)],
        filter=LogsQueryFilter(query=query, _from=frm, to="now"),
        group_by=[LogsGroupBy(facet=facet, limit=50)],
    )
    return LogsApi(api).aggregate_logs(body=body)


def spans(
    api: ApiClient,
    query: str,
    frm: str = "now-15m",
    to: str = "now",
    limit: int = 50,
    cursor: str | None = None,
) -> Any:
    page = SpansListRequestPage(limit=limit, cursor=cursor) if cursor else SpansListRequestPage(limit=limit)
    body = SpansListRequest(
        data=SpansListRequestData(
            type=SpansListRequestType.SEARCH_REQUEST,
            attributes=SpansListRequestAttributes(
                filter=SpansQueryFilter(query=query, _from=frm, to=to),
                sort=SpansSort.TIMESTAMP_DESCENDING,
                page=page,
            ),
        )
    )
    return SpansApi(api).list_spans(body=body)


def spans_aggregate(api: ApiClient, query: str, facet: str = "service", frm: str = "now-15m") -> Any:
    body = SpansAggregateRequest(
        data=SpansAggregateData(
            type=SpansAggregateRequestType.AGGREGATE_REQUEST,
            attributes=SpansAggregateRequestAttributes(
                compute=[SpansCompute(aggregation=SpansAggregationFunction.COUNT)],
                filter=SpansQueryFilter(query=query, _from=frm, to="now"),
                group_by=[SpansGroupBy(facet=facet, limit=50)],
            ),
        )
    )
    return SpansApi(api).aggregate_spans(body=body)


def events(
    api: ApiClient, query: str = "*", frm: str = "now-2h", limit: int = 100, cursor: str | None = None
) -> Any:
    kw: dict[str, Any] = {"page_cursor": cursor} if cursor else {}
    return EventsV2(api).list_events(
        filter_query=query,
        filter_from=frm,
        filter_to="now",
        sort=EventsSort.TIMESTAMP_DESCENDING,
        page_limit=limit,
        **kw,
    )


def post_event_v1(api: ApiClient, monitor_id: int) -> Any:
    body = EventV1(
        title="Sleuth: root cause found",
        text="%%%\n**cart-service** deployment\n%%%",
        tags=["source:sleuth", f"monitor_id:{monitor_id}", "verdict:root_cause_found"],
        alert_type=EventAlertType.INFO,
        aggregation_key=f"monitor-{monitor_id}",
        source_type_name="my_apps",
    )
    return EventsV1(api).create_event(body=body)


def post_event_v2(api: ApiClient, monitor_id: int) -> Any:
    body = EventCreateRequestPayload(
        data=EventV2(
            type=EventCreateRequestType.EVENT,
            attributes=EventPayload(
                category=EventCategory.ALERT,
                title="Sleuth investigation finished",
                message="verdict: root_cause_found",
                tags=["source:sleuth", f"monitor_id:{monitor_id}"],
                aggregation_key=f"monitor-{monitor_id}",
                attributes=AlertEventCustomAttributes(status=AlertEventCustomAttributesStatus.OK),
            ),
        )
    )
    return EventsV2(api).create_event(body=body)


def post_notebook(api: ApiClient, name: str) -> Any:
    cell = NotebookCellCreateRequest(
        type=NotebookCellResourceType.NOTEBOOK_CELLS,
        attributes=NotebookMarkdownCellAttributes(
            definition=NotebookMarkdownCellDefinition(
                type=NotebookMarkdownCellDefinitionType.MARKDOWN, text="## Findings\n..."
            )
        ),
    )
    body = NotebookCreateRequest(
        data=NotebookCreateData(
            type=NotebookResourceType.NOTEBOOKS,
            attributes=NotebookCreateDataAttributes(
                name=name,
                status=NotebookStatus.PUBLISHED,
                time=NotebookRelativeTime(live_span=WidgetLiveSpan.PAST_ONE_HOUR),
                cells=[cell],
            ),
        )
    )
    return NotebooksApi(api).create_notebook(body=body)
