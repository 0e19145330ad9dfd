"""The controller against a Kubernetes API over real HTTP: the seed article's Service, end to end.

Listing 1 (v1alpha1, admitted as `kubectl apply` through the webhook would)
becomes a Configuration, a Revision, a Deployment with the queue-proxy
injected, a private Service and an HTTPRoute; Listing 2 adds revision 00002,
and traffic moves to it only once it is ready.
"""

from __future__ import annotations

import asyncio

import aiohttp
import kubernetes_validate
import pytest
import yaml

from dataplane.api import admit
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.client import ApiError
from dataplane.platform.kubernetes.leader import LeaseSettings
from dataplane.platform.kubernetes.plane import ControllerPlane, ControllerSettings
from tests import seed
from tests.unit.kubernetes.cluster import LOCAL_GATEWAY_HOST, gateways, gateways_say, revision_serving
from tests.unit.kubernetes.crdcheck import crd_problems
from tests.unit.kubernetes.support import eventually, fake, kube  # noqa: F401 - fixtures

NS = "default"
SYSTEM = "knative-serving"
# a cluster runs the image: the local runtime's command is not needed there
LISTING_1 = seed.LISTING_1.replace(seed.COMMAND_LINE, "")
# Listing 2's image reads as empty (`##...` is a YAML comment), so a cluster test keeps Listing 1's image
LISTING_2 = LISTING_1.replace("        spec:\n", "        spec:\n          containerConcurrency: 1\n")
HOST = "knative-example.default.example.com"


@pytest.fixture
async def plane(kube):
    settings = ControllerSettings(
        lease=LeaseSettings(SYSTEM, "controller-a", lease_duration=2, renew_deadline=1.5, retry_period=0.2),
        bind="127.0.0.1",
        port=0,
        informer_options={"backoff": (0.05, 0.2)},
        webhook_port=0,
    )
    plane = ControllerPlane(kube, settings)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(plane.run(stop))
    await eventually(lambda: plane.leading or task.done())
    yield plane
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0


def condition(obj: dict | None, kind: str) -> str | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return cond["status"]
    return None


def owner(obj: dict) -> tuple[str, str, str]:
    (ref,) = obj["metadata"]["ownerReferences"]
    assert ref["controller"] is True and ref["blockOwnerDeletion"] is True
    return ref["kind"], ref["name"], ref["uid"]


async def post(port: int, path: str, doc: dict) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{port}{path}", json=doc) as resp:
            await resp.read()
            return resp.status


async def directory(port: int) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/directory", params={"version": "-1", "wait": "0"}) as resp:
            assert resp.status == 200
            return await resp.json()


def backends(fake) -> list[dict]:
    route = fake.get(r.HTTP_ROUTE, NS, HOST)
    return route["spec"]["rules"][0]["backendRefs"] if route else []


async def test_seed_service_end_to_end(fake, kube, plane):
    gateways(fake)
    created = await kube.request("POST", r.SERVICE.path(NS), body=admit(yaml.safe_load(LISTING_1)))
    service_uid = created["metadata"]["uid"]

    config = await eventually(lambda: fake.get(r.CONFIGURATION, NS, "knative-example"))
    assert owner(config) == ("Service", "knative-example", service_uid)
    rev = await eventually(lambda: fake.get(r.REVISION, NS, "knative-example-00001"))
    assert owner(rev) == ("Configuration", "knative-example", config["metadata"]["uid"])
    route = await eventually(lambda: fake.get(r.ROUTE, NS, "knative-example"))
    assert owner(route) == ("Service", "knative-example", service_uid)

    deployment = await eventually(lambda: fake.get(r.DEPLOYMENT, NS, "knative-example-00001-deployment"))
    assert owner(deployment) == ("Revision", "knative-example-00001", rev["metadata"]["uid"])
    assert deployment["spec"]["replicas"] == 1  # initial scale
    pod = deployment["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["user-container", "queue-proxy"]
    user, queue = pod["containers"]
    assert user["image"] == "docker.io/##DOCKERHUB_NAME##/knative-example"
    assert user["ports"] == [{"name": "user-port", "containerPort": 8080, "protocol": "TCP"}]
    assert "readinessProbe" not in user
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in queue["env"]}
    assert env["SERVING_REVISION"] == "knative-example-00001" and env["USER_PORT"] == "8080"
    assert env["SERVING_POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert queue["readinessProbe"]["httpGet"]["httpHeaders"] == [{"name": "K-Network-Probe", "value": "queue"}]
    assert pod["terminationGracePeriodSeconds"] == 300
    private = await eventually(lambda: fake.get(r.KUBE_SERVICE, NS, "knative-example-00001-private"))
    assert owner(private) == ("Revision", "knative-example-00001", rev["metadata"]["uid"])
    assert private["spec"]["selector"] == {"serving.knative.dev/revision": "knative-example-00001"}
    assert {p["name"]: (p["port"], p["targetPort"]) for p in private["spec"]["ports"]} == {
        "http": (80, 8012), "http-autometric": (9090, 9090), "http-usermetric": (9091, 9091),
    }  # fmt: skip

    # nothing is ready yet: no traffic is assigned, so no HTTPRoute
    await eventually(lambda: condition(fake.get(r.REVISION, NS, "knative-example-00001"), "Ready") == "Unknown")
    assert fake.get(r.HTTP_ROUTE, NS, HOST) is None

    revision_serving(fake, NS, "knative-example-00001", "knative-example-00001-deployment-a1", "10.1.0.5")
    # the HTTPRoute is written; until the Gateway has accepted it, the Route is not ready
    await eventually(lambda: fake.get(r.HTTP_ROUTE, NS, HOST))
    await eventually(lambda: condition(fake.get(r.ROUTE, NS, "knative-example"), "IngressReady") == "Unknown")
    assert condition(fake.get(r.SERVICE, NS, "knative-example"), "Ready") == "Unknown"
    await eventually(lambda: fake.get(r.HTTP_ROUTE, NS, "knative-example.default.svc.cluster.local"))
    gateways_say(fake, NS)
    await eventually(lambda: condition(fake.get(r.SERVICE, NS, "knative-example"), "Ready") == "True")
    service = fake.get(r.SERVICE, NS, "knative-example")
    assert service["status"]["url"] == f"http://{HOST}"
    assert service["status"]["latestReadyRevisionName"] == "knative-example-00001"
    assert fake.get(r.REVISION, NS, "knative-example-00001")["status"]["actualReplicas"] == 1

    # the autoscaler has not spoken yet: the activator stays in the path, told which revision by headers
    (backend,) = await eventually(lambda: backends(fake))
    assert (backend["name"], backend["namespace"], backend["port"], backend["weight"]) == (
        "activator-service", SYSTEM, 80, 100,
    )  # fmt: skip
    assert backend["filters"][0]["requestHeaderModifier"]["set"] == [
        {"name": "Knative-Serving-Revision", "value": "knative-example-00001"},
        {"name": "Knative-Serving-Namespace", "value": NS},
    ]
    httproute = fake.get(r.HTTP_ROUTE, NS, HOST)
    assert httproute["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": SYSTEM, "name": "knative-gateway"}
    ]
    assert owner(httproute)[:2] == ("Route", "knative-example")
    assert fake.get(r.REFERENCE_GRANT, SYSTEM, "routes-from-default")["spec"]["from"][0]["namespace"] == NS
    # status.address.url answers inside the cluster: the internal Gateway takes its names, the placeholder Service
    # `knative-example` sends them there
    assert service["status"]["address"] == {"url": "http://knative-example.default.svc.cluster.local"}
    inside = fake.get(r.HTTP_ROUTE, NS, "knative-example.default.svc.cluster.local")
    assert inside["spec"]["parentRefs"][0]["name"] == "knative-local-gateway"
    assert inside["spec"]["hostnames"] == [
        "knative-example.default", "knative-example.default.svc", "knative-example.default.svc.cluster.local",
    ]  # fmt: skip
    assert inside["spec"]["rules"] == httproute["spec"]["rules"]
    placeholder = fake.get(r.KUBE_SERVICE, NS, "knative-example")
    assert (placeholder["spec"]["type"], placeholder["spec"]["externalName"]) == ("ExternalName", LOCAL_GATEWAY_HOST)
    assert owner(placeholder)[:2] == ("Route", "knative-example")

    # the autoscaler says Serve: traffic goes straight to the private Service
    decision = {"namespace": NS, "name": "knative-example-00001", "mode": "Serve", "replicas": 1, "desired": 1}
    assert await post(plane.port, "/scale", decision) == 200
    await eventually(
        lambda: backends(fake) == [{"group": "", "kind": "Service", "name": "knative-example-00001-private", "port": 80, "weight": 100}]
    )
    # kept on the Deployment, where a next leader finds it
    assert (
        fake.get(r.DEPLOYMENT, NS, "knative-example-00001-deployment")["metadata"]["annotations"]["dataplane.dev/serving-mode"] == "Serve"
    )

    snapshot = await directory(plane.port)
    (entry,) = snapshot["revisions"]
    assert entry["pods"] == [
        {
            "name": "knative-example-00001-deployment-a1",
            "address": "10.1.0.5:8012",
            "statsAddress": "10.1.0.5:9090",
            "ready": True,
            "startedAt": entry["pods"][0]["startedAt"],
        }
    ]
    assert snapshot["routes"][0]["hosts"] == [HOST]

    # the switch to the pods is another generation of the HTTPRoutes: not ready until the Gateway takes it
    await eventually(lambda: condition(fake.get(r.ROUTE, NS, "knative-example"), "IngressReady") == "Unknown")
    gateways_say(fake, NS)
    await eventually(lambda: condition(fake.get(r.SERVICE, NS, "knative-example"), "Ready") == "True")

    # Listing 2: a new revision; traffic stays on 00001 until 00002 is ready
    async def update_service() -> bool:
        update = admit(yaml.safe_load(LISTING_2))
        update["metadata"] = fake.get(r.SERVICE, NS, "knative-example")["metadata"]
        try:
            await kube.request("PUT", r.SERVICE.path(NS, "knative-example"), body=update)
        except ApiError as exc:  # the controller wrote its status meanwhile: read it again, as kubectl would
            assert exc.status == 409
            return False
        return True

    await eventually(update_service)
    deployment2 = await eventually(lambda: fake.get(r.DEPLOYMENT, NS, "knative-example-00002-deployment"))
    queue2 = deployment2["spec"]["template"]["spec"]["containers"][1]
    assert {e["name"]: e.get("value") for e in queue2["env"]}["CONTAINER_CONCURRENCY"] == "1"
    await asyncio.sleep(0.3)
    assert fake.get(r.ROUTE, NS, "knative-example")["status"]["traffic"][0]["revisionName"] == "knative-example-00001"
    assert backends(fake)[0]["name"] == "knative-example-00001-private"

    revision_serving(fake, NS, "knative-example-00002", "knative-example-00002-deployment-b1", "10.1.0.6")
    await eventually(lambda: fake.get(r.ROUTE, NS, "knative-example")["status"]["traffic"][0]["revisionName"] == "knative-example-00002")
    (backend,) = await eventually(lambda: [b for b in backends(fake) if b.get("filters")])
    assert backend["filters"][0]["requestHeaderModifier"]["set"][0]["value"] == "knative-example-00002"
    await eventually(
        lambda: fake.get(r.REVISION, NS, "knative-example-00001")["metadata"]["labels"]["serving.knative.dev/routingState"] == "reserve"
    )
    await eventually(lambda: fake.get(r.SERVICE, NS, "knative-example")["status"].get("latestReadyRevisionName") == "knative-example-00002")

    # everything the controller wrote fits the CRD schemas: nothing rejected, nothing pruned
    for resource in (r.SERVICE, r.CONFIGURATION, r.REVISION, r.ROUTE):
        for obj in fake.items(resource, NS):
            assert crd_problems(obj) == [], (resource.kind, obj["metadata"]["name"])
    for obj in fake.items(r.DEPLOYMENT, NS) + fake.items(r.KUBE_SERVICE, NS):
        obj = {k: v for k, v in obj.items() if k != "status"}
        kubernetes_validate.validate(obj, "1.33", strict=True)

    # deleting the Service takes everything with it (the API server's garbage collector)
    await kube.request("DELETE", r.SERVICE.path(NS, "knative-example"))
    assert fake.items(r.DEPLOYMENT, NS) == [] and fake.items(r.HTTP_ROUTE, NS) == []


async def test_only_the_leader_is_ready_and_decisions_are_checked(fake, kube, plane):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{plane.port}/readyz") as resp:
            assert resp.status == 200
    assert await post(plane.port, "/scale", {"namespace": NS, "name": "x", "mode": "Sideways"}) == 400
    lease = fake.get(r.LEASE, SYSTEM, "dataplane-controller")
    assert lease["spec"]["holderIdentity"] == "controller-a"


def settings(identity: str) -> ControllerSettings:
    return ControllerSettings(
        lease=LeaseSettings(SYSTEM, identity, lease_duration=2, renew_deadline=1.5, retry_period=0.2),
        bind="127.0.0.1",
        port=0,
        informer_options={"backoff": (0.05, 0.2)},
        webhook_port=0,
    )


async def test_a_standby_serves_the_directory_and_takes_over_when_the_leader_stops(fake, kube):
    a, b = ControllerPlane(kube, settings("controller-a")), ControllerPlane(kube, settings("controller-b"))
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    task_a = loop.create_task(a.run(stop_a))
    await eventually(lambda: a.leading)
    task_b = loop.create_task(b.run(stop_b))
    await eventually(lambda: b.synced)
    assert not b.leading
    assert (await directory(b.port))["revisions"] == []  # a standby answers the activator and autoscaler too

    stop_a.set()
    assert await asyncio.wait_for(task_a, 10) == 0
    await eventually(lambda: b.leading)  # released on shutdown: no need to wait for expiry
    # a plain v1 Service, as `kubectl apply` stores it without a webhook: defaulted by the controller
    plain = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "plain", "namespace": NS},
             "spec": {"template": {"spec": {"containers": [{"image": "registry.local/plain:1"}]}}}}  # fmt: skip
    await kube.request("POST", r.SERVICE.path(NS), body=plain)
    deployment = await eventually(lambda: fake.get(r.DEPLOYMENT, NS, "plain-00001-deployment"))
    assert deployment["spec"]["template"]["spec"]["containers"][0]["name"] == "user-container"
    route = await eventually(lambda: fake.get(r.ROUTE, NS, "plain"))
    assert route["spec"]["traffic"] == [{"latestRevision": True, "percent": 100, "configurationName": "plain"}]
    stop_b.set()
    assert await asyncio.wait_for(task_b, 10) == 0
    assert fake.get(r.LEASE, SYSTEM, "dataplane-controller")["spec"]["holderIdentity"] is None


async def test_a_service_that_got_past_admission_is_ready_false_with_the_local_apis_messages(fake, kube, plane, caplog):
    # stored as if the webhook had been down (or before it was installed): the controller decodes it
    # with the same strict admission, and says why on the object, not only in its log
    typo = admit(yaml.safe_load(LISTING_1))
    typo["metadata"]["name"] = "typo"
    typo["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"runAsNonRoot": True, "runAsNonroot": True}
    await kube.request("POST", r.SERVICE.path(NS), body=typo)
    good = admit(yaml.safe_load(LISTING_1))
    good["metadata"]["name"] = "good"
    await kube.request("POST", r.SERVICE.path(NS), body=good)
    await eventually(lambda: fake.get(r.CONFIGURATION, NS, "good"))
    message = (
        "spec.template.spec.containers[0].securityContext.runAsNonroot: "
        'unknown field; did you mean "runAsNonRoot"?'
    )
    stored = await eventually(lambda: condition(fake.get(r.SERVICE, NS, "typo"), "Ready") == "False" and fake.get(r.SERVICE, NS, "typo"))
    (ready,) = [c for c in stored["status"]["conditions"] if c["type"] == "Ready"]
    assert (ready["reason"], ready["message"]) == ("ValidationFailed", message)
    assert stored["status"]["observedGeneration"] == stored["metadata"]["generation"]
    logged = {rec.getMessage() for rec in caplog.records if "typo" in rec.getMessage()}
    assert logged == {f"Service default/typo is not valid: {message}"}  # once per reconcile: a resync may have come first
    assert fake.get(r.CONFIGURATION, NS, "typo") is None and fake.get(r.ROUTE, NS, "typo") is None

    # fixed, it is reconciled as any other, and Ready is derived afresh
    fixed = fake.get(r.SERVICE, NS, "typo")
    del fixed["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"]
    await kube.request("PUT", r.SERVICE.path(NS, "typo"), body=fixed)
    await eventually(lambda: fake.get(r.CONFIGURATION, NS, "typo"))
    await eventually(lambda: ready_reason(fake.get(r.SERVICE, NS, "typo")) != "ValidationFailed")


def ready_reason(obj: dict) -> str | None:
    return next((c.get("reason") for c in obj["status"]["conditions"] if c["type"] == "Ready"), None)


GREETER = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "greeter", "namespace": NS},
    "spec": {"template": {"spec": {"containers": [{"image": "greeter", "ports": [{"name": "h2c", "containerPort": 50051}]}]}}},
}


async def test_an_h2c_service_is_reached_over_http2_through_the_activator_and_straight(fake, kube, plane):
    await kube.request("POST", r.SERVICE.path(NS), body=admit(GREETER))
    deployment = await eventually(lambda: fake.get(r.DEPLOYMENT, NS, "greeter-00001-deployment"))
    queue = deployment["spec"]["template"]["spec"]["containers"][1]
    assert {"name": "USER_PROTOCOL", "value": "h2c"} in queue["env"]
    private = await eventually(lambda: fake.get(r.KUBE_SERVICE, NS, "greeter-00001-private"))
    assert private["spec"]["ports"][0]["appProtocol"] == "kubernetes.io/h2c"
    revision_serving(fake, NS, "greeter-00001", "greeter-00001-deployment-a1", "10.1.0.9")
    host = "greeter.default.example.com"

    def backend_ports():
        route = fake.get(r.HTTP_ROUTE, NS, host)
        return [(b["name"], b["port"]) for b in route["spec"]["rules"][0]["backendRefs"]] if route else []

    # through the activator on its h2c port (the Gateway speaks HTTP/2 there), then straight to the pods
    assert await eventually(lambda: backend_ports() == [("activator-service", 81)])
    decision = {"namespace": NS, "name": "greeter-00001", "mode": "Serve", "replicas": 1, "desired": 1}
    assert await post(plane.port, "/scale", decision) == 200
    assert await eventually(lambda: backend_ports() == [("greeter-00001-private", 80)])
    assert plane.speaks_h2c(NS, "greeter-00001") and not plane.speaks_h2c(NS, "nowhere-00001")
