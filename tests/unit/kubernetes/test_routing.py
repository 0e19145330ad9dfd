"""Routes as HTTPRoutes: weighted backends, tags, the activator with revision headers, stale routes removed."""

from __future__ import annotations

import pytest

from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.httproutes import HostSplit, ObjectRef, host_splits, make_httproute
from dataplane.platform.kubernetes.routewriter import RouteWriter

GATEWAY = ObjectRef("knative-serving", "knative-gateway")
ACTIVATOR = ObjectRef("knative-serving", "activator-service")


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
    assert host_splits(route(SPLIT)) == [
        HostSplit("hello.default.example.com", (("hello-00001", 80), ("hello-00002", 20))),
        HostSplit("canary-hello.default.example.com", (("hello-00002", 100),), "canary"),
        HostSplit("old-hello.default.example.com", (("hello-00001", 100),), "old"),
    ]
    assert host_splits(route(SPLIT, assigned="Unknown")) == []


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
    writer = RouteWriter(kube, lambda: GATEWAY, ACTIVATOR, lambda ns, rev: rev in via_activator, backoff=(0.05, 0.2))
    writer.via_activator = via_activator
    writer.start()
    await writer.wait_synced()
    yield writer
    await writer.close()


async def test_writer_creates_updates_and_removes_httproutes(fake, writer):
    await writer.write(route(SPLIT))
    names = sorted(h["metadata"]["name"] for h in fake.items(r.HTTP_ROUTE, "default"))
    assert names == ["canary-hello.default.example.com", "hello.default.example.com", "old-hello.default.example.com"]
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
        "canary-hello.default.example.com", "hello.default.example.com",
    ]  # fmt: skip
    main = fake.get(r.HTTP_ROUTE, "default", "hello.default.example.com")
    assert main["spec"]["rules"][0]["backendRefs"][0]["name"] == "activator-service"

    # traffic that cannot be assigned keeps the routes as they were
    await writer.write(route([], assigned="False"))
    assert len(fake.items(r.HTTP_ROUTE, "default")) == 2
