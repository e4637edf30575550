"""The exact `temporal` commands an on-call engineer needs for one investigation."""

from __future__ import annotations

from sleuth.models.requests import InvestigationRequest


def temporal_commands(wid: str, service: str | None, request: InvestigationRequest) -> list[str]:
    ns = "" if request.namespace == "default" else f" --namespace {request.namespace}"
    cmds = []
    if service:
        cmds.append(f"temporal workflow list{ns} --query \"SleuthService='{service}'\"")
    cmds += [
        f"temporal workflow describe{ns} --workflow-id {wid}",
        f"temporal workflow query{ns} --workflow-id {wid} --type status",
        f'temporal workflow signal{ns} --workflow-id {wid} --name hint --input \'{{"text": "check the cache"}}\'',
        f'temporal workflow signal{ns} --workflow-id {wid} --name stop --input \'{{"by": "you", "reason": "..."}}\'',
        f'temporal workflow update execute{ns} --workflow-id {wid} --name approve --input \'{{"by": "you"}}\'',
        f"temporal workflow result{ns} --workflow-id {wid}",
    ]
    return cmds
