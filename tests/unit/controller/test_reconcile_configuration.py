"""The Configuration reconciler (knative-reference §4.4, §4.10): one Revision per generation, named for it;
latestCreated and latestReady; and revisions collected by ``config-gc``."""

from __future__ import annotations

import pytest

from dataplane.api import GCConfig, keys
from dataplane.api import conditions as c
from dataplane.api.config import Config
from dataplane.api.timestamps import format_timestamp
from tests.unit.controller.world import NS, T0, World, cond, ready_status, service

HOUR = 3600.0


async def made(world: World, svc: dict) -> dict:
    """The Service's Configuration, as the Service reconciler writes it."""
    await world.create(svc)
    await world.reconcile("Service", svc["metadata"]["name"])
    return await world.get("Configuration", svc["metadata"]["name"])


async def new_generation(world: World, image: str, name: str = "web", template_name: str | None = None) -> None:
    """The user changes the Service's template; the Service reconciler passes it on."""
    svc = await world.get("Service", name)
    svc["spec"]["template"] = service(name, image, template_name=template_name)["spec"]["template"]
    await world.store.update(svc)
    await world.reconcile("Service", name)


# (Service, generations to reach, expected revision name)
NAMES = [
    pytest.param(service(), 1, "web-00001", id="first generation"),
    pytest.param(service(), 3, "web-00003", id="numbers track the generation"),
    pytest.param(service(template_name="web-blue"), 1, "web-blue", id="name chosen by the user"),
]


@pytest.mark.parametrize(("svc", "generation", "expected"), NAMES)
async def test_a_revision_is_made_for_the_generation_and_named_for_it(svc, generation, expected):
    world = World()
    await made(world, svc)
    for g in range(2, generation + 1):
        await new_generation(world, f"image-{g}")
    configuration = await world.reconcile("Configuration", "web")
    assert await world.names("Revision") == [expected]
    rev = await world.get("Revision", expected)
    cfg_uid = configuration["metadata"]["uid"]
    assert rev["metadata"]["labels"] == {
        keys.CONFIGURATION_LABEL: "web", keys.CONFIGURATION_GENERATION_LABEL: str(generation), keys.CONFIGURATION_UID_LABEL: cfg_uid,
        keys.SERVICE_LABEL: "web", keys.SERVICE_UID_LABEL: "uid-1", keys.ROUTING_STATE_LABEL: keys.ROUTING_STATE_ACTIVE,
    }
    assert rev["metadata"]["annotations"] == {keys.ROUTES_ANNOTATION: "web", keys.ROUTING_STATE_MODIFIED_ANNOTATION: format_timestamp(T0)}
    assert rev["metadata"]["ownerReferences"][0]["uid"] == cfg_uid
    assert rev["spec"] == configuration["spec"]["template"]["spec"]
    assert configuration["status"]["latestCreatedRevisionName"] == expected
    assert cond(configuration, c.READY)[0] == "Unknown"


async def test_a_configuration_no_route_names_starts_its_revision_pending_and_credits_its_creator():
    world = World()
    await world.create({"apiVersion": keys.API_VERSION, "kind": "Configuration",
                        "metadata": {"name": "solo", "namespace": NS, "annotations": {keys.UPDATER_ANNOTATION: "alice"}},
                        "spec": {"template": service("solo")["spec"]["template"]}})
    await world.reconcile("Configuration", "solo")
    rev = await world.get("Revision", "solo-00001")
    assert rev["metadata"]["labels"][keys.ROUTING_STATE_LABEL] == keys.ROUTING_STATE_PENDING
    assert rev["metadata"]["annotations"][keys.CREATOR_ANNOTATION] == "alice"
    assert keys.SERVICE_LABEL not in rev["metadata"]["labels"]


async def test_reconciling_again_makes_no_second_revision_and_writes_nothing():
    world = World()
    await made(world, service())
    await world.reconcile("Configuration", "web")
    writes = len(world.store.writes)
    await world.reconcile("Configuration", "web")
    assert await world.names("Revision") == ["web-00001"] and len(world.store.writes) == writes


def revision_ready(status: str, reason: str = "", message: str = "") -> dict:
    out = ready_status("Revision")
    if status != c.TRUE:
        out = c.mark(out, "Revision", c.CONTAINER_HEALTHY, status, reason, message, now=T0)
    return out


# revisions' Ready (by generation 1, 2, 3) -> latestCreated, latestReady, the Configuration's Ready
LATEST = [
    pytest.param(["Unknown"], "web-00001", None, ("Unknown", "", ""), id="first revision on its way"),
    pytest.param(["True"], "web-00001", "web-00001", ("True", "", ""), id="first revision ready"),
    pytest.param(["True", "Unknown"], "web-00002", "web-00001", ("Unknown", "", ""), id="new revision on its way: traffic stays"),
    pytest.param(["True", "True"], "web-00002", "web-00002", ("True", "", ""), id="new revision ready"),
    pytest.param(["True", "False"], "web-00002", "web-00001",
                 ("False", "RevisionFailed", 'Revision "web-00002" failed with message: Container failed with: boom.'),
                 id="new revision failed: latestReady stays on the old one"),
    pytest.param(["False"], "web-00001", None,
                 ("False", "RevisionFailed", 'Revision "web-00001" failed with message: Container failed with: boom.'),
                 id="only revision failed"),
    pytest.param(["True", "True", "Unknown"], "web-00003", "web-00002", ("Unknown", "", ""), id="the newest ready revision by generation"),
    pytest.param(["True", "False", "True"], "web-00003", "web-00003", ("True", "", ""), id="a later success heals a failure"),
]


@pytest.mark.parametrize(("readiness", "latest_created", "latest_ready", "ready"), LATEST)
async def test_latest_created_and_latest_ready(readiness, latest_created, latest_ready, ready):
    world = World()
    await made(world, service())
    for generation, state in enumerate(readiness, start=1):
        if generation > 1:
            await new_generation(world, f"image-{generation}")
        await world.reconcile("Configuration", "web")
        name = f"web-{generation:05d}"
        if state != "Unknown":
            await world.set_status("Revision", name, revision_ready(state, "ExitCode1", "Container failed with: boom"))
    configuration = await world.reconcile("Configuration", "web")
    assert configuration["status"]["latestCreatedRevisionName"] == latest_created
    assert configuration["status"].get("latestReadyRevisionName") == latest_ready
    assert cond(configuration, c.READY) == ready
    assert configuration["status"]["observedGeneration"] == len(readiness)


async def test_a_revision_that_does_not_listen_says_so_on_its_configuration():
    world = World()
    await made(world, service())
    await world.reconcile("Configuration", "web")
    status = c.mark(ready_status("Revision"), "Revision", c.CONTAINER_HEALTHY, c.UNKNOWN, "ContainerNotListening", "nothing on 8080", now=T0)
    await world.set_status("Revision", "web-00001", status)
    configuration = await world.reconcile("Configuration", "web")
    assert cond(configuration, c.READY) == ("Unknown", "ContainerNotListening", "nothing on 8080")


def gc(**limits) -> Config:
    return Config(gc=GCConfig(**{"retain_since_create_time": None, "retain_since_last_active_time": None,
                                 "min_non_active_revisions": 0, "max_non_active_revisions": None, **limits}))


# config-gc, the revisions' routing states and ages (hours since routed to), their annotations -> what is collected
# generation 4 is latestReady (and active); each row lists generations 1-3
GC = [
    pytest.param(gc(max_non_active_revisions=1), ["reserve"] * 3, [30, 20, 10], {}, ["web-00001", "web-00002"], id="oldest beyond max"),
    pytest.param(gc(retain_since_create_time=1 * HOUR, retain_since_last_active_time=1 * HOUR, min_non_active_revisions=2),
                 ["reserve"] * 3, [30, 20, 10], {}, ["web-00001"], id="min keeps some stale ones"),
    pytest.param(gc(retain_since_create_time=1 * HOUR, retain_since_last_active_time=15 * HOUR), ["reserve"] * 3, [30, 20, 10], {},
                 ["web-00001", "web-00002"], id="stale by both durations"),
    pytest.param(gc(max_non_active_revisions=0), ["reserve", "active", "pending"], [30, 20, 10], {}, ["web-00001"],
                 id="only reserve revisions are collected"),
    pytest.param(gc(max_non_active_revisions=0), ["reserve"] * 3, [30, 20, 10], {1: {keys.NO_GC_ANNOTATION: "true"}},
                 ["web-00002", "web-00003"], id="no-gc annotation"),
    pytest.param(Config(), ["reserve"] * 3, [300, 200, 100], {}, [], id="Knative's defaults keep 20"),
    pytest.param(gc(), ["reserve"] * 3, [30, 20, 10], {}, [], id="every limit disabled"),
]


@pytest.mark.parametrize(("config", "states", "ages", "annotations", "collected"), GC)
async def test_revisions_are_collected_by_config_gc(config, states, ages, annotations, collected):
    world = World(config=config)
    world.clock.now = T0 - 400 * HOUR
    await made(world, service())
    for generation in (1, 2, 3, 4):
        if generation > 1:
            await new_generation(world, f"image-{generation}")
        await world.reconcile("Configuration", "web")
    for generation, (state, age) in enumerate(zip(states, ages), start=1):
        rev = await world.get("Revision", f"web-{generation:05d}")
        rev["metadata"]["labels"][keys.ROUTING_STATE_LABEL] = state
        rev["metadata"]["annotations"].update(annotations.get(generation, {}))
        rev["metadata"]["annotations"][keys.ROUTING_STATE_MODIFIED_ANNOTATION] = format_timestamp(T0 - age * HOUR)
        await world.store.update(rev)
    await world.set_status("Revision", "web-00004", ready_status("Revision"))
    world.clock.now = T0
    configuration = await world.reconcile("Configuration", "web")
    assert configuration["status"]["latestReadyRevisionName"] == "web-00004"
    names = {f"web-{g:05d}" for g in (1, 2, 3, 4)}
    assert set(await world.names("Revision")) == names - set(collected)
    assert [call for call in world.runtime.calls if call[0] == "delete"] == [("delete", NS, name) for name in collected]
