"""A Nezha case served by the real SandboxServer, read with the real datadog-api-client: every body the
API serves is free of the label, and the investigator's own gateway sees a coherent world."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.v1.api.metrics_api import MetricsApi as MetricsV1
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v2.api.events_api import EventsApi
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.api.metrics_api import MetricsApi as MetricsV2
from datadog_api_client.v2.api.spans_api import SpansApi
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

from sleuth.gateway.client import DatadogGateway, GatewayConfig
from sleuth.sandbox.nezha import case_ids
from tests.nezha.conftest import ANCHOR, API_KEY, APP_KEY

SPAN_FACETS = ["service", "resource_name", "operation_name", "pod_name", "host"]
LOG_FACETS = ["service", "status", "pod_name", "host", "kube_container_name"]
LABEL_WORDS = re.compile(
    r"cpu_contention|network_delay|cpu_consumed|root_?cause|fault_?type|nezha-hipster|"
    r"\breturn\b|\bexception\b",
    re.I,
)


def _raw(srv: Any) -> ApiClient:
    cfg = Configuration(
        host=srv.url, api_key={"apiKeyAuth": API_KEY, "appKeyAuth": APP_KEY}, preload_content=False
    )
    return ApiClient(cfg)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Crawl:
    """Every body served, as text; JSON-decoded on the way for navigation."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def take(self, response: Any) -> Any:
        text = response.data.decode()
        assert response.status == 200, text[:300]
        self.bodies.append(text)
        return json.loads(text)


def _timeseries(api: ApiClient, start: datetime, end: datetime, queries: list[str]) -> Any:
    body = TimeseriesFormulaQueryRequest(
        data=TimeseriesFormulaRequest(
            type=TimeseriesFormulaRequestType.TIMESERIES_REQUEST,
            attributes=TimeseriesFormulaRequestAttributes(
                _from=int(start.timestamp() * 1000),
                to=int(end.timestamp() * 1000),
                interval=60_000,
                queries=TimeseriesFormulaRequestQueries(
                    [
                        MetricsTimeseriesQuery(data_source=MetricsDataSource.METRICS, name=f"q{i}", query=q)
                        for i, q in enumerate(queries)
                    ]
                ),
            ),
        )
    )
    return MetricsV2(api).query_timeseries_data(body=body)


def _spans_page(api: ApiClient, start: datetime, end: datetime, sort: SpansSort, cursor: str | None) -> Any:
    page = SpansListRequestPage(limit=1000, cursor=cursor) if cursor else SpansListRequestPage(limit=1000)
    return SpansApi(api).list_spans(
        body=SpansListRequest(
            data=SpansListRequestData(
                type=SpansListRequestType.SEARCH_REQUEST,
                attributes=SpansListRequestAttributes(
                    filter=SpansQueryFilter(query="*", _from=_iso(start), to=_iso(end)), sort=sort, page=page
                ),
            )
        )
    )


def test_no_label_in_anything_the_api_serves(nezha_srv: Any) -> None:
    api, crawl = _raw(nezha_srv), Crawl()
    start, now = ANCHOR - timedelta(hours=4), ANCHOR + timedelta(minutes=30)
    monitor = crawl.take(MonitorsApi(api).get_monitor(monitor_id=nezha_srv.world.monitor().id))
    assert monitor["tags"] == ["service:frontend", "env:nezha-ob"]
    names = crawl.take(MetricsV1(api).list_active_metrics(_from=int(start.timestamp())))["metrics"]
    assert "kubernetes.cpu.usage.total" in names and "trace.grpc.server" in names
    services = set()
    for name in names:
        by = "service,pod_name,host,kube_namespace,kube_deployment,kube_replica_set,env,span.kind"
        aggs = ["avg", "p50", "p90", "p99"] if name == "trace.grpc.server" else ["avg"]
        body = crawl.take(_timeseries(api, start, now, [f"{agg}:{name}{{*}} by {{{by}}}" for agg in aggs]))
        for s in body["data"]["attributes"]["series"]:
            services |= {t[8:] for t in s["group_tags"] if t.startswith("service:")}
    assert len(services) == 10
    for service in sorted(services):
        crawl.take(
            MetricsV1(api).list_active_metrics(_from=int(start.timestamp()), tag_filter=f"service:{service}")
        )
    # Logs: every page. Spans: both ends of the window, and every distinct value of their facets.
    cursor: str | None = None
    n_logs = 0
    while True:
        page = LogsListRequestPage(limit=1000, cursor=cursor) if cursor else LogsListRequestPage(limit=1000)
        body = crawl.take(
            LogsApi(api).list_logs(
                body=LogsListRequest(
                    filter=LogsQueryFilter(query="*", _from=_iso(start), to=_iso(now)),
                    sort=LogsSort.TIMESTAMP_ASCENDING,
                    page=page,
                )
            )
        )
        n_logs += len(body["data"])
        cursor = (body.get("meta") or {}).get("page", {}).get("after")
        if not cursor:
            break
    assert n_logs > 10_000
    for sort in (SpansSort.TIMESTAMP_ASCENDING, SpansSort.TIMESTAMP_DESCENDING):
        cursor = None
        for _ in range(2):
            body = crawl.take(_spans_page(api, start, now, sort, cursor))
            assert len(body["data"]) == 1000
            cursor = (body.get("meta") or {}).get("page", {}).get("after")
    # Nested groups: every distinct combination of these facets' values, in one pass each.
    crawl.take(
        SpansApi(api).aggregate_spans(
            body=SpansAggregateRequest(
                data=SpansAggregateData(
                    type=SpansAggregateRequestType.AGGREGATE_REQUEST,
                    attributes=SpansAggregateRequestAttributes(
                        compute=[SpansCompute(aggregation=SpansAggregationFunction.COUNT)],
                        filter=SpansQueryFilter(query="*", _from=_iso(start), to=_iso(now)),
                        group_by=[SpansGroupBy(facet=f, limit=10_000) for f in SPAN_FACETS],
                    ),
                )
            )
        )
    )
    crawl.take(
        LogsApi(api).aggregate_logs(
            body=LogsAggregateRequest(
                compute=[LogsCompute(aggregation=LogsAggregationFunction.COUNT)],
                filter=LogsQueryFilter(query="*", _from=_iso(start), to=_iso(now)),
                group_by=[LogsGroupBy(facet=f, limit=10_000) for f in LOG_FACETS],
            )
        )
    )
    events = crawl.take(
        EventsApi(api).list_events(
            filter_query="*",
            filter_from=_iso(ANCHOR - timedelta(days=2)),
            filter_to=_iso(now),
            page_limit=1000,
        )
    )
    assert events["data"] == []
    crawl.bodies.append(json.dumps(nezha_srv.alert_payload()))

    everything = "\n".join(crawl.bodies)
    assert len(everything) > 5_000_000
    leaks = sorted({m.group(0).lower() for m in LABEL_WORDS.finditer(everything)})
    assert not leaks, f"label words served: {leaks}"
    for case in case_ids():
        assert case not in everything
        assert case.removeprefix("nezha-hipster-") not in everything


def test_the_investigators_gateway_sees_the_alert_and_the_call_graph(nezha_srv: Any) -> None:
    gw = DatadogGateway(GatewayConfig(base_url=nezha_srv.url, api_key=API_KEY, app_key=APP_KEY))
    payload = nezha_srv.alert_payload()
    assert int(payload["date"]) == int(ANCHOR.timestamp() * 1000)
    assert (
        payload["monitor_id"] == str(nezha_srv.world.monitor().id) and "service:frontend" in payload["scope"]
    )
    monitor = gw.get_monitor(payload["monitor_id"])
    assert monitor.query.startswith("avg(last_1m):p90:trace.grpc.server{service:frontend,env:nezha-ob}")
    series = gw.query_metrics(
        ["p90:trace.grpc.server{service:frontend,env:nezha-ob}"],
        ANCHOR - timedelta(minutes=30),
        ANCHOR + timedelta(seconds=1),
        interval_seconds=60,
    )
    values = [v for v in series[0].values if v is not None]
    assert values[-1] > float(monitor.query.rsplit(">", 1)[1]) > values[-2]  # crosses in the alert's minute
    names = gw.list_metrics(ANCHOR - timedelta(hours=1), tag_filter="service:cartservice")
    assert {"kubernetes.cpu.usage.total", "kubernetes.memory.usage", "trace.grpc.server.hits"} <= set(names)
    spans = gw.search_spans(
        "env:nezha-ob", ANCHOR - timedelta(minutes=16), ANCHOR - timedelta(minutes=1), limit=1000, max_pages=1
    )  # the client's models are slow: one page makes the point
    assert len(spans) == 1000
    by_id = {s.span_id: s for s in spans}
    linked = [s for s in spans if s.parent_id in by_id]
    assert len(linked) > 0.8 * len([s for s in spans if s.parent_id != "0"])
    assert any(by_id[s.parent_id].service == "frontend" and s.service == "cartservice" for s in linked)
    assert all(s.peer_service for s in spans if s.operation == "grpc.client")


@pytest.mark.parametrize("case", ["nezha-hipster-2022-08-23-19"])
def test_a_served_case_time_window_is_anchored(nezha_root: Any, case: str) -> None:
    from sleuth.sandbox.nezha import nezha_server

    srv = nezha_server(case, ANCHOR, root=nezha_root, api_key=API_KEY, app_key=APP_KEY)
    with srv:
        gw = DatadogGateway(GatewayConfig(base_url=srv.url, api_key=API_KEY, app_key=APP_KEY))
        series = gw.query_metrics(
            ["avg:kubernetes.cpu.usage.total{service:productcatalogservice}"],
            ANCHOR - timedelta(hours=6),
            ANCHOR + timedelta(minutes=5),
            interval_seconds=60,
        )
        times = [t for t, v in zip(series[0].times, series[0].values, strict=False) if v is not None]
        assert ANCHOR.timestamp() - 3 * 3600 - 60 <= times[0] and times[-1] <= srv.ctx.now()
