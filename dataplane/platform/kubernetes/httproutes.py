"""A Route as Gateway API ``HTTPRoute``s (pure): one per hostname, weighted over revisions.

A revision is reached through its private Service, or through the activator
while the revision is at zero or short of burst capacity; the activator learns
which revision a request is for from the ``Knative-Serving-Revision`` and
``Knative-Serving-Namespace`` headers the route sets on that backend.

Every Route is also reachable inside the cluster at its ``status.address.url``
(``<route>.<ns>.svc.cluster.local``, and ``<route>.<ns>``, ``<route>.<ns>.svc``):
an HTTPRoute for those names attaches to the internal Gateway, and a placeholder
Service ``<route>`` (ExternalName) sends the name to the internal Gateway's
Service, as Knative's placeholder Service does. A cluster-local Route
(``networking.knative.dev/visibility: cluster-local``, or a domain that is the
cluster's) has only that: nothing of it is attached to the external Gateway.
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
class Network:
    """Where HTTPRoutes attach (``config-network``, or the controller's flags)."""

    gateway: ObjectRef
    """The external Gateway."""
    local_gateway: ObjectRef
    """The internal Gateway: cluster-local Routes, and every Route's ``<route>.<ns>.svc.cluster.local``."""
    local_gateway_service: ObjectRef | None = None
    """The Service in front of the internal Gateway, which placeholder Services point to; None: the host name the
    internal Gateway reports in ``status.addresses``."""


@dataclass(frozen=True)
class HostSplit:
    """One HTTPRoute of a Route: its hostnames and the weighted revisions behind them."""

    host: str
    """The HTTPRoute's name, and its first hostname."""
    splits: tuple[tuple[str, int], ...]
    tag: str | None = None
    aliases: tuple[str, ...] = ()
    """More hostnames for the same traffic."""
    local: bool = False
    """Attached to the internal Gateway rather than the external one."""

    @property
    def hostnames(self) -> list[str]:
        return [*self.aliases, self.host] if self.aliases else [self.host]


def local_hosts(name: str, namespace: str) -> tuple[str, str, str]:
    """The names a Route answers to inside the cluster; the last is its ``status.address`` host."""
    return (f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.{keys.CLUSTER_DOMAIN}")


def host_splits(route: Mapping) -> list[HostSplit]:
    """The Route's HTTPRoutes from its resolved ``status.traffic``; empty until its traffic is assigned."""
    status = route.get("status") or {}
    if c.condition_status(status, c.ALL_TRAFFIC_ASSIGNED) != c.TRUE or not status.get("url"):
        return []
    meta = route["metadata"]
    *short, address = local_hosts(meta["name"], meta["namespace"])
    host = _host(status["url"])
    cluster_local = host == address  # the visibility label, or a domain that is the cluster's
    weights: dict[str, int] = {}
    tags = []
    for target in status.get("traffic") or []:
        if target.get("percent"):
            weights[target["revisionName"]] = weights.get(target["revisionName"], 0) + int(target["percent"])
        if target.get("tag") and target.get("url"):
            tags.append(HostSplit(_host(target["url"]), ((target["revisionName"], 100),), target["tag"], local=cluster_local))
    main = tuple(weights.items())
    inside = HostSplit(address, main, aliases=tuple(short), local=True)
    return [inside, *tags] if cluster_local else [HostSplit(host, main), inside, *tags]


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
    if split.local:
        labels[keys.VISIBILITY_LABEL] = keys.VISIBILITY_CLUSTER_LOCAL
    return {
        "apiVersion": r.HTTP_ROUTE.api_version,
        "kind": r.HTTP_ROUTE.kind,
        "metadata": {"name": split.host, "namespace": ns, "labels": labels, "ownerReferences": [owner_reference(route)]},
        "spec": {
            "parentRefs": [
                {"group": r.HTTP_ROUTE.group, "kind": "Gateway", "namespace": gateway.namespace, "name": gateway.name}
            ],
            "hostnames": split.hostnames,
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": backends}],
        },
    }


def make_placeholder_service(route: Mapping, target: str) -> dict:
    """The Service ``<route>`` in the Route's namespace: its ``status.address`` name, sent on to ``target``
    (the internal Gateway's host name), as Knative's placeholder Service."""
    meta = route["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": {keys.ROUTE_LABEL: meta["name"]},
            "ownerReferences": [owner_reference(route)],
        },
        "spec": {
            "type": "ExternalName",
            "externalName": target,
            "sessionAffinity": "None",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}],
        },
    }


def placeholder_target(network: Network, local_gateway: Mapping | None) -> str | None:
    """Where placeholder Services point: the internal Gateway's Service, or the host name the Gateway reports."""
    if network.local_gateway_service is not None:
        svc = network.local_gateway_service
        return f"{svc.name}.{svc.namespace}.{keys.CLUSTER_DOMAIN}"
    for address in ((local_gateway or {}).get("status") or {}).get("addresses") or []:
        if address.get("type") == "Hostname" and address.get("value"):
            return str(address["value"])
    return None


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


# -- what the Gateway says of them ------------------------------------------------------------------

ACCEPTED = "Accepted"
RESOLVED_REFS = "ResolvedRefs"
NOT_CONFIGURED = "IngressNotConfigured"
GATEWAY_MISSING = "GatewayMissing"


@dataclass(frozen=True)
class IngressState:
    """A Route's IngressReady, from its HTTPRoutes' ``status.parents`` and its Gateways."""

    status: str
    reason: str = ""
    message: str = ""


READY = IngressState(c.TRUE)


def _parent_key(ref: Mapping, namespace: str) -> tuple[str, str]:
    return (ref.get("namespace") or namespace, ref.get("name") or "")


def parent_refs(httproute: Mapping) -> list[ObjectRef]:
    """The Gateways an HTTPRoute attaches to."""
    ns = httproute["metadata"]["namespace"]
    return [ObjectRef(*_parent_key(ref, ns)) for ref in (httproute.get("spec") or {}).get("parentRefs") or []]


def parent_state(httproute: Mapping) -> IngressState:
    """Whether every Gateway the HTTPRoute names has accepted its current generation, refs resolved.

    A condition counts only when its ``observedGeneration`` is the HTTPRoute's
    generation: until then the Gateway may still route by the spec before.
    """
    meta = httproute["metadata"]
    ns, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    parents = {_parent_key(p.get("parentRef") or {}, ns): p for p in (httproute.get("status") or {}).get("parents") or []}
    for ref in parent_refs(httproute):
        gateway = f"{ref.namespace}/{ref.name}"
        conditions = {cond.get("type"): cond for cond in (parents.get((ref.namespace, ref.name)) or {}).get("conditions") or []}
        waiting = IngressState(c.UNKNOWN, NOT_CONFIGURED, f"Waiting for Gateway {gateway} to accept HTTPRoute {name}.")
        for type_ in (ACCEPTED, RESOLVED_REFS):
            cond = conditions.get(type_)
            if cond is None or (generation is not None and cond.get("observedGeneration", -1) < generation):
                return waiting
            if cond.get("status") == c.FALSE:
                reason = "".join(ch for ch in str(cond.get("reason") or type_) if ch.isalnum())[:64] or type_
                verb = "did not accept" if type_ == ACCEPTED else "cannot resolve the backends of"
                return IngressState(c.FALSE, reason, f"Gateway {gateway} {verb} HTTPRoute {name}: {cond.get('message', '')}")
            if cond.get("status") != c.TRUE:
                return waiting
    return READY


def gateway_state(gateway: ObjectRef, obj: Mapping | None) -> IngressState:
    """A Gateway that does not exist, or says it cannot serve (Accepted or Programmed False), fails its routes."""
    if obj is None:
        return IngressState(c.FALSE, GATEWAY_MISSING, f"Gateway {gateway.namespace}/{gateway.name} does not exist.")
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") in (ACCEPTED, "Programmed") and cond.get("status") == c.FALSE:
            reason = "".join(ch for ch in str(cond.get("reason") or "") if ch.isalnum())[:64] or "GatewayNotReady"
            return IngressState(c.FALSE, reason, f"Gateway {gateway.namespace}/{gateway.name}: {cond.get('message', '')}")
    return READY


def ingress_state(httproutes: list[Mapping], gateway_of: Callable[[ObjectRef], Mapping | None]) -> IngressState:
    """IngressReady of a Route from its HTTPRoutes: False at the first failure, else Unknown while any waits, else True."""
    if not httproutes:
        return IngressState(c.UNKNOWN, NOT_CONFIGURED, "Its HTTPRoutes are not written yet.")
    waiting = None
    for httproute in sorted(httproutes, key=lambda h: h["metadata"]["name"]):
        for ref in parent_refs(httproute):
            state = gateway_state(ref, gateway_of(ref))
            if state.status == c.FALSE:
                return state
        state = parent_state(httproute)
        if state.status == c.FALSE:
            return state
        if state.status == c.UNKNOWN and waiting is None:
            waiting = state
    return waiting or READY


def names_revision(httproute: Mapping, namespace: str, revision: str, activator: ObjectRef) -> tuple[bool, bool]:
    """(whether the HTTPRoute sends ``revision`` anywhere, whether it sends it to its pods directly)."""
    anywhere = direct = False
    private = private_service_name(revision)
    for rule in (httproute.get("spec") or {}).get("rules") or []:
        for backend in rule.get("backendRefs") or []:
            if backend.get("name") == private and backend.get("namespace", namespace) == namespace:
                anywhere = direct = True
            elif (backend.get("name"), backend.get("namespace")) == (activator.name, activator.namespace):
                for f in backend.get("filters") or []:
                    headers = {h.get("name"): h.get("value") for h in (f.get("requestHeaderModifier") or {}).get("set") or []}
                    if headers.get(REVISION_HEADER) == revision and headers.get(NAMESPACE_HEADER) == namespace:
                        anywhere = True
    return anywhere, direct


def activator_confirmed(httproutes: list[Mapping], namespace: str, revision: str, activator: ObjectRef) -> bool:
    """Whether no accepted or pending route can send ``revision``'s requests to its pods directly.

    True when every HTTPRoute (of ``namespace``) naming the revision sends it to
    the activator and its Gateways accepted that generation; vacuously true when
    none names it.
    """
    for httproute in httproutes:
        if httproute["metadata"]["namespace"] != namespace:
            continue
        anywhere, direct = names_revision(httproute, namespace, revision, activator)
        if anywhere and (direct or parent_state(httproute).status != c.TRUE):
            return False
    return True
