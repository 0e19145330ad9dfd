"""The Store rules the reconcilers rely on, checked against the in-memory store and the SQLite one alike.

The rules are ``dataplane.controller.store``'s: ``update`` replaces metadata and
spec and keeps status, bumping ``generation`` only on a spec change;
``update_status`` writes only status; a write that changes nothing is no write;
deleting an object deletes what it owns; listeners hear every change.
"""

from __future__ import annotations

import pytest

from dataplane.controller.store import Conflict, NotFound
from dataplane.platform.local.store import SqliteStore
from tests.unit.controller.memstore import MemoryStore

T0 = 1_800_000_000.0


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore(clock=lambda: T0)
        return
    s = SqliteStore(tmp_path / "state.db", clock=lambda: T0)
    yield s
    s.close()


@pytest.fixture
def events(store):
    seen: list[tuple[str, str, str]] = []
    store.subscribe(lambda event, obj: seen.append((event, obj["kind"], obj["metadata"]["name"])))
    return seen


def service(name="web", spec=None, **meta) -> dict:
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": name, "namespace": "default", **meta},
            "spec": spec if spec is not None else {"template": {"spec": {"containers": [{"image": "a"}]}}}}


def owned(kind: str, name: str, owner: dict) -> dict:
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
           "uid": owner["metadata"]["uid"], "controller": True}
    return {"apiVersion": "serving.knative.dev/v1", "kind": kind,
            "metadata": {"name": name, "namespace": owner["metadata"]["namespace"], "ownerReferences": [ref]}, "spec": {}}


async def test_create_fills_server_fields_and_returns_a_copy(store, events):
    made = await store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}})
    meta = made["metadata"]
    assert (meta["namespace"], meta["generation"], meta["creationTimestamp"]) == ("default", 1, "2027-01-15T08:00:00Z")
    assert meta["uid"] and meta["resourceVersion"] and made["status"] == {}
    made["data"]["k"] = "changed"
    assert (await store.get("ConfigMap", "default", "c"))["data"] == {"k": "v"}
    assert events == [("ADDED", "ConfigMap", "c")]


async def test_create_ignores_a_generation_the_caller_wrote(store):
    made = await store.create(service(generation=7))
    assert made["metadata"]["generation"] == 1


async def test_a_second_create_of_the_same_name_is_a_conflict(store, events):
    await store.create(service())
    with pytest.raises(Conflict) as err:
        await store.create(service(spec={"template": {}}))
    assert err.value.http_status == 409
    assert (await store.get("Service", "default", "web"))["spec"] == service()["spec"]
    assert events == [("ADDED", "Service", "web")]


async def test_the_same_name_in_another_namespace_or_kind_is_another_object(store):
    await store.create(service())
    await store.create({**service(), "metadata": {"name": "web", "namespace": "other"}})
    await store.create({**service(), "kind": "Route"})
    assert [o["metadata"]["namespace"] for o in await store.list("Service")] == ["default", "other"]
    assert [o["metadata"]["name"] for o in await store.list("Service", "other")] == ["web"]
    assert [o["kind"] for o in await store.list("Route", "default")] == ["Route"]


async def test_get_and_list_hand_out_copies_in_name_order(store):
    for name in ("b", "c", "a"):
        await store.create(service(name))
    listed = await store.list("Service", "default")
    assert [o["metadata"]["name"] for o in listed] == ["a", "b", "c"]
    listed[0]["spec"]["template"] = "changed"
    got = await store.get("Service", "default", "a")
    got["metadata"]["labels"] = {"x": "y"}
    again = await store.get("Service", "default", "a")
    assert again["spec"] == service()["spec"] and "labels" not in again["metadata"]
    assert await store.get("Service", "default", "missing") is None
    assert await store.list("Service", "nowhere") == []


async def test_peek_shows_the_stored_objects(store):
    await store.create(service("a"))
    await store.create(service("b"))
    await store.create({**service("c"), "metadata": {"name": "c", "namespace": "other"}})
    assert sorted(o["metadata"]["name"] for o in store.peek("Service")) == ["a", "b", "c"]
    assert sorted(o["metadata"]["name"] for o in store.peek("Service", "default")) == ["a", "b"]


# update: (what the caller changes, generation after, whether it is a write at all)
UPDATES = [
    pytest.param(lambda o: o["spec"].update(template={"spec": {"containers": [{"image": "b"}]}}), 2, True, id="spec"),
    pytest.param(lambda o: o["metadata"].update(labels={"team": "x"}), 1, True, id="labels"),
    pytest.param(lambda o: o["metadata"].update(annotations={"a": "b"}), 1, True, id="annotations"),
    pytest.param(lambda o: o.update(status={"observedGeneration": 99}), 1, False, id="status-ignored"),
    pytest.param(lambda o: o["metadata"].update(uid="forged", creationTimestamp="1970-01-01T00:00:00Z"), 1, False,
                 id="server-fields-kept"),
    pytest.param(lambda o: None, 1, False, id="nothing"),
]


@pytest.mark.parametrize(("change", "generation", "written"), UPDATES)
async def test_update_replaces_metadata_and_spec_and_keeps_status(store, events, change, generation, written):
    made = await store.create(service())
    made = await store.update_status({**made, "status": {"observedGeneration": 1, "url": "http://web"}})
    events.clear()
    change(made)
    updated = await store.update(made)
    got = await store.get("Service", "default", "web")
    assert updated == got
    assert got["status"] == {"observedGeneration": 1, "url": "http://web"}
    assert got["metadata"]["generation"] == generation
    assert got["metadata"]["uid"] != "forged" and got["metadata"]["creationTimestamp"] == "2027-01-15T08:00:00Z"
    assert got["spec"] == made["spec"] and got["metadata"].get("labels") == made["metadata"].get("labels")
    assert events == ([("MODIFIED", "Service", "web")] if written else [])
    changed_rv = got["metadata"]["resourceVersion"] != made["metadata"]["resourceVersion"]
    assert changed_rv == written


async def test_update_drops_labels_the_caller_removed(store):
    made = await store.create(service(labels={"a": "1", "b": "2"}))
    del made["metadata"]["labels"]["a"]
    await store.update(made)
    assert (await store.get("Service", "default", "web"))["metadata"]["labels"] == {"b": "2"}


async def test_each_spec_change_bumps_the_generation_once(store):
    made = await store.create(service())
    for image, generation in (("b", 2), ("b", 2), ("c", 3)):
        made["spec"]["template"]["spec"]["containers"][0]["image"] = image
        made = await store.update(made)
        assert made["metadata"]["generation"] == generation


async def test_update_with_a_stale_resource_version_keeps_the_latest_status(store, events):
    stale = await store.create(service())
    await store.update_status({**stale, "status": {"observedGeneration": 1}})
    stale["metadata"]["labels"] = {"team": "x"}
    updated = await store.update(stale)
    assert updated["status"] == {"observedGeneration": 1}
    assert updated["metadata"]["labels"] == {"team": "x"}


async def test_an_update_that_changes_nothing_is_no_write_whatever_resource_version_it_carries(store, events):
    stale = await store.create(service())
    latest = await store.update_status({**stale, "status": {"observedGeneration": 1}})
    events.clear()
    assert await store.update(stale) == latest
    assert events == []


async def test_update_status_writes_only_status(store, events):
    made = await store.create(service(labels={"a": "1"}))
    events.clear()
    forged = {**made, "metadata": {**made["metadata"], "labels": {"b": "2"}, "generation": 5}, "spec": {"x": 1},
              "status": {"observedGeneration": 1}}
    written = await store.update_status(forged)
    got = await store.get("Service", "default", "web")
    assert written == got
    assert (got["metadata"]["labels"], got["metadata"]["generation"], got["spec"]) == ({"a": "1"}, 1, service()["spec"])
    assert got["status"] == {"observedGeneration": 1}
    assert events == [("MODIFIED", "Service", "web")]
    await store.update_status(forged)  # the same status again: no write
    assert events == [("MODIFIED", "Service", "web")]


@pytest.mark.parametrize("write", ["update", "update_status"])
async def test_writes_to_a_missing_object_are_not_found(store, write):
    with pytest.raises(NotFound) as err:
        await getattr(store, write)(service())
    assert err.value.http_status == 404
    assert str(err.value) == 'services.serving.knative.dev "web" not found'
    assert await store.get("Service", "default", "web") is None


async def test_resource_version_grows_with_each_write(store):
    made = await store.create(service())
    versions = [made["metadata"]["resourceVersion"]]
    made["metadata"]["labels"] = {"a": "1"}
    versions.append((await store.update(made))["metadata"]["resourceVersion"])
    versions.append((await store.update_status({**made, "status": {"x": 1}}))["metadata"]["resourceVersion"])
    other = await store.create(service("other"))
    versions.append(other["metadata"]["resourceVersion"])
    assert [int(v) for v in versions] == sorted(int(v) for v in versions) and len(set(versions)) == 4


async def test_delete_returns_the_object_once(store, events):
    await store.create(service())
    gone = await store.delete("Service", "default", "web")
    assert gone["metadata"]["name"] == "web"
    assert await store.get("Service", "default", "web") is None
    assert await store.delete("Service", "default", "web") is None
    assert events == [("ADDED", "Service", "web"), ("DELETED", "Service", "web")]


async def test_delete_takes_what_the_object_owns_transitively_and_nothing_else(store, events):
    svc = await store.create(service())
    other = await store.create(service("other"))
    cfg = await store.create(owned("Configuration", "web", svc))
    await store.create(owned("Route", "web", svc))
    rev = await store.create(owned("Revision", "web-00001", cfg))
    await store.create(owned("ReplicaSet", "web-00001-deployment", rev))
    await store.create(owned("Revision", "other-00001", other))
    by_name_only = owned("Revision", "stranger", svc)
    by_name_only["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    await store.create(by_name_only)
    events.clear()
    await store.delete("Service", "default", "web")
    assert sorted(events) == [("DELETED", kind, name) for kind, name in sorted(
        [("Service", "web"), ("Configuration", "web"), ("Route", "web"), ("Revision", "web-00001"), ("ReplicaSet", "web-00001-deployment")])]
    left = {(k, o["metadata"]["name"]) for k in ("Service", "Revision", "ReplicaSet", "Configuration", "Route") for o in await store.list(k)}
    assert left == {("Service", "other"), ("Revision", "other-00001"), ("Revision", "stranger")}


async def test_listeners_get_copies_and_can_leave(store):
    seen = []

    def listener(event, obj):
        seen.append(event)
        obj["spec"]["template"] = "changed by a listener"

    unsubscribe = store.subscribe(listener)
    made = await store.create(service())
    assert (await store.get("Service", "default", "web"))["spec"] == service()["spec"]
    unsubscribe()
    made["metadata"]["labels"] = {"a": "b"}
    await store.update(made)
    assert seen == ["ADDED"]


async def test_a_listener_sees_the_write_before_it_returns(store):
    """The controller enqueues from listeners: the event must carry the object as written."""
    heard = []
    store.subscribe(lambda event, obj: heard.append((event, obj["metadata"]["resourceVersion"], obj["status"])))
    made = await store.create(service())
    assert heard == [("ADDED", made["metadata"]["resourceVersion"], {})]
    written = await store.update_status({**made, "status": {"observedGeneration": 1}})
    assert heard[-1] == ("MODIFIED", written["metadata"]["resourceVersion"], {"observedGeneration": 1})
