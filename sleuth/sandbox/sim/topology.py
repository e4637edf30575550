"""Everything derived once from a world spec: operation names, resources, pods, versions, hosts.

This is where a world's services get the names Datadog's tracers and integrations would give
them, so the rest of the simulator can stay about dynamics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sleuth.sandbox.sim.noise import key
from sleuth.sandbox.world import Call, Service, World

SERVER_OPERATION = {  # what each language's tracer names an inbound HTTP request
    "go": "http.request",
    "java": "servlet.request",
    "python": "flask.request",
    "node": "express.request",
    "ruby": "rack.request",
    "dotnet": "aspnet_core.request",
}
CLIENT_OPERATION = {
    "database": "{engine}.query",
    "cache": "redis.command",
    "queue": "kafka.produce",
    "external": "http.client.request",
    "web": "http.client.request",
    "grpc": "grpc.client",
}
SPAN_TYPE = {
    "web": "web",
    "grpc": "rpc",
    "worker": "worker",
    "database": "sql",
    "cache": "redis",
    "queue": "queue",
    "external": "http",
}
_ALNUM = "bcdfghjklmnpqrstvwxz2456789"
WRITE = re.compile(r"^(POST|PUT|PATCH|DELETE|INSERT|UPDATE|SET|HSET|Produce)\b|/Update|/Create|/Delete")


def _token(seed: int, *parts: object, n: int) -> str:
    k = key(seed, *parts)
    out = []
    for _ in range(n):
        k, r = divmod(k, len(_ALNUM))
        out.append(_ALNUM[r])
    return "".join(out)


def stem(name: str) -> str:
    s = re.sub(r"[-_.](service|svc|api|web|server|worker|db|cache|queue|gateway|bff)$", "", name)
    return re.sub(r"[^a-z0-9]+", "_", s).strip("_") or "item"


def camel(name: str) -> str:
    return "".join(p.capitalize() for p in re.split(r"[^a-zA-Z0-9]+", stem(name)) if p)


@dataclass
class Epoch:
    """A period during which one version of a service runs on one replica set."""

    start: float
    version: str
    pods: list[str]


@dataclass
class Node:
    svc: Service
    operation: str | None  # server span operation (None when not instrumented)
    resources: list[str]
    weights: list[float]
    epochs: list[Epoch] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)  # per replica
    callers: list[tuple[str, Call]] = field(default_factory=list)
    base_load: float = 0.0

    @property
    def name(self) -> str:
        return self.svc.name

    def epoch_at(self, t: float) -> Epoch:
        current = self.epochs[0]
        for e in self.epochs:
            if e.start <= t:
                current = e
        return current

    def client_operation(self) -> str:
        return CLIENT_OPERATION.get(self.svc.type, "http.client.request").format(
            engine=self.svc.engine or "postgres"
        )


class Topology:
    def __init__(self, world: World, anchor: datetime) -> None:
        self.world = world
        self.anchor = anchor.timestamp()
        self._client_res: dict[tuple[str, str], list[str]] = {}
        self._tags: dict[tuple[str, str], list[str]] = {}
        nodes_count = max(3, len(world.services) // 3)
        self.k8s_nodes = [
            f"ip-10-{(key(world.seed, 'node', i) % 200) + 20}-{key(world.seed, 'nodeb', i) % 250}-"
            f"{key(world.seed, 'nodec', i) % 250}.ec2.internal"
            for i in range(nodes_count)
        ]
        self.nodes: dict[str, Node] = {s.name: self._node(s) for s in world.services}
        for s in world.services:
            for c in s.calls:
                self.nodes[c.to].callers.append((s.name, c))
        self.order = self._topological()
        for name in self.order:  # callers before callees
            n = self.nodes[name]
            n.base_load = n.svc.rps + sum(self.nodes[c].base_load * call.fanout for c, call in n.callers)

    def _node(self, s: Service) -> Node:
        seed = self.world.seed
        resources, weights = self._resources(s)
        operation = None
        if s.type == "web":
            operation = SERVER_OPERATION[s.language]
        elif s.type == "grpc":
            operation = "grpc.server"
        elif s.type == "worker":
            operation = "kafka.consume" if s.consumes else "worker.process"
        node = Node(svc=s, operation=operation, resources=resources, weights=weights)
        versions = [(float("-inf"), s.version)]
        for ch in sorted(self.world.changes, key=lambda c: c.at_min):
            if ch.kind == "deployment" and ch.service == s.name and ch.version:
                versions.append((self.anchor + ch.at_min * 60.0, ch.version))
        for start, version in versions:
            if s.type in {"database", "cache", "queue"}:
                pods = [f"{s.name}-{i}" for i in range(s.replicas)]  # StatefulSet / managed hosts keep names
            else:
                rs = _token(seed, s.name, version, "rs", n=10)
                pods = [f"{s.name}-{rs}-{_token(seed, s.name, version, i, n=5)}" for i in range(s.replicas)]
            node.epochs.append(Epoch(start=start, version=version, pods=pods))
        if s.type == "database":
            node.hosts = [f"{s.name}-{'primary' if i == 0 else f'replica-{i}'}" for i in range(s.replicas)]
        else:
            node.hosts = [
                self.k8s_nodes[key(seed, s.name, "host", i) % len(self.k8s_nodes)] for i in range(s.replicas)
            ]
        return node

    def _resources(self, s: Service) -> tuple[list[str], list[float]]:
        if s.resources:
            res = list(s.resources)
        elif s.type == "web":
            st = stem(s.name).replace("_", "-")
            res = [f"GET /api/v1/{st}", f"POST /api/v1/{st}", f"GET /api/v1/{st}/:id"]
        elif s.type == "grpc":
            c = camel(s.name)
            res = [
                f"{stem(s.name)}.v1.{c}Service/Get{c}",
                f"{stem(s.name)}.v1.{c}Service/List{c}s",
                f"{stem(s.name)}.v1.{c}Service/Update{c}",
            ]
        elif s.type == "worker":
            res = (
                [f"Consume Topic {self.world.service(s.consumes).topic or s.consumes}"]
                if s.consumes
                else ["process_batch"]
            )
        elif s.type == "database":
            res = ["SELECT", "UPDATE", "INSERT"]  # per caller tables are filled in by client_resources
        elif s.type == "cache":
            res = ["GET", "SET", "MGET"]
        elif s.type == "queue":
            res = [f"Produce Topic {s.topic or s.name}"]
        else:
            res = ["POST /v1/requests"]
        weights = [0.5, 0.3, 0.2, 0.1, 0.1, 0.1][: len(res)]
        total = sum(weights)
        return res, [w / total for w in weights]

    def ip(self, service: str) -> str:
        """A stable cluster IP for a service."""
        k = key(self.world.seed, service, "ip")
        return f"10.{k % 200 + 20}.{(k >> 8) % 250}.{(k >> 16) % 250 + 2}"

    def client_resources(self, caller: str, callee: str) -> list[str]:
        """Resource names of a caller's client spans to a callee."""
        cached = self._client_res.get((caller, callee))
        if cached is None:
            cached = self._client_res[(caller, callee)] = self._client_resources(caller, callee)
        return cached

    def _client_resources(self, caller: str, callee: str) -> list[str]:
        target = self.nodes[callee]
        if target.svc.type == "database":
            table = stem(caller) + "s"
            return [
                f"SELECT * FROM {table} WHERE id = ?",
                f"UPDATE {table} SET status = ? WHERE id = ?",
                f"INSERT INTO {table} (id, payload, created_at) VALUES (?, ?, ?)",
            ]
        return target.resources

    def _topological(self) -> list[str]:
        indeg = {n: 0 for n in self.nodes}
        for node in self.nodes.values():
            for c in node.svc.calls:
                indeg[c.to] += 1
        ready = [n for n in self.nodes if indeg[n] == 0]
        out: list[str] = []
        while ready:
            n = ready.pop(0)
            out.append(n)
            for c in self.nodes[n].svc.calls:
                indeg[c.to] -= 1
                if indeg[c.to] == 0:
                    ready.append(c.to)
        return out

    def is_write(self, resource: str) -> bool:
        return bool(WRITE.search(resource))

    def unified_tags(self, service: str, version: str) -> list[str]:
        tags = self._tags.get((service, version))
        if tags is None:
            tags = self._tags[(service, version)] = [
                f"env:{self.world.env}",
                f"service:{service}",
                f"version:{version}",
            ]
        return list(tags)

    def kube_tags(self, service: str, epoch: Epoch, replica: int) -> list[str]:
        n = self.nodes[service]
        rs = epoch.pods[replica].rsplit("-", 1)[0]
        tags = [
            *self.unified_tags(service, epoch.version),
            f"kube_namespace:{self.world.namespace}",
            f"kube_cluster_name:{self.world.cluster}",
            f"kube_container_name:{service}",
            f"pod_name:{epoch.pods[replica]}",
            f"host:{n.hosts[replica]}",
            f"team:{n.svc.team}",
        ]
        if n.svc.type in {"cache", "queue"}:
            tags.append(f"kube_stateful_set:{service}")
        else:
            tags += [f"kube_deployment:{service}", f"kube_replica_set:{rs}"]
        return tags
