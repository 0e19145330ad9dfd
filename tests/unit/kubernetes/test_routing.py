"""Routes as HTTPRoutes: weighted backends, tags, the activator with revision headers, stale routes removed;
and what their Gateways say of them (IngressReady, and whether a switch to the activator is taken)."""

from __future__ import annotations

import copy

import pytest

from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.httproutes import (
    HostSplit,
    Network,
    ObjectRef,
    activator_confirmed,
    gateway_state,
    host_splits,
    ingress_state,
    make_httproute,
    parent_state,
)
from dataplane.platform.kubernetes.routewriter import RouteWriter
from tests.unit.kubernetes.support import eventually

GATEWAY = ObjectRef("knative-serving", "knative-gateway")
LOCAL_GATEWAY = ObjectRef("knative-serving", "knative-local-gateway")
ACTIVATOR = ObjectRef("knative-serving", "activator-service")
INSIDE = ("hello.default", "hello.default.svc")


def route(traffic: list[dict], assigned: str = "True") -> dict:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Route",
        "metadata": {"name": "hello", "namespace": "default", "uid": "route-uid"},
        "status": {
            "url": "http://hello.default.example.com",
            "traffic": traffic,
            "conditions": [{"type": "AllTrafficAssigned", "status": assigned}],
        },
    }


SPLIT = [
    {"revisionName": "hello-00001", "percent": 80, "latestRevision": False},
    {
        "revisionName": "hello-00002",
        "percent": 20,
        "latestRevision": True,
        "tag": "canary",
        "url": "http://canary-hello.default.example.com",
    },
    {
        "revisionName": "hello-00001",
        "percent": 0,
        "latestRevision": False,
        "tag": "old",
        "url": "http://old-hello.default.example.com",
    },
]


def test_host_splits_from_route_status():
    main = (("hello-00001", 80), ("hello-00002", 20))
    assert host_splits(route(SPLIT)) == [
        HostSplit("hello.default.example.com", main),
        HostSplit("hello.default.svc.cluster.local", main, aliases=INSIDE, local=True),  # status.address, inside only
        HostSplit("canary-hello.default.example.com", (("hello-00002", 100),), "canary"),
        HostSplit("old-hello.default.example.com", (("hello-00001", 100),), "old"),
    ]
    assert host_splits(route(SPLIT, assigned="Unknown")) == []


def test_a_cluster_local_route_is_on_the_internal_gateway_only():
    local = route(copy.deepcopy(SPLIT[:2]))
    local["metadata"]["labels"] = {"networking.knative.dev/visibility": "cluster-local"}
    local["status"]["url"] = "http://hello.default.svc.cluster.local"
    local["status"]["traffic"][1]["url"] = "http://canary-hello.default.svc.cluster.local"
    splits = host_splits(local)
    assert splits == [
        HostSplit("hello.default.svc.cluster.local", (("hello-00001", 80), ("hello-00002", 20)), aliases=INSIDE, local=True),
        HostSplit("canary-hello.default.svc.cluster.local", (("hello-00002", 100),), "canary", local=True),
    ]
    obj = make_httproute(local, splits[0], LOCAL_GATEWAY, ACTIVATOR, lambda rev: False)
    assert obj["spec"]["hostnames"] == ["hello.default", "hello.default.svc", "hello.default.svc.cluster.local"]
    assert obj["spec"]["parentRefs"][0]["name"] == "knative-local-gateway"
    assert obj["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"


def test_httproute_sends_each_revision_to_its_pods_or_the_activator():
    obj = make_httproute(route(SPLIT), host_splits(route(SPLIT))[0], GATEWAY, ACTIVATOR, lambda rev: rev == "hello-00002")
    assert obj["metadata"]["name"] == "hello.default.example.com"
    assert obj["metadata"]["labels"] == {"serving.knative.dev/route": "hello", "serving.knative.dev/routeNamespace": "default"}
    assert obj["metadata"]["ownerReferences"][0]["uid"] == "route-uid"
    assert obj["spec"]["hostnames"] == ["hello.default.example.com"]
    (rule,) = obj["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rule["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "hello-00001-private", "port": 80, "weight": 80},
        {
            "group": "",
            "kind": "Service",
            "name": "activator-service",
            "namespace": "knative-serving",
            "port": 80,
            "weight": 20,
            "filters": [
                {
                    "type": "RequestHeaderModifier",
                    "requestHeaderModifier": {
                        "set": [
                            {"name": "Knative-Serving-Revision", "value": "hello-00002"},
                            {"name": "Knative-Serving-Namespace", "value": "default"},
                        ]
                    },
                }
            ],
        },
    ]


def test_an_h2c_revision_through_the_activator_goes_to_its_h2c_port():
    # port 81 is marked appProtocol kubernetes.io/h2c: the Gateway speaks HTTP/2 there, as gRPC needs
    split = host_splits(route(SPLIT))[0]
    obj = make_httproute(route(SPLIT), split, GATEWAY, ACTIVATOR, lambda rev: True, lambda rev: rev == "hello-00002")
    assert [(b["name"], b["port"]) for b in obj["spec"]["rules"][0]["backendRefs"]] == [
        ("activator-service", 80), ("activator-service", 81),
    ]  # fmt: skip
    # straight to its pods, the private Service's own port says h2c (see the workload's tests)
    obj = make_httproute(route(SPLIT), split, GATEWAY, ACTIVATOR, lambda rev: False, lambda rev: True)
    assert [(b["name"], b["port"]) for b in obj["spec"]["rules"][0]["backendRefs"]] == [
        ("hello-00001-private", 80), ("hello-00002-private", 80),
    ]  # fmt: skip


@pytest.fixture
async def writer(kube):
    via_activator: set[str] = set()
    network = Network(GATEWAY, LOCAL_GATEWAY, ObjectRef("gateways", "local-envoy"))
    writer = RouteWriter(kube, lambda: network, ACTIVATOR, lambda ns, rev: rev in via_activator, backoff=(0.05, 0.2))
    writer.via_activator = via_activator
    writer.start()
    await writer.wait_synced()
    yield writer
    await writer.close()


async def test_writer_creates_updates_and_removes_httproutes(fake, writer):
    await writer.write(route(SPLIT))
    names = sorted(h["metadata"]["name"] for h in fake.items(r.HTTP_ROUTE, "default"))
    assert names == ["canary-hello.default.example.com", "hello.default.example.com", "hello.default.svc.cluster.local",
                     "old-hello.default.example.com"]  # fmt: skip
    grant = fake.get(r.REFERENCE_GRANT, "knative-serving", "routes-from-default")
    assert grant["spec"] == {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "default"}],
        "to": [{"group": "", "kind": "Service", "name": "activator-service"}],
    }
    writes = len([m for m, _ in fake.requests if m in ("POST", "PUT", "DELETE")])
    await writer.write(route(SPLIT))
    assert len([m for m, _ in fake.requests if m in ("POST", "PUT", "DELETE")]) == writes  # nothing changed, nothing written

    writer.via_activator.add("hello-00001")
    await writer.write(route(SPLIT[:2]))  # the `old` tag is gone
    assert sorted(h["metadata"]["name"] for h in fake.items(r.HTTP_ROUTE, "default")) == [
        "canary-hello.default.example.com", "hello.default.example.com", "hello.default.svc.cluster.local",
    ]  # fmt: skip
    main = fake.get(r.HTTP_ROUTE, "default", "hello.default.example.com")
    assert main["spec"]["rules"][0]["backendRefs"][0]["name"] == "activator-service"

    # traffic that cannot be assigned keeps the routes as they were
    await writer.write(route([], assigned="False"))
    assert len(fake.items(r.HTTP_ROUTE, "default")) == 3


async def test_the_placeholder_service_sends_the_address_to_the_internal_gateway(fake, writer):
    assert await writer.place(route(SPLIT)) is None
    svc = fake.get(r.KUBE_SERVICE, "default", "hello")
    assert svc["spec"]["type"] == "ExternalName"
    assert svc["spec"]["externalName"] == "local-envoy.gateways.svc.cluster.local"
    assert svc["metadata"]["ownerReferences"][0]["uid"] == "route-uid"
    assert await writer.place(route(SPLIT)) is None  # as it should be: nothing written
    assert fake.count("PUT", "/api/v1/namespaces/default/services") == 0
    # a Service of that name someone else made is left alone, and the Route says so
    fake.remove(r.KUBE_SERVICE, "default", "hello")
    fake.put(r.KUBE_SERVICE, {"metadata": {"name": "hello", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}})
    await eventually(lambda: writer.placeholders.get("default", "hello") is None)
    refused = await writer.place(route(SPLIT))
    assert (refused.status, refused.reason) == ("False", "NotOwned")
    assert "externalName" not in fake.get(r.KUBE_SERVICE, "default", "hello")["spec"]


# -- what the Gateway says -------------------------------------------------------------------------

def httproute(backends: list[dict], generation: int = 2, parents: list[dict] | None = None) -> dict:
    return {
        "metadata": {"name": "hello.default.example.com", "namespace": "default", "generation": generation},
        "spec": {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "knative-serving",
                            "name": "knative-gateway"}],
            "rules": [{"backendRefs": backends}],
        },  # fmt: skip
        "status": {"parents": parents or []},
    }


def said(accepted=("True", "Accepted", ""), resolved=("True", "ResolvedRefs", ""), generation=2, name="knative-gateway"):
    return [{
        "parentRef": {"namespace": "knative-serving", "name": name},
        "conditions": [
            {"type": t, "status": s, "reason": r, "message": m, "observedGeneration": generation}
            for t, (s, r, m) in (("Accepted", accepted), ("ResolvedRefs", resolved))
        ],
    }]  # fmt: skip


DIRECT = {"group": "", "kind": "Service", "name": "hello-00001-private", "port": 80, "weight": 100}
VIA_ACTIVATOR = make_httproute(route(SPLIT[:1]), host_splits(route(SPLIT[:1]))[0], GATEWAY, ACTIVATOR,
                               lambda rev: True)["spec"]["rules"][0]["backendRefs"][0]  # fmt: skip


@pytest.mark.parametrize(
    ("parents", "expected"),
    [
        (said(), ("True", "")),
        ([], ("Unknown", "IngressNotConfigured")),  # no word from the Gateway yet
        (said(generation=1), ("Unknown", "IngressNotConfigured")),  # it still routes by the spec before
        (said(name="other-gateway"), ("Unknown", "IngressNotConfigured")),
        (said(accepted=("False", "NotAllowedByListeners", "no listener")), ("False", "NotAllowedByListeners")),
        (said(resolved=("False", "RefNotPermitted", "no grant")), ("False", "RefNotPermitted")),
        (said(resolved=("Unknown", "Pending", "")), ("Unknown", "IngressNotConfigured")),
        (said(accepted=("False", "weird reason!<script>", "x")), ("False", "weirdreasonscript")),
    ],
)
def test_an_httproutes_state_is_what_its_gateways_said_of_its_generation(parents, expected):
    state = parent_state(httproute([DIRECT], parents=parents))
    assert (state.status, state.reason) == expected
    if state.status != "True":
        assert "hello.default.example.com" in state.message and "knative-serving/knative-gateway" in state.message


def test_ingress_state_names_a_missing_or_broken_gateway_first():
    ok = httproute([DIRECT], parents=said())
    assert ingress_state([ok], lambda ref: {"status": {}}).status == "True"
    missing = ingress_state([ok], lambda ref: None)
    assert (missing.status, missing.reason) == ("False", "GatewayMissing")
    assert missing.message == "Gateway knative-serving/knative-gateway does not exist."
    broken = {"status": {"conditions": [{"type": "Programmed", "status": "False", "reason": "AddressNotAssigned",
                                         "message": "no address"}]}}  # fmt: skip
    state = ingress_state([ok], lambda ref: broken)
    assert (state.status, state.reason, state.message) == (
        "False", "AddressNotAssigned", "Gateway knative-serving/knative-gateway: no address",
    )  # fmt: skip
    assert gateway_state(GATEWAY, {"status": {"conditions": [{"type": "Accepted", "status": "Unknown"}]}}).status == "True"
    assert ingress_state([], lambda ref: {}).status == "Unknown"


@pytest.mark.parametrize(
    ("backends", "parents", "confirmed"),
    [
        ([VIA_ACTIVATOR], said(), True),
        ([VIA_ACTIVATOR], said(generation=1), False),  # rewritten, not yet taken: the Gateway may still send to the pods
        ([VIA_ACTIVATOR], said(resolved=("False", "RefNotPermitted", "")), False),
        ([DIRECT], said(), False),
        ([{**DIRECT, "name": "other-00001-private"}], [], True),  # names another revision only
    ],
)
def test_the_activator_is_confirmed_only_once_every_route_naming_the_revision_is_taken(backends, parents, confirmed):
    assert activator_confirmed([httproute(backends, parents=parents)], "default", "hello-00001", ACTIVATOR) is confirmed
    assert activator_confirmed([], "default", "hello-00001", ACTIVATOR) is True
