"""A Route as Gateway API ``HTTPRoute``s (pure): one per hostname, weighted over revisions.

A revision is reached through its private Service, or through the activator
while the revision is at zero or short of burst capacity; the activator learns
which revision a request is for from the ``Knative-Serving-Revision`` and
``Knative-Serving-Namespace`` headers the route sets on that backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dataplane.api import child_name, keys, owner_reference
from dataplane.api import conditions as c
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.workload import private_service_name

REVISION_HEADER = "Knative-Serving-Revision"
NAMESPACE_HEADER = "Knative-Serving-Namespace"
ROUTE_NAMESPACE_LABEL = f"{keys.GROUP}/routeNamespace"
GRANT_LABEL = "dataplane.dev/grant-for"
# activator-service's ports (deploy/activator.yaml): both reach its one listener, which tells HTTP/2 by its
# preface; 81 is marked appProtocol kubernetes.io/h2c so a Gateway speaks HTTP/2 to it (Knative: 81 → 8013)
ACTIVATOR_PORT = 80
ACTIVATOR_H2C_PORT = 81


@dataclass(frozen=True)
class ObjectRef:
    """A namespaced object reference: the Gateway routes attach to, or the activator Service."""

    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str, default_namespace: str) -> ObjectRef:
        """``name`` or ``namespace/name``."""
        ns, _, name = text.strip().rpartition("/")
        if not name:
            raise ValueError(f"expected NAME or NAMESPACE/NAME, got {text!r}")
        return cls(ns or default_namespace, name)


@dataclass(frozen=True)
class HostSplit:
    """One hostname of a Route and the weighted revisions behind it."""

    host: str
    splits: tuple[tuple[str, int], ...]
    tag: str | None = None


def host_splits(route: Mapping) -> list[HostSplit]:
    """The Route's hostnames from its resolved ``status.traffic``; empty until its traffic is assigned."""
    status = route.get("status") or {}
    if c.condition_status(status, c.ALL_TRAFFIC_ASSIGNED) != c.TRUE or not status.get("url"):
        return []
    weights: dict[str, int] = {}
    tags = []
    for target in status.get("traffic") or []:
        if target.get("percent"):
            weights[target["revisionName"]] = weights.get(target["revisionName"], 0) + int(target["percent"])
        if target.get("tag") and target.get("url"):
            tags.append(HostSplit(_host(target["url"]), ((target["revisionName"], 100),), target["tag"]))
    return [HostSplit(_host(status["url"]), tuple(weights.items())), *tags]


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def backend_ref(namespace: str, revision: str, weight: int, activator: ObjectRef | None, h2c: bool = False) -> dict:
    """The backend for ``revision``: its private Service, or (``activator`` given) the activator naming it in
    headers, on the activator's h2c port when the revision's port is named h2c (``appProtocol`` tells the
    Gateway to speak HTTP/2 there, so gRPC keeps its trailers; the private Service's port says so itself)."""
    if activator is None:
        return {"group": "", "kind": "Service", "name": private_service_name(revision), "port": 80, "weight": weight}
    headers = [{"name": REVISION_HEADER, "value": revision}, {"name": NAMESPACE_HEADER, "value": namespace}]
    return {
        "group": "",
        "kind": "Service",
        "name": activator.name,
        "namespace": activator.namespace,
        "port": ACTIVATOR_H2C_PORT if h2c else ACTIVATOR_PORT,
        "weight": weight,
        "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": headers}}],
    }


def make_httproute(
    route: Mapping,
    split: HostSplit,
    gateway: ObjectRef,
    activator: ObjectRef,
    through_activator: Callable[[str], bool],
    h2c: Callable[[str], bool] = lambda revision: False,
) -> dict:
    """The HTTPRoute for one hostname of ``route``; ``through_activator(revision)`` picks each backend,
    ``h2c(revision)`` the activator's port for it."""
    meta = route["metadata"]
    ns = meta["namespace"]
    backends = [
        backend_ref(ns, rev, weight, activator, h2c(rev)) if through_activator(rev) else backend_ref(ns, rev, weight, None)
        for rev, weight in split.splits
    ]
    labels = {keys.ROUTE_LABEL: meta["name"], ROUTE_NAMESPACE_LABEL: ns}
    if split.tag:
        labels[f"{keys.GROUP}/tag"] = split.tag
    return {
        "apiVersion": r.HTTP_ROUTE.api_version,
        "kind": r.HTTP_ROUTE.kind,
        "metadata": {"name": split.host, "namespace": ns, "labels": labels, "ownerReferences": [owner_reference(route)]},
        "spec": {
            "parentRefs": [
                {"group": r.HTTP_ROUTE.group, "kind": "Gateway", "namespace": gateway.namespace, "name": gateway.name}
            ],
            "hostnames": [split.host],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": backends}],
        },
    }


def reference_grant_name(namespace: str) -> str:
    return child_name(f"routes-from-{namespace}", "")


def make_reference_grant(namespace: str, activator: ObjectRef) -> dict:
    """Lets HTTPRoutes of ``namespace`` send requests to the activator Service in its own namespace."""
    return {
        "apiVersion": r.REFERENCE_GRANT.api_version,
        "kind": r.REFERENCE_GRANT.kind,
        "metadata": {
            "name": reference_grant_name(namespace),
            "namespace": activator.namespace,
            "labels": {GRANT_LABEL: namespace},
        },
        "spec": {
            "from": [{"group": r.HTTP_ROUTE.group, "kind": r.HTTP_ROUTE.kind, "namespace": namespace}],
            "to": [{"group": "", "kind": "Service", "name": activator.name}],
        },
    }
