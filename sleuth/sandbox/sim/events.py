"""Change events and the background event stream, as the tools that send them would word them.

Deployments arrive from the CD tool (GitHub Actions, Argo CD, Jenkins, Spinnaker) plus the
Kubernetes rollout they trigger; config changes from the flag or config system as change
events; faults leave the marks Kubernetes would (OOM kills, failing probes, autoscaling).
"""

from __future__ import annotations

from sleuth.sandbox.protocol import EventRecord
from sleuth.sandbox.sim.noise import key, rng
from sleuth.sandbox.sim.state import StateModel
from sleuth.sandbox.sim.topology import Topology
from sleuth.sandbox.world import ChangeSpec

HORIZON_BEFORE = 30 * 3600.0
HORIZON_AFTER = 12 * 3600.0
DEPLOY_TITLES = {
    "github": "Deployed {service} {version} to {env}",
    "argocd": "Application {service}-{env} synced to {version} (revision {commit})",
    "jenkins": "Jenkins job deploy-{service} #{build} SUCCESS: {version} deployed to {env}",
    "spinnaker": "Pipeline deploy-{service} succeeded: {version} rolled out to {env}",
}
DEPLOY_TEXTS = {
    "github": "GitHub Actions workflow `deploy` run #{build} by @{author} deployed `{service}` at {commit} ({version}).",
    "argocd": "Sync of application {service}-{env} to revision {commit} succeeded. Image: registry/{service}:{version}.",
    "jenkins": "Build #{build} started by {author}. Artifact {service}-{version}.jar promoted to {env}.",
    "spinnaker": "Pipeline triggered by {author}. Server group {service}-v{build} is now serving traffic ({version}).",
}


class EventGen:
    def __init__(self, topo: Topology, model: StateModel) -> None:
        self.topo, self.fx = topo, model.fx
        self.world = topo.world
        self.records: list[EventRecord] = []
        for ch in self.world.changes:
            self.records += self._change(ch)
        self.records += self._background()
        self.records += self._fault_marks()
        self.records.sort(key=lambda e: (e.timestamp, e.id))

    def window(self, start: float, end: float) -> list[EventRecord]:
        return [e for e in self.records if start <= e.timestamp < end]

    def _id(self, *parts: object) -> str:
        return f"AAAAAYx{key(self.world.seed, 'event', *parts):019d}"

    def _base_tags(self, service: str) -> list[str]:
        team = self.world.service(service).team
        return [f"env:{self.world.env}", f"service:{service}", f"team:{team}"]

    def _change(self, ch: ChangeSpec) -> list[EventRecord]:
        ts = self.topo.anchor + ch.at_min * 60.0
        r = rng(self.world.seed, "change", ch.service, ch.at_min)
        env = self.world.env
        if ch.kind == "deployment":
            commit = ch.commit or f"{r.getrandbits(28):07x}"
            fill = {
                "service": ch.service,
                "version": ch.version,
                "env": env,
                "commit": commit,
                "author": ch.author,
                "build": r.randint(800, 9000),
            }
            source = ch.source if ch.source in DEPLOY_TITLES else "github"
            tags = [
                *self._base_tags(ch.service),
                f"version:{ch.version}",
                "change_type:deployment",
                f"source:{source}",
                f"git.commit.sha:{commit}",
            ]
            deploy = EventRecord(
                id=self._id(ch.service, ch.at_min, "deploy"),
                timestamp=ts,
                title=DEPLOY_TITLES[source].format(**fill),
                text=DEPLOY_TEXTS[source].format(**fill),
                tags=tags,
                source=source,
                status="success",
                service=ch.service,
                aggregation_key=f"deploy-{ch.service}",
            )
            node = self.topo.nodes[ch.service]
            rs = node.epoch_at(ts).pods[0].rsplit("-", 1)[0]
            rollout = EventRecord(
                id=self._id(ch.service, ch.at_min, "rollout"),
                timestamp=ts + r.uniform(4.0, 20.0),
                title=f"Events from the Deployment {self.world.namespace}/{ch.service}",
                text=f"Scaled up replica set {rs} to {node.svc.replicas}",
                tags=[
                    *self._base_tags(ch.service),
                    f"kube_deployment:{ch.service}",
                    f"kube_namespace:{self.world.namespace}",
                    "source:kubernetes",
                    "event_reason:ScalingReplicaSet",
                ],
                source="kubernetes",
                status="info",
                service=ch.service,
            )
            return [deploy, rollout]
        flag = ch.resource_type == "feature_flag"
        prev, new = (
            ch.prev_value or ("false" if flag else "previous"),
            ch.new_value or ("true" if flag else "updated"),
        )
        if flag:
            title = f"Feature flag {ch.resource} changed from {prev} to {new} in {env}"
        else:
            title = f"Configuration {ch.resource} updated for {ch.service} in {env}"
        text_ = f"{ch.author} changed `{ch.resource}`: `{prev}` → `{new}`."
        tags = [*self._base_tags(ch.service), f"change_type:{ch.resource_type}", f"source:{ch.source}"]
        return [
            EventRecord(
                id=self._id(ch.service, ch.at_min, "config"),
                timestamp=ts,
                title=title,
                text=text_,
                tags=tags,
                source=ch.source,
                status="info",
                service=ch.service,
                category="change",
                extra={
                    "changed_resource": {"name": ch.resource, "type": ch.resource_type},
                    "impacted_resources": [{"name": ch.service, "type": "service"}],
                    "author": {"name": ch.author, "type": "user"},
                    "prev_value": {"value": prev},
                    "new_value": {"value": new},
                },
            )
        ]

    def _background(self) -> list[EventRecord]:
        """Routine events that are always there: autoscaling, cert renewals, unrelated monitor flaps."""
        out: list[EventRecord] = []
        r = rng(self.world.seed, "background")
        t = self.topo.anchor - HORIZON_BEFORE
        services = [s for s in self.world.services if s.type in {"web", "grpc", "worker"}]
        ns = self.world.namespace
        while t < self.topo.anchor + HORIZON_AFTER:
            t += r.uniform(9, 31) * 60.0
            s = r.choice(services)
            choice = r.random()
            if choice < 0.45:
                size = r.randint(2, 6)
                title, text_ = (
                    f"Events from the HorizontalPodAutoscaler {ns}/{s.name}",
                    f"New size: {size}; reason: cpu resource utilization (percentage of request) "
                    f"{'above' if r.random() < 0.5 else 'below'} target",
                )
                tags, source, status = (
                    [*self._base_tags(s.name), "source:kubernetes", "event_reason:SuccessfulRescale"],
                    "kubernetes",
                    "info",
                )
            elif choice < 0.6:
                title, text_ = (
                    f"Events from the Certificate {ns}/{s.name}-tls",
                    "Certificate issued successfully and stored in secret",
                )
                tags, source, status = (
                    [*self._base_tags(s.name), "source:kubernetes", "event_reason:Issued"],
                    "kubernetes",
                    "info",
                )
            else:
                host = self.topo.k8s_nodes[r.randrange(len(self.topo.k8s_nodes))]
                state = r.choice(["Triggered", "Recovered"])
                title = f"[{state}] Disk space on {host} above 80%"
                text_ = f"system.disk.in_use on host:{host} device:/dev/root {'crossed' if state == 'Triggered' else 'went back below'} 0.8"
                tags = [f"host:{host}", "monitor", f"env:{self.world.env}", "source:monitor"]
                source, status = "monitor", "warning" if state == "Triggered" else "success"
                s = None  # type: ignore[assignment]
            out.append(
                EventRecord(
                    id=self._id("bg", t),
                    timestamp=t,
                    title=title,
                    text=text_,
                    tags=tags,
                    source=source,
                    status=status,
                    service=s.name if s else None,
                )
            )
        return out

    def _fault_marks(self) -> list[EventRecord]:
        """What Kubernetes reports about the fault's target while it hurts."""
        fx, out = self.fx, []
        node = self.topo.nodes[fx.target]
        ns, name = self.world.namespace, fx.target
        end = self.topo.anchor + HORIZON_AFTER
        if fx.kind == "memory_pressure":
            for r_ in range(node.svc.replicas):
                full, period = fx._pod_cycle(name, r_)
                t, n = full, 0
                while t < end and n < 200:
                    pod = node.epoch_at(t).pods[r_]
                    out.append(
                        EventRecord(
                            id=self._id("oom", r_, n),
                            timestamp=t + 2.0,
                            title=f"Events from the Pod {ns}/{pod}",
                            text=f"Container {name} in pod {pod} was OOMKilled (exit code 137); Back-off restarting failed container",
                            tags=[
                                *self._base_tags(name),
                                f"pod_name:{pod}",
                                "source:kubernetes",
                                "event_reason:BackOff",
                            ],
                            source="kubernetes",
                            status="warning",
                            service=name,
                        )
                    )
                    t, n = t + period, n + 1
        elif fx.kind == "dependency_failure" and node.svc.type != "external":
            t, n = fx.onset + 15.0, 0
            while t < end and n < 300:
                out.append(
                    EventRecord(
                        id=self._id("probe", n),
                        timestamp=t,
                        title=f"Events from the Pod {ns}/{node.epoch_at(t).pods[n % node.svc.replicas]}",
                        text=f"Readiness probe failed: dial tcp {name}:{'6379' if node.svc.type == 'cache' else '8080'}: connect: connection refused",
                        tags=[*self._base_tags(name), "source:kubernetes", "event_reason:Unhealthy"],
                        source="kubernetes",
                        status="warning",
                        service=name,
                    )
                )
                t, n = t + 90.0, n + 1
        elif fx.kind in {"cpu_saturation", "traffic_surge"}:
            surge = (
                [fx.target] if fx.kind == "cpu_saturation" else [fx.target, *[c.to for c in node.svc.calls]]
            )
            for j, svc in enumerate(
                s for s in surge if self.topo.nodes[s].svc.type in {"web", "grpc", "worker"}
            ):
                t = fx.onset + 60.0 + 30.0 * j
                out.append(
                    EventRecord(
                        id=self._id("hpa", svc),
                        timestamp=t,
                        title=f"Events from the HorizontalPodAutoscaler {ns}/{svc}",
                        text=f"New size: {self.topo.nodes[svc].svc.replicas * 2}; reason: cpu resource utilization "
                        "(percentage of request) above target",
                        tags=[*self._base_tags(svc), "source:kubernetes", "event_reason:SuccessfulRescale"],
                        source="kubernetes",
                        status="info",
                        service=svc,
                    )
                )
        return out
