"""The controller loop: which store and runtime events enqueue which reconciles, the whole chain from a Service
to a ready URL, and retries with back-off; driven by the loop's own queue and idle signal, on an injected clock."""

from __future__ import annotations

import asyncio

import pytest

from dataplane.api import DomainConfig, DomainRule, keys
from dataplane.api import conditions as c
from dataplane.api.config import Config
from dataplane.api.timestamps import format_timestamp
from dataplane.controller.loop import RETRY_DELAYS, Controller
from tests.unit.controller.fakeruntime import crashed, ready_pods
from tests.unit.controller.world import NS, T0, World, cond, service

SETTLE = 5.0
"""Seconds a test waits at most for the loop to run out of work (a guard: the loop is not timed)."""


def controller_for(world: World) -> Controller:
    ctl = Controller(world.store, world.runtime, lambda: world.config, lambda: world.initial_scale, clock=world.clock)
    world.store.subscribe(ctl.on_store_event)
    world.runtime.subscribe(ctl.on_runtime_event)
    return ctl


@pytest.fixture
async def running():
    """A world and its controller, running until the test ends."""
    world = World()
    ctl = controller_for(world)
    task = asyncio.get_running_loop().create_task(ctl.run())
    yield world, ctl
    ctl.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def settled(ctl: Controller) -> None:
    await asyncio.wait_for(ctl.idle.wait(), SETTLE)


def queued(ctl: Controller) -> list[tuple[str, str, str]]:
    """Take everything from the loop's queue, as its ``run`` would."""
    out = []
    while not ctl.queue.empty():
        out.append(ctl.queue.get_nowait())
        ctl.queued.discard(out[-1])
    return out


def obj(kind: str, name: str, namespace: str = NS, labels: dict | None = None, owners: list[tuple[str, str]] = ()) -> dict:
    meta = {"name": name, "namespace": namespace, "labels": labels or {},
            "ownerReferences": [{"kind": k, "name": n, "uid": f"uid-{n}"} for k, n in owners]}
    return {"kind": kind, "metadata": meta}


# a store event's object -> the keys enqueued (with Routes "r1", "r2" in the namespace, "elsewhere" in another)
STORE_EVENTS = [
    pytest.param(obj("Service", "web"), [("Service", NS, "web")], id="service"),
    pytest.param(obj("Configuration", "web", owners=[("Service", "web")]),
                 [("Configuration", NS, "web"), ("Service", NS, "web"), ("Route", NS, "r1"), ("Route", NS, "r2")],
                 id="configuration: itself, its owner, the namespace's routes"),
    pytest.param(obj("Route", "r1", owners=[("Service", "web")]), [("Route", NS, "r1"), ("Service", NS, "web")], id="route"),
    pytest.param(obj("Revision", "web-00001", labels={keys.CONFIGURATION_LABEL: "web"}, owners=[("Configuration", "web")]),
                 [("Revision", NS, "web-00001"), ("Configuration", NS, "web"), ("Route", NS, "r1"), ("Route", NS, "r2")],
                 id="revision: itself, its configuration, the namespace's routes"),
    pytest.param(obj("ReplicaSet", "web-00001-deployment-abc", owners=[("Revision", "web-00001")]), [("Revision", NS, "web-00001")],
                 id="replica set: its revision"),
    pytest.param(obj("ConfigMap", "config-gc", namespace="knative-serving"),
                 [("Service", NS, "web"), ("Configuration", NS, "web"), ("Revision", NS, "web-00001"), ("Route", NS, "r1"),
                  ("Route", NS, "r2"), ("Route", "elsewhere", "r3")],
                 id="platform config: everything"),
    pytest.param(obj("ConfigMap", "mine"), [], id="a user's config map: nothing"),
    pytest.param(obj("Pod", "x", owners=[("Deployment", "d")]), [], id="unknown kinds: nothing"),
]


@pytest.mark.parametrize(("changed", "expected"), STORE_EVENTS)
async def test_a_store_event_enqueues_what_depends_on_it(changed, expected):
    world = World()
    for kind, name, ns in (("Route", "r1", NS), ("Route", "r2", NS), ("Route", "r3", "elsewhere"), ("Service", "web", NS),
                           ("Configuration", "web", NS), ("Revision", "web-00001", NS)):
        await world.store.create({"kind": kind, "metadata": {"name": name, "namespace": ns}, "spec": {}})
    ctl = controller_for(world)
    queued(ctl)
    world.store.listeners.clear()  # the test calls the handler itself, once
    for event in ("ADDED", "MODIFIED", "DELETED"):
        ctl.on_store_event(event, changed)
        assert queued(ctl) == expected
    assert ctl.queued == set()


async def test_a_key_waits_in_the_queue_once():
    ctl = controller_for(World())
    for _ in range(3):
        ctl.enqueue("Service", NS, "web")
        ctl.on_runtime_event(NS, "web-00001")
    assert queued(ctl) == [("Service", NS, "web"), ("Revision", NS, "web-00001")]


async def test_a_service_becomes_ready_with_its_url_once_its_pod_is(running):
    world, ctl = running
    world.clock.now = T0 + 5
    await world.create(service())
    await settled(ctl)
    assert set(world.runtime.calls) == {("ensure", NS, "web-00001", 1)}
    svc = await world.get("Service", "web")
    assert cond(svc, c.READY)[0] == "Unknown"
    assert svc["status"]["latestCreatedRevisionName"] == "web-00001"

    world.clock.now = T0 + 9
    world.runtime.set_state(NS, "web-00001", ready_pods(1))
    await settled(ctl)
    svc = await world.get("Service", "web")
    assert cond(svc, c.READY) == ("True", "", "")
    assert svc["status"]["url"] == "http://web.default.example.com"
    assert svc["status"]["traffic"] == [{"revisionName": "web-00001", "latestRevision": True, "percent": 100}]
    assert svc["status"]["latestReadyRevisionName"] == "web-00001"
    assert c.get_condition(svc["status"], c.READY)["lastTransitionTime"] == format_timestamp(T0 + 9)
    for kind in ("Configuration", "Route", "Revision"):
        name = "web-00001" if kind == "Revision" else "web"
        assert c.is_ready(await world.get(kind, name)), kind


async def test_a_new_revision_that_crashes_leaves_traffic_on_the_old_one(running):
    world, ctl = running
    await world.create(service())
    await settled(ctl)
    world.runtime.set_state(NS, "web-00001", ready_pods(1))
    await settled(ctl)
    svc = await world.get("Service", "web")
    svc["spec"]["template"] = service(image="b")["spec"]["template"]
    await world.store.update(svc)
    await settled(ctl)
    world.runtime.set_state(NS, "web-00002", crashed(2))
    await settled(ctl)
    svc = await world.get("Service", "web")
    assert svc["status"]["traffic"] == [{"revisionName": "web-00001", "latestRevision": True, "percent": 100}]
    assert (svc["status"]["latestCreatedRevisionName"], svc["status"]["latestReadyRevisionName"]) == ("web-00002", "web-00001")
    assert cond(svc, c.CONFIGURATIONS_READY)[:2] == ("False", "RevisionFailed")
    assert "exited with code 2" in cond(svc, c.READY)[2]

    world.runtime.set_state(NS, "web-00002", ready_pods(1))
    await settled(ctl)
    svc = await world.get("Service", "web")
    assert svc["status"]["traffic"] == [{"revisionName": "web-00002", "latestRevision": True, "percent": 100}]
    assert cond(svc, c.READY)[0] == "True"
    labels = {r["metadata"]["name"]: r["metadata"]["labels"][keys.ROUTING_STATE_LABEL] for r in await world.store.list("Revision")}
    assert labels == {"web-00001": "reserve", "web-00002": "active"}


async def test_deleting_the_service_stops_its_revisions(running):
    world, ctl = running
    await world.create(service())
    await settled(ctl)
    await world.store.delete("Service", NS, "web")
    await settled(ctl)
    assert world.runtime.calls[-1] == ("delete", NS, "web-00001")
    assert await world.store.list("Revision") == []


@pytest.fixture
async def timers(monkeypatch):
    """The controller's retry timers, recorded as (delay, callback, args) instead of running on the wall clock."""
    loop = asyncio.get_running_loop()
    recorded: list[tuple[float, object, tuple]] = []
    real = loop.call_later

    def call_later(delay, callback, *args):
        if getattr(callback, "__func__", None) is not Controller._retry:
            return real(delay, callback, *args)
        recorded.append((delay, callback, args))
        return asyncio.TimerHandle(loop.time() + delay, callback, args, loop)

    monkeypatch.setattr(loop, "call_later", call_later)
    return recorded


async def test_a_failed_reconcile_is_retried_with_growing_back_off_and_then_forgotten(running, timers):
    world, ctl = running
    await world.create(service())
    world.runtime.errors[(NS, "web-00001")] = RuntimeError("the runtime is down")
    await settled(ctl)
    key = ("Revision", NS, "web-00001")
    for attempt, delay in enumerate(RETRY_DELAYS + RETRY_DELAYS[-1:], start=1):
        assert ctl.failures[key] == attempt
        assert [(d, args) for d, _, args in timers] == [(delay, (key,))]
        _, fire, args = timers.pop()
        fire(*args)  # what the timer does when it is due
        await settled(ctl)
    del world.runtime.errors[(NS, "web-00001")]
    _, fire, args = timers.pop()
    fire(*args)
    await settled(ctl)
    assert key not in ctl.failures and timers == []
    assert cond(await world.get("Revision", "web-00001"), c.READY)[1] == "Deploying"


async def test_closing_the_loop_cancels_its_retries(running):
    world, ctl = running
    world.runtime.errors[(NS, "web-00001")] = RuntimeError("the runtime is down")
    await world.create(service())
    await settled(ctl)
    handles = list(ctl.retry_handles)
    assert len(handles) == 1
    ctl.close()
    assert all(h.cancelled() for h in handles)


async def test_one_objects_failure_does_not_stop_the_others(running):
    world, ctl = running
    world.runtime.errors[(NS, "bad-00001")] = RuntimeError("boom")
    await world.create(service("bad"))
    await world.create(service("good"))
    await settled(ctl)
    assert ("ensure", NS, "good-00001", 1) in world.runtime.calls
    assert cond(await world.get("Revision", "good-00001"), c.READY)[1] == "Deploying"
    assert list(ctl.failures) == [("Revision", NS, "bad-00001")]


async def test_a_key_whose_object_is_gone_is_no_work(running):
    world, ctl = running
    ctl.enqueue("Service", NS, "ghost")
    await settled(ctl)
    assert world.store.writes == [] and ctl.failures == {}


async def test_a_platform_config_change_reconciles_everything_again(running):
    world, ctl = running
    await world.create(service())
    await settled(ctl)
    world.runtime.set_state(NS, "web-00001", ready_pods(1))
    await settled(ctl)
    world.config = Config(domain=DomainConfig((DomainRule("new.example"),)))
    await world.store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config-domain", "namespace": "knative-serving"},
                              "data": {"new.example": ""}})
    await settled(ctl)
    assert (await world.get("Service", "web"))["status"]["url"] == "http://web.default.new.example"


async def test_a_failed_reconcile_is_logged_with_knatives_key_fields_as_one_json_line(running):
    import io
    import json
    import logging

    from dataplane.logs import JsonFormatter

    world, ctl = running
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("dataplane.controller")
    logger.addHandler(handler)
    try:
        world.runtime.errors[(NS, "bad-00001")] = RuntimeError("boom")
        await world.create(service("bad"))
        await settled(ctl)
    finally:
        logger.removeHandler(handler)
    (line,) = [line for line in stream.getvalue().splitlines() if "bad-00001" in line]
    doc = json.loads(line)
    assert doc["level"] == "error" and doc["logger"] == "dataplane.controller"
    assert doc["msg"] == f"reconciling Revision/{NS}/bad-00001 failed (retry in 0.05s)"
    assert (doc["knative.dev/key"], doc["knative.dev/kind"]) == (f"{NS}/bad-00001", "Revision")
    assert "RuntimeError: boom" in doc["stacktrace"]
