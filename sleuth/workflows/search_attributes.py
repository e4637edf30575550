"""Sleuth's custom search attributes: what `temporal workflow list --query` can ask about."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

MONITOR_ID = SearchAttributeKey.for_keyword("SleuthMonitorId")
SERVICE = SearchAttributeKey.for_keyword("SleuthService")
ENV = SearchAttributeKey.for_keyword("SleuthEnv")
PHASE = SearchAttributeKey.for_keyword("SleuthPhase")
VERDICT = SearchAttributeKey.for_keyword("SleuthVerdict")
ROOT_CAUSE_KIND = SearchAttributeKey.for_keyword("SleuthRootCauseKind")
ROOT_CAUSE_SERVICE = SearchAttributeKey.for_keyword("SleuthRootCauseService")

ALL = [MONITOR_ID, SERVICE, ENV, PHASE, VERDICT, ROOT_CAUSE_KIND, ROOT_CAUSE_SERVICE]
