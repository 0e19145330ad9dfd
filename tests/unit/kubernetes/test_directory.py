"""The directory built from watches, followed by long-poll; and the autoscaler's decisions."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from dataplane.directory import parse_snapshot
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.decisions import DecisionError, ScaleDecisions
from dataplane.platform.kubernetes.directory import KubernetesDirectory, slice_pods
from dataplane.platform.kubernetes.httproutes import ObjectRef
from dataplane.platform.kubernetes.runtime import KubernetesRuntime
from dataplane.platform.kubernetes.sidecar import DeploymentConfig
from dataplane.platform.kubernetes.store import KubernetesStore
from tests.unit.kubernetes.cluster import endpoint_slice, running_pod
from tests.unit.kubernetes.support import eventually
from tests.unit.kubernetes.test_workload import LISTING_1, revision_of

NS = "default"
REV = "knative-example-00001"


def test_slice_pods_skip_terminating_endpoints_and_bracket_ipv6():
    slice_ = {
        "ports": [{"name": "http", "port": 8012}, {"name": "http-autometric", "port": 9090}],
        "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "targetRef": {"name": "a"}},
            {"addresses": ["fd00::2"], "conditions": {}, "targetRef": {"name": "b"}},
            {"addresses": ["10.0.0.3"], "conditions": {"ready": False, "terminating": True}, "targetRef": {"name": "c"}},
            {"addresses": ["10.0.0.4"], "conditions": {"ready": False}, "targetRef": {"name": "d"}},
        ],
    }
    assert slice_pods(slice_, {"a": 5.0}) == [
        {"name": "a", "address": "10.0.0.1:8012", "statsAddress": "10.0.0.1:9090", "ready": True, "startedAt": 5.0},
        {"name": "b", "address": "[fd00::2]:8012", "statsAddress": "[fd00::2]:9090", "ready": True, "startedAt": 0.0},
        {"name": "d", "address": "10.0.0.4:8012", "statsAddress": "10.0.0.4:9090", "ready": False, "startedAt": 0.0},
    ]


@pytest.fixture
async def parts(kube):
    opts = {"backoff": (0.05, 0.2)}
    store = KubernetesStore(kube, "knative-serving", **opts)
    runtime = KubernetesRuntime(kube, DeploymentConfig, **opts)
    directory = KubernetesDirectory(kube, store, runtime, ObjectRef("knative-serving", "activator-service"), **opts)
    for part in (store, runtime, directory):
        part.start()
    await asyncio.gather(store.wait_synced(), runtime.wait_synced(), directory.wait_synced())
    yield store, runtime, directory
    for part in (directory, runtime, store):
        await part.close()


async def test_snapshot_follows_revisions_routes_and_endpoints(fake, parts):
    store, runtime, directory = parts
    revision = await store.create(revision_of(LISTING_1))
    await runtime.ensure_revision(revision, 1)
    await eventually(lambda: directory.version >= 1)
    known = directory.version
    waiter = asyncio.ensure_future(directory.wait_newer(known, 5))
    await asyncio.sleep(0.05)
    assert not waiter.done()  # long-poll: nothing new yet

    changes = []
    directory.on_ready_change.append(lambda ns, name: changes.append((ns, name)))
    running_pod(fake, NS, REV, "pod-1", "10.0.0.1")
    endpoint_slice(fake, NS, REV, [("pod-1", "10.0.0.1", True)])
    assert orjson.loads(await asyncio.wait_for(waiter, 5))["version"] > known
    await eventually(lambda: directory.ready_endpoints(NS, REV) == 1)
    snapshot = parse_snapshot(directory.doc)
    info = snapshot.revisions[(NS, REV)]
    assert [(p.name, p.address, p.stats_address, p.ready) for p in info.pods] == [
        ("pod-1", "10.0.0.1:8012", "10.0.0.1:9090", True)
    ]
    assert info.pods[0].started_at > 0
    assert changes == [(NS, REV)]

    route = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Route",
        "metadata": {"name": "knative-example", "namespace": NS},
        "spec": {"traffic": [{"revisionName": REV, "percent": 100}]},
    }
    created = await store.create(route)
    await store.update_status({**created, "status": {
        "url": "http://knative-example.default.example.com",
        "traffic": [{"revisionName": REV, "percent": 100}],
        "conditions": [{"type": "AllTrafficAssigned", "status": "True"}],
    }})  # fmt: skip
    await eventually(lambda: directory.doc["routes"])
    assert directory.doc["routes"] == [
        {
            "namespace": NS,
            "name": "knative-example",
            "hosts": ["knative-example.default.example.com"],
            "traffic": [{"revisionName": REV, "percent": 100}],
            "tagHosts": {},
        }
    ]
    parse_snapshot(directory.doc)  # the activator and autoscaler accept it
    version = directory.version
    directory.poke()
    await asyncio.sleep(0.05)
    assert directory.version == version  # rebuilt, unchanged: same version


def activator_slice(fake, name: str, endpoints: list[tuple[str, str, dict]], service: str = "activator-service") -> None:
    fake.put(r.ENDPOINT_SLICE, {
        "metadata": {"name": name, "namespace": "knative-serving", "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": cond, "targetRef": {"kind": "Pod", "name": pod}}
                      for pod, ip, cond in endpoints],
        "ports": [{"name": "http", "port": 8012, "protocol": "TCP"}],
    })  # fmt: skip


async def test_the_ready_activators_are_listed_for_their_shares(fake, parts):
    _, _, directory = parts
    directory.poke()
    await eventually(lambda: directory.doc.get("activators") == [])
    activator_slice(fake, "activator-service-x1", [
        ("activator-b", "10.2.0.2", {"ready": True}),
        ("activator-c", "10.2.0.3", {"ready": False}),  # starting: no traffic reaches it yet
        ("activator-d", "10.2.0.4", {"ready": False, "terminating": True}),  # draining
    ])  # fmt: skip
    activator_slice(fake, "activator-service-x2", [("activator-a", "10.2.0.1", {}), ("activator-b", "10.2.0.2", {"ready": True})])
    activator_slice(fake, "other-x1", [("someone", "10.2.0.9", {"ready": True})], service="other")
    await eventually(lambda: directory.doc.get("activators") == ["activator-a", "activator-b"])
    assert parse_snapshot(directory.doc).activators == ("activator-a", "activator-b")
    version = directory.version
    fake.remove(r.ENDPOINT_SLICE, "knative-serving", "activator-service-x2")
    await eventually(lambda: directory.version > version)
    assert directory.doc["activators"] == ["activator-b"]


async def test_decisions_scale_and_keep_the_mode_on_the_deployment(fake, parts):
    store, runtime, directory = parts
    changed = []
    runtime.mode_listeners.append(lambda ns, name: changed.append((ns, name)))
    await runtime.ensure_revision(revision_of(LISTING_1), 1)
    decisions = ScaleDecisions(runtime)
    assert runtime.mode(NS, REV) == "Proxy"
    await decisions.apply({"namespace": NS, "name": REV, "mode": "Serve", "replicas": 3})
    await decisions.apply({"namespace": NS, "name": REV, "mode": "Serve", "replicas": None})
    deployment = fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["metadata"]["annotations"]["dataplane.dev/serving-mode"] == "Serve"
    assert runtime.mode(NS, REV) == "Serve" and changed == [(NS, REV)]
    assert fake.count("PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/{REV}-deployment") == 2  # scale, then mode once
    await decisions.apply({"namespace": NS, "name": REV, "mode": "Proxy", "replicas": 0})
    assert runtime.mode(NS, REV) == "Proxy" and changed == [(NS, REV), (NS, REV)]
    for bad in (
        {"namespace": NS, "name": REV, "mode": "serve"},
        {"name": REV, "mode": "Serve"},
        {"namespace": NS, "name": REV, "mode": "Proxy", "replicas": -1},
        [],
    ):
        with pytest.raises(DecisionError):
            await decisions.apply(bad)


async def test_going_to_zero_holds_the_last_pod_until_the_activator_is_confirmed(fake, parts):
    _, runtime, _ = parts
    await runtime.ensure_revision(revision_of(LISTING_1), 3)
    confirmed = {"yes": False}
    decisions = ScaleDecisions(runtime, lambda ns, name: confirmed["yes"])
    await decisions.apply({"namespace": NS, "name": REV, "mode": "Proxy", "replicas": 0})
    deployment = fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")
    assert deployment["spec"]["replicas"] == 1 and deployment["metadata"]["annotations"]["dataplane.dev/zero-held"] == "true"
    assert runtime.held() == [(NS, REV)]
    await decisions.recheck()
    assert fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")["spec"]["replicas"] == 1
    confirmed["yes"] = True
    await decisions.recheck()
    deployment = fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")
    assert deployment["spec"]["replicas"] == 0 and "dataplane.dev/zero-held" not in deployment["metadata"]["annotations"]
    assert runtime.held() == []


async def test_a_stale_release_loses_to_a_newer_decision(fake, parts):
    _, runtime, _ = parts
    await runtime.ensure_revision(revision_of(LISTING_1), 1)
    decisions = ScaleDecisions(runtime, lambda ns, name: False)
    await decisions.apply({"namespace": NS, "name": REV, "mode": "Proxy", "replicas": 0})
    # another replica took a decision for pods meanwhile; this one's cache has not seen it yet
    stale = runtime.deployments.get(NS, f"{REV}-deployment")
    fake.put(r.DEPLOYMENT, {**fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment"), "spec": {**stale["spec"], "replicas": 4}})
    runtime.deployments.put(stale)
    assert await runtime.release_last_pod(NS, REV) is False  # refused by the resourceVersion
    assert fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")["spec"]["replicas"] == 4
