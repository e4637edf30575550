import pytest
from collections import Counter
from tests.faults.conftest import investigate

W = "logistics-cpu"

def nocpu(h):
    for m in ["container.cpu.usage", "kubernetes.cpu.usage.total"]:
        h.server.remove_metric(m)

CASES = {
    "slowq": (lambda h: h.server.faults.add("/api/v2/query", "slow", times=1000, delay_seconds=1.5), {"SLEUTH_DATADOG_TIMEOUT": 1, "SLEUTH_DATADOG_MAX_RETRIES": 1}),
    "nocpu": (nocpu, {}),
    "nomon": (lambda h: h.server.remove_metric("trace.servlet.request"), {}),
    "429": (lambda h: h.server.faults.add("/api/v2/logs", "429", times=6, reset_seconds=2), {}),
    "429far": (lambda h: h.server.faults.add("/api/v2/logs", "429", times=6, reset_seconds=60), {}),
}

@pytest.mark.parametrize("case", list(CASES))
async def test_explore(temporal_client, recorders, case):
    setup, kw = CASES[case]
    run = await investigate(temporal_client, W, setup, **kw)
    r = run.report
    print(f"\n{case}: {run.seconds:.1f}s verdict={r.verdict} rc={r.root_cause and (r.root_cause.service, r.root_cause.kind, r.root_cause.confidence)} stop={r.stop_reason} calls={r.usage.datadog_calls} errs={r.usage.datadog_errors} findings={len(run.findings())}")
    for g in sorted(set(run.gap_reasons())):
        print("   gap:", g)
    for hy in r.hypotheses:
        print("   hyp", hy.service, hy.kind, hy.status, hy.confidence, [g.reason for g in hy.gaps][:3])
    rec = recorders[0]
    print("   statuses:", Counter((s.path, s.status) for s in rec.seen))
    if case.startswith("429"):
        seen = rec.seen
        for i, s in enumerate(seen):
            if s.status == 429:
                nxt = next((t for t in seen[i+1:] if t.identity == s.identity), None)
                print("   429 ->", None if nxt is None else round(nxt.at - s.done, 3))
