"""The Service reconciler (knative-reference §4.3): its Configuration and Route, drift clobbered back, status mirrored."""

from __future__ import annotations

import pytest

from dataplane.api import keys
from dataplane.api import conditions as c
from tests.unit.controller.world import NS, World, cond, ready_status, service

LAST_APPLIED = keys.LAST_APPLIED_ANNOTATION
ROLLOUT = keys.ROLLOUT_DURATION_ANNOTATION


def owner(uid: str) -> list[dict]:
    return [{"apiVersion": keys.API_VERSION, "kind": "Service", "name": "web", "controller": True, "blockOwnerDeletion": True, "uid": uid}]


# (service, expected Configuration labels, annotations; expected Route annotations, traffic)
CHILDREN = [
    pytest.param(
        service(),
        {keys.SERVICE_LABEL: "web", keys.SERVICE_UID_LABEL: "uid-1"}, {keys.ROUTES_ANNOTATION: "web"},
        {}, [{"configurationName": "web", "latestRevision": True, "percent": 100}],
        id="defaults: all traffic to the latest revision",
    ),
    pytest.param(
        service(labels={"team": "a"}, annotations={LAST_APPLIED: "{}", ROLLOUT: "60s", "note": "n"}),
        {"team": "a", keys.SERVICE_LABEL: "web", keys.SERVICE_UID_LABEL: "uid-1"}, {"note": "n", keys.ROUTES_ANNOTATION: "web"},
        {"note": "n", ROLLOUT: "60s"}, [{"configurationName": "web", "latestRevision": True, "percent": 100}],
        id="last-applied dropped from both, rollout-duration kept for the Route only",
    ),
    pytest.param(
        service(traffic=[{"revisionName": "web-00001", "percent": 80, "tag": "old"}, {"latestRevision": True, "percent": 20, "tag": "new"}]),
        {keys.SERVICE_LABEL: "web", keys.SERVICE_UID_LABEL: "uid-1"}, {keys.ROUTES_ANNOTATION: "web"},
        {}, [{"revisionName": "web-00001", "percent": 80, "tag": "old", "latestRevision": False},
             {"configurationName": "web", "latestRevision": True, "percent": 20, "tag": "new"}],
        id="targets without a revision name follow the Service's Configuration",
    ),
]


@pytest.mark.parametrize(("svc", "cfg_labels", "cfg_annotations", "route_annotations", "traffic"), CHILDREN)
async def test_a_service_makes_its_configuration_and_route(svc, cfg_labels, cfg_annotations, route_annotations, traffic):
    world = World()
    await world.create(svc)
    await world.reconcile("Service", "web")
    configuration = await world.get("Configuration", "web")
    route = await world.get("Route", "web")
    assert configuration["metadata"]["labels"] == cfg_labels
    assert configuration["metadata"]["annotations"] == cfg_annotations
    assert configuration["spec"] == {"template": svc["spec"]["template"]}
    assert route["metadata"]["labels"] == {k: v for k, v in cfg_labels.items() if k != keys.SERVICE_UID_LABEL}
    assert route["metadata"]["annotations"] == route_annotations
    assert route["spec"]["traffic"] == traffic
    assert configuration["metadata"]["ownerReferences"] == route["metadata"]["ownerReferences"] == owner("uid-1")


# drift made by hand in a child, reverted by the next reconcile
DRIFT = [
    pytest.param("Configuration", lambda o: o["spec"]["template"]["spec"]["containers"][0].update(image="evil"), id="configuration spec"),
    pytest.param("Configuration", lambda o: o["metadata"]["labels"].pop(keys.SERVICE_LABEL), id="configuration labels"),
    pytest.param("Configuration", lambda o: o["metadata"].update(ownerReferences=[]), id="configuration owner"),
    pytest.param("Route", lambda o: o["spec"].update(traffic=[{"revisionName": "x", "percent": 100}]), id="route traffic"),
    pytest.param("Route", lambda o: o["metadata"].update(annotations={"added": "by hand"}), id="route annotations"),
]


@pytest.mark.parametrize(("kind", "drift"), DRIFT)
async def test_drift_in_a_child_is_clobbered_back(kind, drift):
    world = World()
    await world.create(service())
    await world.reconcile("Service", "web")
    before = await world.get(kind, "web")
    drifted = await world.get(kind, "web")
    drift(drifted)
    await world.store.update(drifted)
    await world.reconcile("Service", "web")
    after = await world.get(kind, "web")
    for part in ("spec",):
        assert after[part] == before[part]
    for field in ("labels", "annotations", "ownerReferences"):
        assert after["metadata"].get(field) == before["metadata"].get(field)


async def test_a_second_reconcile_writes_nothing():
    world = World()
    await world.create(service())
    await world.reconcile("Service", "web")
    writes = len(world.store.writes)
    await world.reconcile("Service", "web")
    assert len(world.store.writes) == writes


async def test_a_traffic_only_change_leaves_the_configuration_generation_alone():
    """No new revision for a traffic change: the Configuration's spec is untouched (§4.4)."""
    world = World()
    svc = await world.create(service())
    await world.reconcile("Service", "web")
    svc["spec"] = service(traffic=[{"revisionName": "web-00001", "percent": 100}])["spec"]
    await world.store.update(svc)
    await world.reconcile("Service", "web")
    assert (await world.get("Configuration", "web"))["metadata"]["generation"] == 1
    route = await world.get("Route", "web")
    assert (route["metadata"]["generation"], route["spec"]["traffic"]) == (2, [{"revisionName": "web-00001", "percent": 100, "latestRevision": False}])


CONFIG_READY = ready_status("Configuration", latestCreatedRevisionName="web-00002", latestReadyRevisionName="web-00001")
ROUTE_READY = ready_status("Route", url="http://web.default.example.com", address={"url": "http://web.default.svc.cluster.local"},
                           traffic=[{"revisionName": "web-00001", "latestRevision": True, "percent": 100}])
CONFIG_FAILED = c.set_condition(CONFIG_READY, c.READY, c.FALSE, "RevisionFailed", 'Revision "web-00002" failed with message: x.', now=0)
ROUTE_WAITING = c.mark(ROUTE_READY, "Route", c.ALL_TRAFFIC_ASSIGNED, c.UNKNOWN, "RevisionMissing", "not yet", now=0)

# (Configuration status, Route status) -> the Service's ConfigurationsReady, RoutesReady, Ready
STATUSES = [
    pytest.param(None, None, ("Unknown", "OutOfDate"), ("Unknown", "OutOfDate"), "Unknown", id="children not reconciled yet"),
    pytest.param(CONFIG_READY, ROUTE_READY, ("True", ""), ("True", ""), "True", id="both ready"),
    pytest.param(CONFIG_FAILED, ROUTE_READY, ("False", "RevisionFailed"), ("True", ""), "False", id="configuration failed"),
    pytest.param(CONFIG_READY, ROUTE_WAITING, ("True", ""), ("Unknown", "RevisionMissing"), "Unknown", id="route waiting"),
    pytest.param({**CONFIG_READY, "observedGeneration": 0}, ROUTE_READY, ("Unknown", "OutOfDate"), ("True", ""), "Unknown",
                 id="configuration generation not observed"),
]


@pytest.mark.parametrize(("cfg_status", "route_status", "configurations_ready", "routes_ready", "ready"), STATUSES)
async def test_the_service_mirrors_its_children(cfg_status, route_status, configurations_ready, routes_ready, ready):
    world = World()
    await world.create(service())
    await world.reconcile("Service", "web")
    if cfg_status is not None:
        await world.set_status("Configuration", "web", cfg_status)
    if route_status is not None:
        await world.set_status("Route", "web", route_status)
    svc = await world.reconcile("Service", "web")
    assert cond(svc, c.CONFIGURATIONS_READY)[:2] == configurations_ready
    assert cond(svc, c.ROUTES_READY)[:2] == routes_ready
    assert cond(svc, c.READY)[0] == ready
    assert svc["status"]["observedGeneration"] == 1
    if cfg_status is not None and cfg_status["observedGeneration"] == 1:
        assert (svc["status"]["latestCreatedRevisionName"], svc["status"]["latestReadyRevisionName"]) == ("web-00002", "web-00001")
    if route_status is not None:
        assert svc["status"]["url"] == "http://web.default.example.com"
        assert svc["status"]["traffic"] == route_status["traffic"]
        assert svc["status"]["address"] == {"url": "http://web.default.svc.cluster.local"}


async def test_the_failed_configurations_message_reaches_the_service():
    world = World()
    await world.create(service())
    await world.reconcile("Service", "web")
    await world.set_status("Configuration", "web", CONFIG_FAILED)
    svc = await world.reconcile("Service", "web")
    assert cond(svc, c.READY) == ("False", "RevisionFailed", 'Revision "web-00002" failed with message: x.')


async def test_deleting_the_service_deletes_what_it_made():
    world = World()
    await world.create(service())
    await world.reconcile("Service", "web")
    await world.reconcile("Configuration", "web")
    await world.store.delete("Service", NS, "web")
    assert [await world.names(kind) for kind in ("Service", "Configuration", "Route", "Revision")] == [[], [], [], []]
    assert world.runtime.calls[-1] == ("delete", NS, "web-00001")
