"""Routing follows the Gateway: IngressReady from the HTTPRoutes' status, and the switches to and from the activator.

The fake API server stands in for the cluster and the test for the Gateway
implementation: it writes each HTTPRoute's ``status.parents`` as one would, when
it chooses, so the test decides when a switch has been taken.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import yaml

from dataplane.api import admit
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.leader import LeaseSettings
from dataplane.platform.kubernetes.plane import ControllerPlane, ControllerSettings
from tests import seed
from tests.unit.kubernetes.cluster import (
    LOCAL_GATEWAY_HOST,
    endpoint_slice,
    gateway,
    gateway_says,
    gateways,
    gateways_say,
    revision_serving,
    running_pod,
)
from tests.unit.kubernetes.support import eventually, fake, kube  # noqa: F401 - fixtures

NS = "default"
SYSTEM = "knative-serving"
SERVICE = seed.LISTING_1.replace(seed.COMMAND_LINE, "")
HOST = "knative-example.default.example.com"
REV = "knative-example-00001"
HELD = "dataplane.dev/zero-held"
INSIDE = "knative-example.default.svc.cluster.local"


@pytest.fixture
async def plane(kube):
    settings = ControllerSettings(
        lease=LeaseSettings(SYSTEM, "controller-a", lease_duration=2, renew_deadline=1.5, retry_period=0.2),
        bind="127.0.0.1",
        port=0,
        informer_options={"backoff": (0.05, 0.2)},
        webhook_port=None,
    )
    plane = ControllerPlane(kube, settings)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(plane.run(stop))
    await eventually(lambda: plane.leading or task.done())
    yield plane
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0


def condition(obj: dict | None, kind: str) -> tuple[str, str, str] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return cond["status"], cond.get("reason", ""), cond.get("message", "")
    return None


def status_of(fake, resource: r.Resource, name: str, kind: str) -> str | None:
    cond = condition(fake.get(resource, NS, name), kind)
    return cond[0] if cond else None


async def decide(plane, mode: str, replicas: int) -> None:
    doc = {"namespace": NS, "name": REV, "mode": mode, "replicas": replicas, "desired": replicas}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{plane.port}/scale", json=doc) as resp:
            assert resp.status == 200, await resp.text()


def backend(fake, httproute: str = HOST) -> str:
    (ref,) = fake.get(r.HTTP_ROUTE, NS, httproute)["spec"]["rules"][0]["backendRefs"]
    return ref["name"]


def replicas(fake) -> int:
    return fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")["spec"]["replicas"]


async def serving_service(fake, kube) -> None:
    await kube.request("POST", r.SERVICE.path(NS), body=admit(yaml.safe_load(SERVICE)))
    await eventually(lambda: fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment") and fake.get(r.KUBE_SERVICE, NS, f"{REV}-private"))
    revision_serving(fake, NS, REV, f"{REV}-deployment-a1", "10.1.0.5")
    await eventually(lambda: fake.get(r.HTTP_ROUTE, NS, HOST) and fake.get(r.HTTP_ROUTE, NS, INSIDE))


async def test_ingress_ready_shows_what_the_gateway_says(fake, kube, plane):
    await serving_service(fake, kube)  # no Gateway at all yet
    missing = ("False", "GatewayMissing", "Gateway knative-serving/knative-gateway does not exist.")
    await eventually(lambda: condition(fake.get(r.ROUTE, NS, "knative-example"), "IngressReady") == missing)
    await eventually(lambda: condition(fake.get(r.SERVICE, NS, "knative-example"), "Ready") == missing)

    gateway(fake)  # the internal one is still missing
    local_missing = ("False", "GatewayMissing", "Gateway knative-serving/knative-local-gateway does not exist.")
    await eventually(lambda: condition(fake.get(r.ROUTE, NS, "knative-example"), "IngressReady") == local_missing)
    gateways(fake)
    await eventually(lambda: condition(fake.get(r.ROUTE, NS, "knative-example"), "IngressReady")[:2]
                     == ("Unknown", "IngressNotConfigured"))  # fmt: skip

    gateways_say(fake, NS, resolved=("False", "RefNotPermitted", "no ReferenceGrant allows it"))
    await eventually(lambda: condition(fake.get(r.SERVICE, NS, "knative-example"), "RoutesReady")[:2] == ("False", "RefNotPermitted"))
    _, _, message = condition(fake.get(r.ROUTE, NS, "knative-example"), "IngressReady")
    assert message == (f"Gateway knative-serving/knative-gateway cannot resolve the backends of HTTPRoute {HOST}: "
                       "no ReferenceGrant allows it")  # fmt: skip

    gateways_say(fake, NS)
    await eventually(lambda: status_of(fake, r.SERVICE, "knative-example", "Ready") == "True")

    # the Gateway itself stops being able to serve: every route on it says so
    gateway(fake, conditions=[{"type": "Programmed", "status": "False", "reason": "AddressNotAssigned", "message": "no IP"}])
    await eventually(lambda: condition(fake.get(r.SERVICE, NS, "knative-example"), "Ready")[:2] == ("False", "AddressNotAssigned"))


def direct_while_gone(fake) -> list[int]:
    """resourceVersions at which the Gateway's accepted HTTPRoute sent requests to the pods while none was wanted.

    Walks the API server's history: the spec the Gateway routes by is the one of
    the generation it last accepted; a Deployment at zero replicas has its pods
    terminating. Both at once would send requests to a terminating pod.
    """
    specs: dict[tuple[str, int], dict] = {}
    accepted: dict[str, dict] = {}  # HTTPRoute -> the spec its Gateway routes by
    zero = False
    bad = []
    for rv, key, _event, obj in fake.history:
        name = obj["metadata"]["name"]
        if key == (r.HTTP_ROUTE.group, r.HTTP_ROUTE.plural):
            specs[(name, obj["metadata"]["generation"])] = obj["spec"]
            for parent in (obj.get("status") or {}).get("parents") or []:
                for cond in parent["conditions"]:
                    if cond["type"] == "Accepted" and cond["status"] == "True":
                        accepted[name] = specs[(name, cond["observedGeneration"])]
        elif key == (r.DEPLOYMENT.group, r.DEPLOYMENT.plural) and name == f"{REV}-deployment":
            zero = obj["spec"]["replicas"] == 0
        direct = [h for h, spec in accepted.items() if spec["rules"][0]["backendRefs"][0]["name"] == f"{REV}-private"]
        if zero and direct:
            bad.append(rv)
    return bad


async def test_to_zero_and_back_no_request_can_reach_a_terminating_pod(fake, kube, plane):
    gateways(fake)
    await serving_service(fake, kube)
    await decide(plane, "Serve", 1)
    await eventually(lambda: backend(fake) == f"{REV}-private" == backend(fake, INSIDE))
    gateways_say(fake, NS)
    await eventually(lambda: status_of(fake, r.SERVICE, "knative-example", "Ready") == "True")

    # going to zero: the route goes to the activator at once, the last pod stays until the Gateway has taken that
    await decide(plane, "Proxy", 0)
    await eventually(lambda: backend(fake) == "activator-service" == backend(fake, INSIDE))
    await asyncio.sleep(0.5)
    deployment = fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")
    assert deployment["spec"]["replicas"] == 1 and deployment["metadata"]["annotations"][HELD] == "true"
    # the Gateway refuses the switch (say the grant to reach the activator is gone): still held
    gateways_say(fake, NS, resolved=("False", "RefNotPermitted", "no grant"))
    await asyncio.sleep(0.3)
    assert replicas(fake) == 1
    gateway_says(fake, NS, HOST)  # one of the two routes taken: the other may still send requests to the pod
    await asyncio.sleep(0.3)
    assert replicas(fake) == 1
    gateway_says(fake, NS, INSIDE)
    await eventually(lambda: replicas(fake) == 0)
    assert HELD not in fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")["metadata"]["annotations"]
    await eventually(lambda: status_of(fake, r.SERVICE, "knative-example", "Ready") == "True")  # at zero, still Ready
    fake.remove(r.POD, NS, f"{REV}-deployment-a1")
    endpoint_slice(fake, NS, REV, [])

    # coming back: pods serve directly only once one is ready
    await decide(plane, "Serve", 1)
    await eventually(lambda: replicas(fake) == 1)
    running_pod(fake, NS, REV, f"{REV}-deployment-b1", "10.1.0.6", ready=False)
    endpoint_slice(fake, NS, REV, [(f"{REV}-deployment-b1", "10.1.0.6", False)])
    await asyncio.sleep(0.5)
    assert backend(fake) == "activator-service"
    endpoint_slice(fake, NS, REV, [(f"{REV}-deployment-b1", "10.1.0.6", True)])
    await eventually(lambda: backend(fake) == f"{REV}-private" == backend(fake, INSIDE))
    gateways_say(fake, NS)

    assert direct_while_gone(fake) == []


async def test_a_decision_for_pods_while_held_wins_over_the_pending_zero(fake, kube, plane):
    gateways(fake)
    await serving_service(fake, kube)
    await decide(plane, "Serve", 1)
    await eventually(lambda: backend(fake) == f"{REV}-private" == backend(fake, INSIDE))
    gateways_say(fake, NS)
    await decide(plane, "Proxy", 0)
    await eventually(lambda: backend(fake) == "activator-service")
    await eventually(lambda: HELD in (fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")["metadata"].get("annotations") or {}))
    await decide(plane, "Proxy", 2)  # traffic came back before the switch was taken
    await eventually(lambda: replicas(fake) == 2)
    assert HELD not in fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")["metadata"]["annotations"]
    gateways_say(fake, NS)
    await asyncio.sleep(0.3)
    assert replicas(fake) == 2


async def test_a_cluster_local_service_is_kept_off_the_external_gateway(fake, kube, plane):
    gateways(fake)
    service = admit(yaml.safe_load(SERVICE))
    service["metadata"]["labels"] = {"networking.knative.dev/visibility": "cluster-local"}
    await kube.request("POST", r.SERVICE.path(NS), body=service)
    await eventually(lambda: fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment") and fake.get(r.KUBE_SERVICE, NS, f"{REV}-private"))
    revision_serving(fake, NS, REV, f"{REV}-deployment-a1", "10.1.0.5")
    await eventually(lambda: fake.get(r.HTTP_ROUTE, NS, INSIDE))
    gateways_say(fake, NS)
    await eventually(lambda: status_of(fake, r.SERVICE, "knative-example", "Ready") == "True")
    status = fake.get(r.SERVICE, NS, "knative-example")["status"]
    assert status["url"] == "http://knative-example.default.svc.cluster.local" == status["address"]["url"]
    (httproute,) = fake.items(r.HTTP_ROUTE, NS)  # nothing on the external Gateway
    assert [p["name"] for p in httproute["spec"]["parentRefs"]] == ["knative-local-gateway"]
    assert httproute["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"
    placeholder = fake.get(r.KUBE_SERVICE, NS, "knative-example")
    assert placeholder["spec"]["externalName"] == LOCAL_GATEWAY_HOST

    # the internal Gateway's Service named in config-network wins over its reported host name
    fake.put(r.CONFIGMAP, {"metadata": {"name": "config-network", "namespace": SYSTEM},
                           "data": {"local-gateway-service": "gateways/envoy-local"}})  # fmt: skip
    await eventually(lambda: fake.get(r.KUBE_SERVICE, NS, "knative-example")["spec"]["externalName"]
                     == "envoy-local.gateways.svc.cluster.local")  # fmt: skip
