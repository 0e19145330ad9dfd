"""What the cluster's own controllers would write, done by hand in tests: pods, Deployment status, EndpointSlices."""

from __future__ import annotations

from dataplane.platform.kubernetes import resources as r
from tests.unit.kubernetes.fakeapi import FakeApiServer, _now


def running_pod(
    fake: FakeApiServer, ns: str, revision: str, name: str, ip: str, ready: bool = True, app_state: dict | None = None
) -> dict:
    """A pod of ``revision``'s Deployment, scheduled and started as kubelet would report it."""
    deployment = fake.get(r.DEPLOYMENT, ns, f"{revision}-deployment")
    template = deployment["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": dict(template["metadata"]["labels"])},
        "spec": template["spec"],
        "status": {
            "phase": "Running",
            "podIP": ip,
            "startTime": _now(),
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": "user-container",
                    "ready": ready,
                    "restartCount": 0,
                    "state": app_state or {"running": {"startedAt": _now()}},
                },
                {"name": "queue-proxy", "ready": ready, "restartCount": 0, "state": {"running": {"startedAt": _now()}}},
            ],
        },
    }
    return fake.put(r.POD, pod)


def deployment_available(fake: FakeApiServer, ns: str, revision: str, ready: int) -> dict:
    deployment = fake.get(r.DEPLOYMENT, ns, f"{revision}-deployment")
    return fake.set_status(
        r.DEPLOYMENT,
        ns,
        deployment["metadata"]["name"],
        {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": ready,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        },
    )


def endpoint_slice(fake: FakeApiServer, ns: str, revision: str, pods: list[tuple[str, str, bool]]) -> dict:
    """The EndpointSlice of ``revision``'s private Service listing ``(pod name, ip, ready)``."""
    service = fake.get(r.KUBE_SERVICE, ns, f"{revision}-private")
    labels = {**service["metadata"]["labels"], "kubernetes.io/service-name": service["metadata"]["name"]}
    return fake.put(
        r.ENDPOINT_SLICE,
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": f"{revision}-private-x1", "namespace": ns, "labels": labels},
            "addressType": "IPv4",
            "endpoints": [
                {
                    "addresses": [ip],
                    "conditions": {"ready": ready, "serving": ready, "terminating": False},
                    "targetRef": {"kind": "Pod", "name": name, "namespace": ns},
                }
                for name, ip, ready in pods
            ],
            "ports": [
                {"name": "http", "port": 8012, "protocol": "TCP"},
                {"name": "http-autometric", "port": 9090, "protocol": "TCP"},
                {"name": "http-usermetric", "port": 9091, "protocol": "TCP"},
            ],
        },
    )


def revision_serving(fake: FakeApiServer, ns: str, revision: str, pod: str, ip: str = "127.0.0.1") -> None:
    """``revision`` with one ready pod: the Deployment available, the pod running, the endpoint ready."""
    running_pod(fake, ns, revision, pod, ip)
    deployment_available(fake, ns, revision, 1)
    endpoint_slice(fake, ns, revision, [(pod, ip, True)])


LOCAL_GATEWAY_HOST = "knative-local-gateway.gateways.svc.cluster.local"


def gateway(
    fake: FakeApiServer, ns: str = "knative-serving", name: str = "knative-gateway", conditions: list | None = None,
    hostname: str | None = None,
) -> dict:
    """A Gateway, as its implementation reports it (Accepted and Programmed unless ``conditions`` say otherwise)."""
    conds = conditions if conditions is not None else [
        {"type": "Accepted", "status": "True", "reason": "Accepted"},
        {"type": "Programmed", "status": "True", "reason": "Programmed"},
    ]  # fmt: skip
    status = {"conditions": conds, **({"addresses": [{"type": "Hostname", "value": hostname}]} if hostname else {})}
    return fake.put(r.GATEWAY, {
        "metadata": {"name": name, "namespace": ns},
        "spec": {"gatewayClassName": "test", "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]},
        "status": status,
    })  # fmt: skip


def gateways(fake: FakeApiServer) -> None:
    """The external Gateway and the internal one (which reports a host name for placeholder Services)."""
    gateway(fake)
    gateway(fake, name="knative-local-gateway", hostname=LOCAL_GATEWAY_HOST)


def gateway_says(
    fake: FakeApiServer, ns: str, name: str, accepted: tuple[str, str, str] = ("True", "Accepted", ""),
    resolved: tuple[str, str, str] = ("True", "ResolvedRefs", ""),
) -> dict:
    """The Gateway's word on HTTPRoute ``ns/name`` at its current generation, as an implementation writes it."""
    route = fake.get(r.HTTP_ROUTE, ns, name)
    assert route is not None, f"no HTTPRoute {ns}/{name}"
    generation = route["metadata"]["generation"]
    parents = [
        {
            "parentRef": ref,
            "controllerName": "example.com/gateway",
            "conditions": [
                {"type": type_, "status": status, "reason": reason, "message": message, "observedGeneration": generation}
                for type_, (status, reason, message) in (("Accepted", accepted), ("ResolvedRefs", resolved))
            ],
        }
        for ref in route["spec"]["parentRefs"]
    ]
    return fake.set_status(r.HTTP_ROUTE, ns, name, {"parents": parents})


def gateways_say(fake: FakeApiServer, ns: str, **said) -> None:
    """The Gateways' word on every HTTPRoute of ``ns`` at its current generation."""
    for route in fake.items(r.HTTP_ROUTE, ns):
        gateway_says(fake, ns, route["metadata"]["name"], **said)
