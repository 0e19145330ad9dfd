"""KubernetesRuntime: Deployments for revisions, state from pods, scale with deletion costs."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web

from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.deletioncost import DELETION_COST, parse_in_flight
from dataplane.platform.kubernetes.runtime import KubernetesRuntime
from dataplane.platform.kubernetes.sidecar import DeploymentConfig
from tests.unit.kubernetes.cluster import deployment_available, running_pod
from tests.unit.kubernetes.support import eventually
from tests.unit.kubernetes.test_workload import LISTING_1, revision_of

NS = "default"
REV = "knative-example-00001"


@pytest.fixture
async def runtime(kube):
    config = {"current": DeploymentConfig()}
    runtime = KubernetesRuntime(kube, lambda: config["current"], scrape_timeout=1.0, backoff=(0.05, 0.2))
    runtime.config_box = config
    runtime.start()
    await runtime.wait_synced()
    yield runtime
    await runtime.close()


async def test_ensure_revision_creates_once_and_rolls_on_a_new_template(fake, runtime):
    revision = revision_of(LISTING_1)
    state = await runtime.ensure_revision(revision, 2)
    assert state.replicas == 2 and state.pods == () and not state.ever_ready
    await runtime.ensure_revision(revision, 2)
    assert fake.count("POST", "/apis/apps/v1/namespaces/default/deployments") == 1
    assert fake.count("POST", "/api/v1/namespaces/default/services") == 1
    await runtime.scale(NS, REV, 3)
    runtime.config_box["current"] = DeploymentConfig(queue_image="dataplane:next")
    await runtime.ensure_revision(revision, 1)
    deployment = fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][1]["image"] == "dataplane:next"
    assert deployment["spec"]["replicas"] == 3  # a roll keeps the scale


async def test_state_follows_pods_crash_loops_and_deadlines(fake, runtime):
    changes = []
    runtime.subscribe(lambda ns, name: changes.append((ns, name)))
    await runtime.ensure_revision(revision_of(LISTING_1), 1)
    crash = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}}
    pod = running_pod(fake, NS, REV, "p1", "10.0.0.1", ready=False, app_state=crash)
    pod["status"]["containerStatuses"][0].update(restartCount=3, lastState={"terminated": {"exitCode": 2, "reason": "Error"}})
    fake.put(r.POD, pod)
    await eventually(
        lambda: (runtime.revision_state(NS, REV).pods or [None])[0] and runtime.revision_state(NS, REV).pods[0].restarts == 3
    )
    (state,) = runtime.revision_state(NS, REV).pods
    assert (state.waiting_reason, state.last_exit_code, state.ready, state.phase) == ("CrashLoopBackOff", 2, False, "Running")
    assert state.address == "10.0.0.1:8012" and state.stats_address == "10.0.0.1:9090"
    assert (NS, REV) in changes

    starting = running_pod(fake, NS, REV, "p2", "10.0.0.2", ready=False, app_state={"waiting": {"reason": "ContainerCreating"}})
    await eventually(lambda: len(runtime.revision_state(NS, REV).pods) == 2)
    assert runtime.revision_state(NS, REV).pods[1].waiting_reason == ""
    starting["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    fake.put(r.POD, starting)
    await eventually(lambda: runtime.revision_state(NS, REV).ready_pods == 1)
    assert runtime.revision_state(NS, REV).ever_ready

    deployment = fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")
    fake.set_status(r.DEPLOYMENT, NS, deployment["metadata"]["name"], {"conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "timed out progressing"}
    ]})  # fmt: skip
    await eventually(lambda: runtime.revision_state(NS, REV).failure == "ProgressDeadlineExceeded")
    assert runtime.revision_state(NS, "missing") is None


def test_in_flight_is_read_from_the_prometheus_text():
    text = (
        "# HELP revision_in_flight_requests Requests in the queue-proxy\n"
        "# TYPE revision_in_flight_requests gauge\n"
        'revision_in_flight_requests{namespace_name="default",pod_name="p"} 3.0\n'
        "revision_in_flight_requests_total 99\n"
    )
    assert parse_in_flight(text) == 3.0
    assert parse_in_flight("revision_queue_depth 1\n") is None
    # the OpenTelemetry dialect's name for the same gauge
    assert parse_in_flight('http_server_active_requests{k8s_pod_name="p"} 2.0\n') == 2.0


@pytest.fixture
async def queue_proxies():
    """Two queue-proxy metrics endpoints on two loopback addresses, the same port (as pods have)."""
    probe = socket.socket()
    probe.bind(("127.0.0.2", 0))
    port = probe.getsockname()[1]
    probe.close()
    loads = {"127.0.0.2": 4, "127.0.0.3": 0}
    runners = []
    for ip, load in loads.items():

        async def metrics(_request: web.Request, load: int = load) -> web.Response:
            return web.Response(text=f'revision_in_flight_requests{{pod_name="x"}} {load}\n')

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, ip, port).start()
        runners.append(runner)
    yield port
    for runner in runners:
        await runner.cleanup()


async def test_scale_down_marks_busy_pods_dearer_to_delete(fake, kube, queue_proxies):
    runtime = KubernetesRuntime(kube, DeploymentConfig, metrics_port=queue_proxies, backoff=(0.05, 0.2))
    runtime.start()
    try:
        await runtime.wait_synced()
        await runtime.ensure_revision(revision_of(LISTING_1), 3)
        for name, ip in (("busy", "127.0.0.2"), ("idle", "127.0.0.3"), ("gone", "127.0.0.4")):
            running_pod(fake, NS, REV, name, ip)
        deployment_available(fake, NS, REV, 3)
        await eventually(lambda: len(runtime.revision_state(NS, REV).pods) == 3)

        await runtime.scale(NS, REV, 1)
        annotations = {
            p["metadata"]["name"]: (p["metadata"].get("annotations") or {}).get(DELETION_COST) for p in fake.items(r.POD, NS)
        }
        assert annotations == {"busy": "4", "idle": "0", "gone": None}  # no answer: left as it was
        assert fake.get(r.DEPLOYMENT, NS, f"{REV}-deployment")["spec"]["replicas"] == 1
        assert fake.count("PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/{REV}-deployment/scale") == 1
        # scaling up needs no costs, and the same scale again is no request at all
        await runtime.scale(NS, REV, 2)
        await runtime.scale(NS, REV, 2)
        assert fake.count("PATCH", "/api/v1/namespaces/default/pods/") == 2
        assert fake.count("PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/{REV}-deployment/scale") == 2
    finally:
        await runtime.close()
