"""KubernetesStore over the fake API server: the Store contract, conflicts retried, caches as informers."""

from __future__ import annotations

import copy

import pytest

from dataplane.api import keys
from dataplane.controller.store import Conflict, NotFound
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.store import KubernetesStore
from tests.unit.kubernetes.support import eventually


def configuration(name: str = "hello", image: str = "img:1") -> dict:
    return {
        "apiVersion": keys.API_VERSION,
        "kind": keys.CONFIGURATION,
        "metadata": {"name": name, "namespace": "default", "labels": {"team": "a"}},
        "spec": {"template": {"spec": {"containers": [{"image": image}]}}},
    }


@pytest.fixture
async def store(kube):
    store = KubernetesStore(kube, "knative-serving", backoff=(0.05, 0.2))
    store.start()
    await store.wait_synced()
    yield store
    await store.close()


async def test_create_get_list_and_conflict_on_existing(store):
    created = await store.create(configuration())
    assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
    # the write is visible at once, before its watch event arrives
    assert (await store.get(keys.CONFIGURATION, "default", "hello"))["metadata"]["uid"] == created["metadata"]["uid"]
    assert [o["metadata"]["name"] for o in await store.list(keys.CONFIGURATION, "default")] == ["hello"]
    assert await store.list(keys.CONFIGURATION, "other") == []
    with pytest.raises(Conflict, match="already exists"):
        await store.create(configuration())


async def test_update_bumps_generation_on_spec_change_and_leaves_status(store, fake):
    created = await store.create(configuration())
    with_status = await store.update_status({**created, "status": {"observedGeneration": 1}})
    assert with_status["status"] == {"observedGeneration": 1}
    assert fake.count("PUT", "/apis/serving.knative.dev/v1/namespaces/default/configurations/hello/status") == 1

    changed = copy.deepcopy(with_status)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
    changed["status"] = {"ignored": True}
    updated = await store.update(changed)
    assert updated["metadata"]["generation"] == 2
    assert updated["status"] == {"observedGeneration": 1}

    relabelled = copy.deepcopy(updated)
    relabelled["metadata"]["labels"] = {"team": "b"}
    assert (await store.update(relabelled))["metadata"]["generation"] == 2  # metadata only


async def test_409_on_update_refetches_and_retries_with_the_callers_fields(store, fake):
    created = await store.create(configuration())
    # someone else writes in between: our copy's resourceVersion is stale now
    other = fake.get(r.CONFIGURATION, "default", "hello")
    other["metadata"]["annotations"] = {"someone": "else"}
    fake.put(r.CONFIGURATION, other)
    stale = copy.deepcopy(created)
    stale["metadata"]["labels"] = {"team": "b"}
    updated = await store.update(stale)
    assert updated["metadata"]["labels"] == {"team": "b"}
    assert fake.get(r.CONFIGURATION, "default", "hello")["metadata"]["labels"] == {"team": "b"}
    puts = fake.count("PUT", "/apis/serving.knative.dev/v1/namespaces/default/configurations/hello")
    assert puts == 2  # the stale attempt, then the retry on the latest version


async def test_409_on_status_is_retried_a_bounded_number_of_times(store, fake):
    created = await store.create(configuration())
    path = "/apis/serving.knative.dev/v1/namespaces/default/configurations/hello/status"
    fake.conflicts[path] = 2
    updated = await store.update_status({**created, "status": {"observedGeneration": 1}})
    assert updated["status"] == {"observedGeneration": 1}
    assert fake.count("PUT", path) == 3

    fake.conflicts[path] = store.conflict_retries + 1
    with pytest.raises(Conflict, match="has been modified"):
        await store.update_status({**updated, "status": {"observedGeneration": 2}})
    assert fake.count("PUT", path) == 3 + store.conflict_retries + 1


async def test_missing_objects_and_deletion_with_garbage_collection(store, fake):
    with pytest.raises(NotFound):
        await store.update(configuration("nope"))
    assert await store.delete(keys.CONFIGURATION, "default", "nope") is None
    config = await store.create(configuration())
    revision = {
        "apiVersion": keys.API_VERSION,
        "kind": keys.REVISION,
        "metadata": {
            "name": "hello-00001",
            "namespace": "default",
            "ownerReferences": [
                {
                    "apiVersion": keys.API_VERSION,
                    "kind": keys.CONFIGURATION,
                    "name": "hello",
                    "uid": config["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"image": "img:1"}]},
    }
    await store.create(revision)
    deleted = await store.delete(keys.CONFIGURATION, "default", "hello")
    assert deleted["metadata"]["name"] == "hello"
    assert ("DELETE", "/apis/serving.knative.dev/v1/namespaces/default/configurations/hello") in fake.requests
    await eventually(lambda: store.peek(keys.REVISION) == [])


async def test_watch_events_reach_listeners_and_configmaps_stay_in_the_system_namespace(store, fake):
    seen = []
    undo = store.subscribe(lambda event, obj: seen.append((event, obj["kind"], obj["metadata"]["name"])))
    fake.put(
        r.CONFIGMAP,
        {"metadata": {"name": "config-gc", "namespace": "knative-serving"}, "data": {"min-non-active-revisions": "3"}},
    )
    fake.put(r.CONFIGMAP, {"metadata": {"name": "config-gc", "namespace": "default"}, "data": {}})
    await eventually(lambda: ("ADDED", "ConfigMap", "config-gc") in seen)
    assert (await store.get("ConfigMap", "knative-serving", "config-gc"))["data"] == {"min-non-active-revisions": "3"}
    assert await store.get("ConfigMap", "default", "config-gc") is None
    assert len([s for s in seen if s[1] == "ConfigMap"]) == 1
    undo()
    fake.put(r.SERVICE, {"metadata": {"name": "s", "namespace": "default"}, "spec": {}})
    await eventually(lambda: store.peek(keys.SERVICE))
    assert not any(kind == keys.SERVICE for _, kind, _ in seen)
    with pytest.raises(ValueError, match="does not keep"):
        await store.create({"kind": "Deployment", "metadata": {"name": "x", "namespace": "default"}})
