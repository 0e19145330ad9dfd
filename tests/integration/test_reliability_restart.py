"""`dataplane up` stopped and started again on the same home: nothing applied is lost, services come back."""

from __future__ import annotations

import asyncio
import time

import pytest

from loadtests._scenario_api import condition, pod_ready
from tests.integration.test_reliability_support import Plane, autoscaler_config, host_of, http_get, recorder_service

pytestmark = pytest.mark.slow
ROUTING_STATE_MODIFIED = "serving.knative.dev/routingStateModified"
RESOURCES = ("services", "configurations", "revisions", "routes", "configmaps", "replicasets")


def applied_state(objects: dict[str, list[dict]]) -> dict:
    """What was applied or derived from it, without status or bookkeeping that may move on a restart."""
    out = {}
    for resource, items in objects.items():
        for obj in items:
            meta = obj["metadata"]
            key = (resource, meta["namespace"], meta["name"])
            kept = {k: meta.get(k) for k in ("uid", "generation", "labels", "ownerReferences")}
            # the system's own timestamp of routing-state changes is not something applied
            kept["annotations"] = {k: v for k, v in (meta.get("annotations") or {}).items() if k != ROUTING_STATE_MODIFIED}
            out[key] = {"metadata": kept, "spec": obj.get("spec"), "data": obj.get("data")}
            if resource == "replicasets":
                out[key]["spec"] = None  # replicas follow the autoscaler, not what was applied
    return out


def differences(before, after, path: str = "") -> list[str]:
    """Where two JSON-like values differ, as 'path: before -> after' lines."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            out += differences(before.get(key), after.get(key), f"{path}/{key}")
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [line for i, (x, y) in enumerate(zip(before, after)) for line in differences(x, y, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]


async def snapshot(plane: Plane) -> dict[str, list[dict]]:
    return {r: await plane.api.list(r, namespace=None) for r in RESOURCES}


async def test_idle_dataplane_up_stops_promptly(tmp_path):
    """A restart starts with a stop: SIGTERM to an install with nothing running must not hang."""
    plane = Plane(tmp_path / "home")
    await plane.start()
    await plane.session.close()
    plane.session = None
    started = time.monotonic()
    code = await asyncio.to_thread(plane.install.stop, 10.0)  # SIGKILLs it and its children after 10 s
    took = time.monotonic() - started
    print(f"stopped in {took:.1f} s with {code}")
    assert code == 0 and took < 10, f"an idle dataplane up took {took:.1f} s to stop (exit code {code})"


async def test_restart_keeps_everything_applied_and_brings_services_back(tmp_path):
    home = tmp_path / "home"
    record = tmp_path / "requests.log"
    documents = [
        recorder_service("steady", record, annotations={"min-scale": "2"}),
        recorder_service("lazy", record, container_concurrency=5),
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Configuration",
            "metadata": {"name": "plain", "namespace": "default"},
            "spec": recorder_service("x", record)["spec"],
        },
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Route",
            "metadata": {"name": "plain", "namespace": "default"},
            "spec": {"traffic": [{"configurationName": "plain", "percent": 100}]},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-settings", "namespace": "default"}, "data": {"greeting": "hello"}},
    ]
    hosts = [host_of("steady"), host_of("lazy"), host_of("plain")]
    plane = Plane(home)
    second = None
    try:
        await plane.start(autoscaler_config())
        await plane.api.apply(documents)
        # a second revision of "lazy", so there is history to keep
        await plane.api.apply([recorder_service("lazy", record, container_concurrency=5, env={"VERSION": "2"})])
        for name in ("steady", "lazy"):
            await plane.api.wait_service_ready(name)
        await plane.api.wait_pods("steady-00001", 2, timeout=30)
        for host in hosts:
            answer = await http_get(plane.port, "/?id=before", host)
            assert answer.status == 200, (host, answer)
        before = await snapshot(plane)
        pods_before = {p["metadata"]["name"] for p in await plane.api.list("pods", namespace=None)}

        processes = plane.processes()
        left = await plane.stop()
        assert plane.install.proc.returncode == 0, plane.install.log_tail()
        assert not left, f"dataplane up left processes running after SIGTERM: {left} of {processes}"

        second = Plane(home, port=plane.port, api_port=plane.install.api_port)
        await second.start(configure=False)
        after_start = await snapshot(second)
        # everything applied is there as it was, before any reconcile could have rewritten it
        changed = differences(applied_state(before), applied_state(after_start))
        assert not changed, "restarting changed what was applied:\n" + "\n".join(changed)

        await second.api.wait_service_ready("steady")
        pods = await second.api.wait_pods("steady-00001", 2, timeout=40)
        assert {p["metadata"]["name"] for p in pods}.isdisjoint(pods_before), "pods should be new processes"
        for host in hosts:
            answer = await http_get(second.port, "/?id=after", host, timeout=60)
            assert answer.status == 200, (host, answer)
        lazy = await second.api.get("services", "default", "lazy")
        assert lazy["status"]["latestReadyRevisionName"] == "lazy-00002"
        assert {r["metadata"]["name"] for r in await second.api.list("revisions")} >= {"steady-00001", "lazy-00001", "lazy-00002", "plain-00001"}
        cm = await second.api.get("configmaps", "knative-serving", "config-autoscaler")
        assert cm["data"] == autoscaler_config()["data"]
        assert all(pod_ready(p) for p in pods)
        changed = differences(applied_state(before), applied_state(await snapshot(second)))
        assert not changed, "reconciling after the restart changed what was applied:\n" + "\n".join(changed)
        print(f"resources kept: {len(applied_state(before))}; pods re-created for steady: {len(pods)}; hosts answering: {len(hosts)}")
    finally:
        if second is not None:
            left = await second.stop()
            assert not left, f"the restarted dataplane up left processes running: {left}"
        else:
            await plane.stop()


async def test_revisions_named_by_traffic_answer_from_zero_after_a_restart(tmp_path):
    """A 50/50 split by revisionName plus a tag, both revisions at zero: after a restart every URL answers its first request.

    Each revision's readiness must survive the restart without a pod running: the Route, Service and
    Configuration stay Ready (LATESTREADY == LATESTCREATED) the whole time, and the first request to each
    host wakes the right revision.
    """
    home = tmp_path / "home"
    record = tmp_path / "requests.log"
    traffic = [
        {"revisionName": "pair-00001", "percent": 50, "tag": "old"},
        {"revisionName": "pair-00002", "percent": 50},
    ]
    plane = Plane(home)
    second = None
    try:
        await plane.start(autoscaler_config())
        await plane.api.apply([recorder_service("pair", record)])
        await plane.api.wait_service_ready("pair")
        await plane.api.apply([recorder_service("pair", record, env={"VERSION": "2"}, traffic=traffic)])
        await plane.api.wait_service_ready("pair")
        for revision in ("pair-00001", "pair-00002"):
            await plane.api.wait_pods(revision, 0, timeout=60)
        assert (await http_get(plane.port, "/?id=before", host_of("pair"))).status == 200
        for revision in ("pair-00001", "pair-00002"):
            await plane.api.wait_pods(revision, 0, timeout=60)
        left = await plane.stop()
        assert not left, f"dataplane up left processes running: {left}"

        second = Plane(home, port=plane.port, api_port=plane.install.api_port)
        await second.start(configure=False)
        samples: list[tuple[str | None, str | None, str | None]] = []
        sampling = True

        async def sample_ksvc() -> None:
            while sampling:
                svc = await second.api.get("services", "default", "pair")
                status = svc["status"]
                samples.append((condition(svc, "Ready"), status.get("latestReadyRevisionName"), status.get("latestCreatedRevisionName")))
                await asyncio.sleep(0.05)

        sampler = asyncio.ensure_future(sample_ksvc())
        try:
            await asyncio.sleep(1.0)  # the restarted controller has reconciled everything by now
            tagged = await http_get(second.port, "/?id=tagged", host_of("old-pair"), timeout=60)
            assert tagged.status == 200, tagged
            assert tagged.body.split()[0] == b"pair-00001", tagged.body
            split = [await http_get(second.port, f"/?id=split{i}", host_of("pair"), timeout=60) for i in range(2)]
            assert [a.status for a in split] == [200, 200], split
            assert {a.body.split()[0] for a in split} == {b"pair-00001", b"pair-00002"}, split
        finally:
            sampling = False
            await sampler
        bad = [s for s in samples if s != ("True", "pair-00002", "pair-00002")]
        assert samples and not bad, f"after the restart ksvc was not Ready with LATESTREADY == LATESTCREATED: {bad[:5]} of {len(samples)}"
    finally:
        if second is not None:
            left = await second.stop()
            assert not left, f"the restarted dataplane up left processes running: {left}"
        else:
            await plane.stop()
