"""Log and error vocabulary: templates per kind of service, and the values that fill them.

Some values look like personal data or secrets (emails, client IPs, bearer tokens, card
numbers) on purpose: whatever reads these logs must redact them before they reach a model.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

from sleuth.sandbox.world import LogTemplate

_FIRST = [
    "maria",
    "john",
    "wei",
    "fatima",
    "lucas",
    "aiko",
    "olga",
    "samir",
    "emma",
    "diego",
    "priya",
    "noah",
]
_LAST = ["lopez", "smith", "chen", "haddad", "silva", "tanaka", "ivanova", "khan", "brown", "garcia", "patel"]
_MAIL = ["gmail.com", "yahoo.com", "outlook.com", "proton.me", "icloud.com", "example.org"]


def _email(r: random.Random) -> str:
    return f"{r.choice(_FIRST)}.{r.choice(_LAST)}{r.randint(1, 99)}@{r.choice(_MAIL)}"


def _uuid(r: random.Random) -> str:
    a, b, c, d, e = (
        r.getrandbits(32),
        r.getrandbits(16),
        r.getrandbits(12),
        r.getrandbits(16) | 0x8000,
        r.getrandbits(48),
    )
    return f"{a:08x}-{b:04x}-4{c:03x}-{d:04x}-{e:012x}"


_ALNUM = string.ascii_letters + string.digits
GENERATORS: dict[str, Callable[[random.Random], Any]] = {
    "email": _email,
    "client_ip": lambda r: (
        f"{r.choice((73, 88, 101, 145, 176, 203))}.{r.randint(1, 254)}.{r.randint(0, 254)}.{r.randint(1, 254)}"
    ),
    "ip": lambda r: f"10.{r.randint(20, 220)}.{r.randint(0, 254)}.{r.randint(2, 254)}",
    "port": lambda r: r.choice((8080, 8443, 9090, 50051, 5432, 6379, 9092)),
    "token": lambda r: "eyJhbGciOiJIUzI1NiJ9." + "".join(r.choices(_ALNUM, k=24)),
    "api_key": lambda r: "sk_live_" + "".join(r.choices(string.ascii_lowercase + string.digits, k=24)),
    "card": lambda r: (
        f"4{r.randint(100, 999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)}"
    ),
    "user_id": lambda r: f"usr_{r.getrandbits(32):08x}",
    "order_id": lambda r: f"ord_{r.getrandbits(40):010x}",
    "uuid": _uuid,
    "request_id": lambda r: f"req_{r.getrandbits(48):012x}",
    "ms": lambda r: r.randint(3, 180),
    "n": lambda r: r.randint(2, 400),
    "offset": lambda r: r.randint(10_000_000, 99_000_000),
    "partition": lambda r: r.randint(0, 11),
    "amount": lambda r: f"{r.uniform(3, 480):.2f}",
    "sku": lambda r: f"SKU-{r.randint(10000, 99999)}",
    "txid": lambda r: r.randint(100000000, 999999999),
    "pid": lambda r: r.randint(1000, 65000),
    "attempt": lambda r: r.randint(2, 3),
    "method": lambda r: "GET",
    "status": lambda r: 200,
    "grpc_code": lambda r: "OK",
    "bytes": lambda r: r.randint(200, 40000),
    "slow_ms": lambda r: r.randint(1200, 4800),
    "pool_idle": lambda r: r.randint(1, 20),
    "pct": lambda r: f"{r.uniform(0.1, 4.0):.1f}",
    "heap_pct": lambda r: r.randint(96, 99),
}


class Filler(dict[str, Any]):
    """Values for template placeholders, drawn lazily so unused ones cost nothing."""

    def __init__(self, r: random.Random, **fixed: Any) -> None:
        super().__init__(fixed)
        self.r = r

    def __missing__(self, k: str) -> Any:
        gen = GENERATORS.get(k)
        if gen is None:
            return "{" + k + "}"
        value = self[k] = gen(self.r)
        return value


def render(template: str, fill: Filler) -> str:
    try:
        return template.format_map(fill)
    except (ValueError, IndexError, KeyError):
        return template


T = LogTemplate
BASELINE: dict[str, list[LogTemplate]] = {
    "web": [
        T(
            message='{client_ip} - "{method} {path} HTTP/1.1" {status} {bytes} "{ms}ms"',
            weight=6,
            attributes={"kind": "access"},
        ),
        T(message="user {email} signed in from {client_ip}", weight=1),
        T(
            message="session refreshed for {user_id} (authorization: Bearer {token})",
            weight=0.5,
            status="debug",
        ),
        T(message="feature flags evaluated for {user_id} in {ms}ms", weight=1),
        T(message="slow request {method} {path} took {slow_ms}ms", status="warn", weight=0.3),
        T(
            message="request validation failed: field 'postal_code' is required (request_id={request_id})",
            status="warn",
            weight=0.3,
        ),
    ],
    "grpc": [
        T(
            message="finished unary call {path} code={grpc_code} duration={ms}ms peer={ip}:50051",
            weight=6,
            attributes={"kind": "access"},
        ),
        T(message="loaded {n} records for {user_id}", weight=1),
        T(message="connection pool stats: open={n} idle={pool_idle}", weight=0.5, status="debug"),
        T(message="deadline close to expiry for {path}: {ms}ms left", status="warn", weight=0.2),
    ],
    "worker": [
        T(
            message="processed message topic={topic} partition={partition} offset={offset} in {ms}ms",
            weight=6,
            attributes={"kind": "access"},
        ),
        T(message="committed offsets for {n} messages", weight=1),
        T(message="sent receipt to {email} for order {order_id} amount={amount}", weight=1),
        T(message="message {uuid} redelivered (attempt {attempt})", status="warn", weight=0.2),
    ],
    "database": [
        T(message="checkpoint complete: wrote {n} buffers ({pct}%); 0 WAL file(s) added", weight=1),
        T(
            message="duration: {slow_ms} ms  statement: SELECT * FROM {table} WHERE customer_email = '{email}'",
            status="warn",
            weight=0.4,
        ),
        T(message='automatic vacuum of table "{table}": index scans: 1, pages removed {n}', weight=1),
        T(message="connection authorized: user=app database={db} application_name={caller}", weight=2),
    ],
    "cache": [
        T(message="DB saved on disk", weight=0.5),
        T(message="Background saving started by pid {pid}", weight=0.5),
        T(message="{n} changes in 60 seconds. Saving...", weight=1),
        T(message="Accepted {ip}:{port}", weight=2),
    ],
    "queue": [
        T(
            message="[Log partition={topic}-{partition}, dir=/var/lib/kafka/data] Rolled new log segment at offset {offset}",
            weight=1,
        ),
        T(
            message="[GroupCoordinator 1]: Member consumer-{n} in group {group} has left, removing it",
            weight=0.3,
        ),
        T(message="[ReplicaFetcher replicaId=1, leaderId=2, fetcherId=0] Fetched {n} records", weight=2),
    ],
}
BENIGN_BY_TYPE: dict[str, list[LogTemplate]] = {
    "database": [T(message="could not receive data from client: Connection reset by peer", status="error")],
    "cache": [T(message="Client id={n} addr={ip}:{pid} closed connection", status="warn")],
    "queue": [
        T(
            message="[SocketServer listenerType=ZK_BROKER, nodeId=1] Unexpected error from /{ip}; closing connection",
            status="warn",
        )
    ],
}
SATURATED = T(
    message="rejecting request: worker pool exhausted ({n} queued), responding 503",
    status="error",
    error_type="Overloaded",
)
PORTS = {"grpc": 50051, "web": 8080, "cache": 6379, "queue": 9092, "external": 443}
NOISY: list[LogTemplate] = [
    T(
        message="deprecated config key 'timeout_ms' used; please migrate to 'timeout'",
        status="warn",
        weight=2,
    ),
    T(
        message="failed to refresh optional enrichment cache: upstream returned 404 for {sku}",
        status="error",
        weight=2,
    ),
    T(message="retrying metadata fetch (attempt {attempt}) for {uuid}", status="warn", weight=2),
]
BENIGN_ERRORS: list[LogTemplate] = [
    T(message="client closed connection before response was written ({method} {path})", status="error"),
    T(message="invalid token presented by {client_ip}: signature mismatch ({token})", status="error"),
]

# How a caller says a callee failed it, by what failed. {callee}, {path}, {peer_ip} come from context.
CALLER_ERRORS: dict[str, list[str]] = {
    "error": [
        "call to {callee} failed: {code} {reason} ({callee_resource}) after {attempt} retries request_id={request_id}",
        "upstream {callee} returned {code} for {callee_resource}",
    ],
    "timeout": [
        "upstream {callee} timed out after {timeout}ms: context deadline exceeded ({callee_resource})",
        "request to {callee} exceeded deadline of {timeout}ms",
    ],
    "refused": [
        "dial tcp {peer_ip}:{port}: connect: connection refused (service {callee})",
        "no healthy upstream for {callee}: all endpoints unavailable",
    ],
    "reset": [
        "read tcp {ip}:{port}->{peer_ip}:{port}: read: connection reset by peer (calling {callee})",
        "i/o timeout reading response from {callee} after {slow_ms}ms",
    ],
}
DB_ERRORS = {
    "postgres": {
        "error": "pq: canceling statement due to lock timeout (db {callee})",
        "timeout": "could not obtain a connection from pool {callee} within {timeout}ms",
        "refused": "dial tcp {peer_ip}:5432: connect: connection refused (db {callee})",
        "reset": "pq: unexpected EOF on client connection with an open transaction (db {callee})",
    },
    "mysql": {
        "error": "Error 1205 (HY000): Lock wait timeout exceeded; try restarting transaction (db {callee})",
        "timeout": "timeout waiting for a connection from pool {callee} after {timeout}ms",
        "refused": "dial tcp {peer_ip}:3306: connect: connection refused (db {callee})",
        "reset": "invalid connection: unexpected EOF (db {callee})",
    },
}
KIND_DEFAULTS: dict[str, list[tuple[str, str]]] = {  # (message, error type) the target logs
    "deployment": [
        (
            "panic: runtime error: invalid memory address or nil pointer dereference (version {version})",
            "runtime.Error",
        )
    ],
    "config_change": [("invalid configuration value: {config_key} is out of range", "ConfigError")],
    "code_error": [
        ("unhandled exception while processing {path}: index out of range [3] with length 3", "IndexError")
    ],
    "unknown": [("request failed: internal error", "InternalError")],
    "memory_pressure": [
        ("fatal error: runtime: out of memory", "OutOfMemoryError"),
        ("GC overhead limit exceeded: heap {heap_pct}% after full collection", "OutOfMemoryError"),
    ],
    "disk_pressure": [
        ('could not extend file "base/16384/{n}": No space left on device', "DiskFull"),
        ("write failed: ENOSPC: no space left on device, write '/var/lib/data/{uuid}'", "DiskFull"),
    ],
    "database": [
        ("process {pid} still waiting for ShareLock on transaction {txid} after 1000.0 ms", "LockWait"),
        ("deadlock detected: process {pid} waits for ShareLock on transaction {txid}", "Deadlock"),
    ],
    "dependency_failure": [
        ("readiness check failed: backend not ready, rejecting connections", "Unavailable")
    ],
    "cpu_saturation": [("request queue saturated: {n} requests waiting for a worker", "Saturation")],
    "traffic_surge": [
        ("rate limit exceeded for client {client_ip} (api_key={api_key}): 429 returned", "RateLimited")
    ],
}
ERROR_KIND = {
    "go": "*url.Error",
    "java": "java.net.SocketTimeoutException",
    "python": "requests.exceptions.ConnectionError",
    "node": "FetchError",
    "ruby": "Faraday::ConnectionFailed",
    "dotnet": "System.Net.Http.HttpRequestException",
}
HTTP_REASON = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
