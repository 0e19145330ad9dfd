"""The Route reconciler (knative-reference §4.5): traffic resolved to revisions, tags and their URLs, splits,
the conditions of a route that cannot be resolved, domains, and the routing state of its revisions."""

from __future__ import annotations

import pytest

from dataplane.api import DomainConfig, DomainRule, keys
from dataplane.api import conditions as c
from dataplane.api.config import Config
from dataplane.api.timestamps import format_timestamp
from dataplane.controller import reconcilers
from tests.unit.controller.world import NS, T0, World, cond, ready_status

URL = "http://web.default.example.com"
NOT_READY = c.mark(ready_status("Revision"), "Revision", c.RESOURCES_AVAILABLE, c.UNKNOWN, "Deploying", now=T0)
FAILED = c.mark(ready_status("Revision"), "Revision", c.CONTAINER_HEALTHY, c.FALSE, "ExitCode1", "boom", now=T0)


def revision(name: str, status: dict | None, config: str = "web", state: str = keys.ROUTING_STATE_PENDING) -> dict:
    labels = {keys.CONFIGURATION_LABEL: config, keys.ROUTING_STATE_LABEL: state}
    return {"apiVersion": keys.API_VERSION, "kind": "Revision", "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"containers": [{"image": "a"}]}, "status": status or {}}


def configuration(name: str, latest_created: str, latest_ready: str | None) -> dict:
    status = {"latestCreatedRevisionName": latest_created}
    if latest_ready:
        status["latestReadyRevisionName"] = latest_ready
    return {"apiVersion": keys.API_VERSION, "kind": "Configuration", "metadata": {"name": name, "namespace": NS},
            "spec": {"template": {}}, "status": status}


def route(traffic: list[dict], labels: dict | None = None) -> dict:
    return {"apiVersion": keys.API_VERSION, "kind": "Route", "metadata": {"name": "web", "namespace": NS, "labels": labels or {}},
            "spec": {"traffic": traffic}}


async def world_with(*objects: dict, config: Config = Config()) -> World:
    """web-00001 and web-00002 ready (web's latest), web-00003 on its way, bad-00001 failed, new waiting; and ``objects``."""
    world = World(config=config)
    for obj in (
        revision("web-00001", ready_status("Revision")), revision("web-00002", ready_status("Revision")),
        revision("web-00003", NOT_READY), revision("bad-00001", FAILED, config="bad"),
        configuration("web", "web-00002", "web-00002"), configuration("new", "new-00001", None),
        configuration("bad", "bad-00001", None), revision("new-00001", NOT_READY, config="new"),
        *objects,
    ):
        await world.create(obj)
    return world


def latest(config: str = "web", percent: int | None = 100, **extra) -> dict:
    return {"configurationName": config, "latestRevision": True, "percent": percent, **extra}


def pinned(name: str, percent: int | None, **extra) -> dict:
    return {"revisionName": name, "latestRevision": False, "percent": percent, **extra}


def status_entry(name: str, percent: int | None, latest_revision: bool = False, tag: str | None = None) -> dict:
    out = {"revisionName": name, "latestRevision": latest_revision}
    if percent is not None:
        out["percent"] = percent
    if tag:
        out.update(tag=tag, url=f"http://{tag}-web.default.example.com")
    return out


# spec.traffic -> status.traffic
RESOLVED = [
    pytest.param([latest()], [status_entry("web-00002", 100, True)], id="latestRevision follows latestReady"),
    pytest.param([pinned("web-00001", 70), pinned("web-00002", 30)], [status_entry("web-00001", 70), status_entry("web-00002", 30)],
                 id="percent split"),
    pytest.param([pinned("web-00001", 0, tag="old"), latest(tag="current")],
                 [status_entry("web-00001", 0, tag="old"), status_entry("web-00002", 100, True, tag="current")],
                 id="tags get their own URL, a 0% tag too"),
    pytest.param([pinned("web-00001", 50), pinned("web-00001", 50)], [status_entry("web-00001", 100)],
                 id="same revision and tag merged, percents summed"),
    pytest.param([pinned("web-00001", 50, tag="a"), pinned("web-00001", 50, tag="b")],
                 [status_entry("web-00001", 50, tag="a"), status_entry("web-00001", 50, tag="b")], id="different tags stay apart"),
    pytest.param([pinned("web-00002", 40), latest(percent=60)], [status_entry("web-00002", 40), status_entry("web-00002", 60, True)],
                 id="the same revision pinned and as latest stay apart"),
]


@pytest.mark.parametrize(("traffic", "expected"), RESOLVED)
async def test_traffic_is_resolved_to_revisions(traffic, expected):
    world = await world_with(route(traffic))
    got = await world.reconcile("Route", "web")
    assert got["status"]["traffic"] == expected
    assert (got["status"]["url"], got["status"]["address"]) == (URL, {"url": "http://web.default.svc.cluster.local"})
    for type_ in (c.ALL_TRAFFIC_ASSIGNED, c.INGRESS_READY, c.READY):
        assert cond(got, type_) == ("True", "", "")
    assert got["status"]["observedGeneration"] == 1


# spec.traffic -> AllTrafficAssigned (and Ready) status, reason, message
UNRESOLVED = [
    pytest.param([pinned("web-00009", 100)], ("False", "RevisionMissing", 'Revision "web-00009" referenced in traffic not found.'),
                 id="missing revision"),
    pytest.param([pinned("web-00003", 100)], ("Unknown", "RevisionMissing", 'Revision "web-00003" is not yet ready.'),
                 id="revision not ready yet"),
    pytest.param([pinned("bad-00001", 100)], ("False", "RevisionMissing", 'Revision "bad-00001" failed to become ready.'),
                 id="failed revision"),
    pytest.param([latest("new")], ("Unknown", "RevisionMissing", 'Configuration "new" is waiting for a Revision to become ready.'),
                 id="configuration waiting for its first revision"),
    pytest.param([latest("bad")], ("False", "RevisionMissing", 'Configuration "bad" does not have any ready Revision.'),
                 id="configuration whose only revision failed"),
    pytest.param([latest("gone")], ("False", "ConfigurationMissing", 'Configuration "gone" referenced in traffic not found.'),
                 id="missing configuration"),
    pytest.param([pinned("web-00003", 50), pinned("web-00009", 50)],
                 ("False", "RevisionMissing", 'Revision "web-00009" referenced in traffic not found.'), id="a failure wins over a wait"),
    pytest.param([latest(percent=90), pinned("web-00009", 10)],
                 ("False", "RevisionMissing", 'Revision "web-00009" referenced in traffic not found.'),
                 id="one bad target holds back the whole route"),
]


@pytest.mark.parametrize(("traffic", "expected"), UNRESOLVED)
async def test_traffic_that_cannot_be_resolved_says_why(traffic, expected):
    world = await world_with(route(traffic))
    got = await world.reconcile("Route", "web")
    assert cond(got, c.ALL_TRAFFIC_ASSIGNED) == expected
    assert cond(got, c.READY) == expected
    assert "traffic" not in got["status"] and "url" not in got["status"]


async def test_a_route_keeps_the_traffic_it_had_while_a_new_target_cannot_be_resolved():
    world = await world_with(route([latest()]))
    before = await world.reconcile("Route", "web")
    changed = await world.get("Route", "web")
    changed["spec"]["traffic"] = [pinned("web-00003", 100)]
    await world.store.update(changed)
    after = await world.reconcile("Route", "web")
    assert (after["status"]["traffic"], after["status"]["url"]) == (before["status"]["traffic"], URL)
    assert cond(after, c.ALL_TRAFFIC_ASSIGNED)[:2] == ("Unknown", "RevisionMissing")
    assert after["status"]["observedGeneration"] == 2


# route labels, config-domain -> status.url
DOMAINS = [
    pytest.param({}, Config(), URL, id="default domain"),
    pytest.param({keys.VISIBILITY_LABEL: keys.VISIBILITY_CLUSTER_LOCAL}, Config(), "http://web.default.svc.cluster.local",
                 id="cluster-local visibility"),
    pytest.param({"app": "internal"}, Config(domain=DomainConfig((DomainRule("example.org"), DomainRule("in.example", (("app", "internal"),))))),
                 "http://web.default.in.example", id="a selector that matches"),
    pytest.param({"app": "other"}, Config(domain=DomainConfig((DomainRule("example.org"), DomainRule("in.example", (("app", "internal"),))))),
                 "http://web.default.example.org", id="a selector that does not"),
]


@pytest.mark.parametrize(("labels", "config", "url"), DOMAINS)
async def test_the_url_comes_from_config_domain(labels, config, url):
    world = await world_with(route([latest(tag="t")], labels), config=config)
    got = await world.reconcile("Route", "web")
    host = url.removeprefix("http://")
    assert (got["status"]["url"], got["status"]["traffic"][0]["url"]) == (url, f"http://t-{host}")


async def labels_after(world: World) -> dict[str, tuple[str, str | None]]:
    out = {}
    for rev in await world.store.list("Revision", NS):
        meta = rev["metadata"]
        out[meta["name"]] = (meta["labels"][keys.ROUTING_STATE_LABEL], (meta.get("annotations") or {}).get(keys.ROUTING_STATE_MODIFIED_ANNOTATION))
    return out


async def test_routed_revisions_are_active_and_those_left_behind_reserve():
    world = await world_with(route([pinned("web-00001", 50), latest(percent=50)]))
    await world.reconcile("Route", "web")
    stamp = format_timestamp(T0)
    assert await labels_after(world) == {
        "web-00001": ("active", stamp), "web-00002": ("active", stamp), "web-00003": ("pending", None),
        "bad-00001": ("pending", None), "new-00001": ("pending", None),
    }
    world.clock.now = T0 + 60
    changed = await world.get("Route", "web")
    changed["spec"]["traffic"] = [latest()]
    await world.store.update(changed)
    await world.reconcile("Route", "web")
    labels = await labels_after(world)
    assert labels["web-00001"] == ("reserve", format_timestamp(T0 + 60))
    assert labels["web-00002"] == ("active", stamp)  # unchanged: no new timestamp
    assert labels["web-00003"] == ("pending", None)  # never routed: not reserve


async def test_a_route_that_cannot_be_resolved_changes_no_routing_state():
    world = await world_with(route([latest(percent=90), pinned("web-00009", 10)]))
    await world.reconcile("Route", "web")
    assert {state for state, _ in (await labels_after(world)).values()} == {"pending"}


@pytest.mark.parametrize(
    "said", [("False", "GatewayMissing", "Gateway gw/x does not exist."), ("Unknown", "IngressNotConfigured", "waiting")]
)
async def test_ingress_readiness_is_what_the_ingress_says_of_the_resolved_route(said):
    world = await world_with(route([latest()]))
    seen = []

    async def ingress(programmed: dict) -> tuple[str, str, str]:
        seen.append(programmed)
        return said

    obj = await world.get("Route", "web")
    await reconcilers.reconcile_route(world.store, obj, world.config, world.clock(), ingress=ingress)
    got = await world.get("Route", "web")
    assert cond(got, c.INGRESS_READY) == said and cond(got, c.READY) == said
    assert cond(got, c.ALL_TRAFFIC_ASSIGNED) == ("True", "", "")
    # the ingress was programmed with the traffic just resolved, before the status was stored
    (programmed,) = seen
    assert programmed["status"]["traffic"] == got["status"]["traffic"] and programmed["metadata"]["name"] == "web"


async def test_an_unresolved_route_leaves_the_ingress_as_it_was():
    world = await world_with(route([pinned("web-00009", 100)]))

    async def ingress(programmed: dict) -> tuple[str, str, str]:
        raise AssertionError("nothing to program")

    obj = await world.get("Route", "web")
    await reconcilers.reconcile_route(world.store, obj, world.config, world.clock(), ingress=ingress)
    assert cond(await world.get("Route", "web"), c.ALL_TRAFFIC_ASSIGNED)[:2] == ("False", "RevisionMissing")
