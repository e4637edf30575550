"""Redaction: a corpus of realistic log lines, zero leaks in what the stub received, no false positives."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from sleuth.agents.providers.base import Message, ModelProvider, ModelRequest, ToolCall, ToolSpec
from sleuth.agents.redaction import redact, redact_obj
from tests.fixtures.wire_stubs import WireStub, text_turn

# (log line, the sensitive substrings that must never reach a model)
CORPUS: list[tuple[str, list[str]]] = [
    (
        "2025-01-15T11:52:03Z ERROR login failed for alice.jones@example.com from 203.0.113.45",
        ["alice.jones@example.com", "203.0.113.45"],
    ),
    (
        "user bob_smith+alerts@corp.example.org asked for a password reset",
        ["bob_smith+alerts@corp.example.org"],
    ),
    ("upstream connect error to 10.0.12.7:5432 after 3 retries", ["10.0.12.7"]),
    ("client ip 2001:db8:85a3::8a2e:370:7334 blocked by waf", ["2001:db8:85a3::8a2e:370:7334"]),
    ("health check from fe80::1ff:fe23:4567:890a%eth0 ok", ["fe80::1ff:fe23:4567:890a"]),
    ("x-forwarded-for: 198.51.100.23, 192.0.2.146", ["198.51.100.23", "192.0.2.146"]),
    (
        "full ipv6 2001:0db8:0000:0000:0000:ff00:0042:8329 rejected",
        ["2001:0db8:0000:0000:0000:ff00:0042:8329"],
    ),
    ("payment declined card=4111 1111 1111 1111 exp=12/27", ["4111 1111 1111 1111"]),
    ("charge ok pan 5500-0000-0000-0004 amount 42.00 EUR", ["5500-0000-0000-0004"]),
    ("amex 378282246310005 flagged for review", ["378282246310005"]),
    ("refund to 6011111111111117 queued", ["6011111111111117"]),
    ("visa 4012888888881881 authorised", ["4012888888881881"]),
    ("card 4000 0566 5566 5556 used for order 12345 at 12:03:44", ["4000 0566 5566 5556"]),
    ("jcb 3530111333300000 test charge", ["3530111333300000"]),
    ("diners 30569309025904 test charge", ["30569309025904"]),
    ("mastercard 2223003122003222 approved", ["2223003122003222"]),
    ("DD_API_KEY=a1b2c3d4e5f60718293a4b5c6d7e8f90 loaded from env", ["a1b2c3d4e5f60718293a4b5c6d7e8f90"]),
    (
        "dd app key 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c in env",
        ["0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"],
    ),
    ("calling datadog with api key 9e107d9d372bb6826bd81d3542a419d6", ["9e107d9d372bb6826bd81d3542a419d6"]),
    ("DD_APP_KEY: 1234567890abcdef1234567890abcdef12345678", ["1234567890abcdef1234567890abcdef12345678"]),
    (
        "openai error for key sk-proj-4fGh7JkL9mNpQr2StUvWxYz01234abcd",
        ["sk-proj-4fGh7JkL9mNpQr2StUvWxYz01234abcd"],
    ),
    (
        "anthropic key sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe-AbCdEf rejected",
        ["sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe-AbCdEf", "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe"],
    ),
    (
        "git clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/org/repo",
        ["ghp_16C7e42F292c6912E7710c838347Ae178B4a"],
    ),
    (
        "aws creds AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
    ),
    (
        "Authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLXZhbHVl",
        ["eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9", "c2lnbmF0dXJlLXZhbHVl"],
    ),
    ("GET /api/orders headers={'Authorization': 'Basic YWRtaW46aHVudGVyMg=='}", ["YWRtaW46aHVudGVyMg"]),
    ("proxy-authorization: Bearer abc123def456ghi789", ["abc123def456ghi789"]),
    ("GET /cb?code=ok&token=ya29.a0AfH6SMBx3Kq9ZpLm&state=1", ["ya29.a0AfH6SMBx3Kq9ZpLm"]),
    ("db connect postgres://svc_user:S3cr3tPassw0rd@db.internal:5432/orders", ["S3cr3tPassw0rd"]),
    ("config reload password=hunter2 user=admin", ["hunter2"]),
    ('{"level":"error","msg":"auth failed","api_key":"k-77f2a9c1-prod"}', ["k-77f2a9c1-prod"]),
    (
        "slack token xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx revoked",
        ["xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"],
    ),
    ("stripe sk_live_51HxYzAbCdEfGhIjKlMnOp failed", ["sk_live_51HxYzAbCdEfGhIjKlMnOp"]),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYWRtaW4ifQ.dGhpcy1pcy1hLXNpZw in cookie",
        ["eyJyb2xlIjoiYWRtaW4ifQ", "dGhpcy1pcy1hLXNpZw"],
    ),
    ("set-cookie: session_token=3f9a8b7c6d5e4f3a2b1c; HttpOnly", ["3f9a8b7c6d5e4f3a2b1c"]),
    ("client_secret: Zq8Xw7Vu6Ts5Rr4 rotated", ["Zq8Xw7Vu6Ts5Rr4"]),
    ("X-Api-Key: live_4c8e2f9a7b3d1e6f", ["live_4c8e2f9a7b3d1e6f"]),
    (
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz used by ci",
        ["github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"],
    ),
    ("google key AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", ["AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"]),
    ("gitlab glpat-xYz123AbC456dEf789gHi0 revoked", ["glpat-xYz123AbC456dEf789gHi0"]),
    (
        "mail from ops@sleuth.dev to oncall@example.io bounced; relay 172.16.254.1",
        ["ops@sleuth.dev", "oncall@example.io", "172.16.254.1"],
    ),
    ("ssh -i deploy.pem admin@10.1.1.5 failed", ["10.1.1.5"]),
    (
        "-----BEGIN RSA PRIVATE KEY-----MIIEowIBAAKCAQEA7v5abc-----END RSA PRIVATE KEY-----",
        ["MIIEowIBAAKCAQEA7v5abc"],
    ),
    (
        "retry from 192.168.1.20 for carol@example.net with Bearer t0k3n-abcdef123456",
        ["192.168.1.20", "carol@example.net", "t0k3n-abcdef123456"],
    ),
    ("apikey=Zm9vYmFyYmF6cXV4 in https://api.example.com/v1?apikey=Zm9vYmFyYmF6cXV4", ["Zm9vYmFyYmF6cXV4"]),
    (
        "datadog client token pub0123456789abcdef0123456789abcdef used by rum",
        ["pub0123456789abcdef0123456789abcdef"],
    ),
]

# Ordinary operational text: redaction must leave every byte of it alone.
CLEAN: list[str] = [
    "GET /api/cart 200 in 23ms",
    "p99 latency 1234.5 ms (was 840 ms)",
    "version 1.2.3 deployed; chart v2.14.3; image tag 2025.01.15",
    "took 0.532s; timeout after 30s; retry in 250ms",
    "port 8080, HTTP 503, pid 4242, exit code 137",
    "ts=1700000000123 epoch 1736942400 count=1000000",
    "order 12345678 shipped, 3 items, total 129.99",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
    "dd.trace_id=5234567890123456789 dd.span_id=1234567890123456",
    "commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 deployed by ci",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "input_tokens: 1024 max_tokens=512 token_count=3",
    "invalid token: expired; authorization: denied",
    "12:30:45.123 GC pause 45ms heap 512MB/1024MB",
    "std::vector<int> overflow in Foo::bar",
    "memory 85.5% cpu 0.93 load 1.5 2.0 2.5",
    "build 1.2.3.4.5 and semver 10.20.30",
    "kubernetes.cpu.usage.total 400000000 nanocores",
    "errors 42 of 13000 requests (0.32%)",
    "date 2025-01-15 11:52:03 +0000",
    "avg:trace.http.request.duration{service:checkout,env:prod} by {resource_name}",
    "NullPointerException in PromoService.apply order=4821",
]

SECRETS = [s for _, secrets in CORPUS for s in secrets]


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40 and len(SECRETS) >= 50


@pytest.mark.parametrize(("line", "secrets"), CORPUS, ids=[f"line{i}" for i in range(len(CORPUS))])
def test_each_line_is_redacted(line: str, secrets: list[str]) -> None:
    out = redact(line)
    for secret in secrets:
        assert secret not in out, out
    assert any(p in out for p in ("[EMAIL]", "[IP]", "[CARD]", "[SECRET]"))
    assert redact(out) == out  # idempotent: a second pass (e.g. in a trace) changes nothing


@pytest.mark.parametrize("line", CLEAN)
def test_no_false_positives(line: str) -> None:
    assert redact(line) == line


def test_placeholders_are_typed() -> None:
    out = redact("bob@example.com 10.0.0.1 4111111111111111 token=Abc123xyz789")
    assert out == "[EMAIL] [IP] [CARD] token=[SECRET]"


def test_redact_obj_walks_structures_and_uses_key_names() -> None:
    class Payload(BaseModel):
        note: str
        tags: list[str]

    obj = {
        "password": "correcthorse",
        "nested": [{"auth_token": 12345, "msg": "from eve@example.com"}, ("10.0.0.9", 7)],
        "model": Payload(note="card 4111-1111-1111-1111", tags=["ip:192.168.0.1"]),
        "max_tokens": 512,
        "ok": True,
    }
    out = redact_obj(obj)
    assert out["password"] == "[SECRET]"
    assert out["nested"][0] == {"auth_token": "[SECRET]", "msg": "from [EMAIL]"}
    assert out["nested"][1] == ("[IP]", 7)
    assert out["model"] == {"note": "card [CARD]", "tags": ["ip:[IP]"]}
    assert out["max_tokens"] == 512 and out["ok"] is True


async def test_zero_leaks_in_captured_requests(stub: WireStub, provider: ModelProvider) -> None:
    lines = [line for line, _ in CORPUS]
    call = ToolCall(
        id="call_1",
        name="search_logs",
        arguments={"query": lines[0], "headers": {"Authorization": lines[24]}, "password": "hunter2-plain"},
    )
    request = ModelRequest(
        role="summariser",
        system="Escalate to alice.jones@example.com. " + lines[16],
        messages=[
            Message(role="user", content="\n".join(lines[:25] + CLEAN)),
            Message(role="assistant", content=lines[30], tool_calls=[call]),
            Message(role="tool", tool_call_id="call_1", content=json.dumps({"logs": lines[25:]})),
            Message(role="user", content="Summarise."),
        ],
        tools=[
            ToolSpec(
                name="search_logs",
                description="Search logs. Owner: ops@sleuth.dev",
                parameters={"type": "object"},
            )
        ],
    )
    stub.script(text_turn("ok"))
    await provider.complete(request)

    raw = stub.raw_bytes()
    assert len(stub.requests) == 1 and raw
    for secret in [*SECRETS, "hunter2-plain"]:
        for form in {secret, json.dumps(secret)[1:-1]}:
            assert form.encode() not in raw, f"leaked {secret!r}"
    # Only the sensitive parts went: the evidence a model needs is still there.
    for kept in (
        "1234.5 ms",
        "v2.14.3",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "NullPointerException in PromoService.apply",
    ):
        assert kept.encode() in raw
    assert raw.count(b"[SECRET]") >= 20 and b"[EMAIL]" in raw and b"[CARD]" in raw and b"[IP]" in raw


@pytest.mark.parametrize(
    "text",
    [
        "a_" * 5000,
        "a." * 5000,
        "a." * 3000 + "@",
        "ab+" * 4000,
        "a:b" * 4000 + "@",
        "x_" * 3000 + "password",
        "1:" * 5000,
        "1-" * 5000,
        "1 " * 5000,
        "ab12" * 3000,
        '\\"api_key\\":' * 3000,
    ],
    ids=lambda t: f"{t[:6]!r}x{len(t)}",
)
def test_no_catastrophic_backtracking(text: str) -> None:
    """Telemetry is attacker-controlled: redaction must stay linear on pathological input."""
    import time

    t0 = time.perf_counter()
    redact(text)
    assert time.perf_counter() - t0 < 1.0  # was ~10 s for 10 KB before the patterns were anchored
