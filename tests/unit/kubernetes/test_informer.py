"""Informers over the fake API server: list in pages, watch, bookmarks, 410 relist, back-off."""

from __future__ import annotations

import asyncio

import pytest

from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.informer import Informer
from tests.unit.kubernetes.support import eventually


def configmap(name: str, ns: str = "knative-serving", **data) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "data": data,
    }


@pytest.fixture
async def running():
    tasks = []

    def start(informer: Informer) -> Informer:
        tasks.append(asyncio.get_running_loop().create_task(informer.run()))
        return informer

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_lists_in_pages_then_watches(fake, kube, running):
    for i in range(5):
        fake.put(r.CONFIGMAP, configmap(f"cm-{i}"))
    events = []
    informer = Informer(kube, r.CONFIGMAP, "knative-serving", page_size=2)
    informer.subscribe(lambda event, obj: events.append((event, obj["metadata"]["name"])))
    running(informer)
    await asyncio.wait_for(informer.synced.wait(), 5)
    assert sorted(name for _, name in informer.cache) == [f"cm-{i}" for i in range(5)]
    assert fake.count("GET", "/api/v1/namespaces/knative-serving/configmaps?limit=2") == 3  # three pages
    # items of built-in lists carry no kind: the informer fills it in
    assert informer.get("knative-serving", "cm-0")["kind"] == "ConfigMap"

    fake.put(r.CONFIGMAP, configmap("cm-9", x="1"))
    fake.remove(r.CONFIGMAP, "knative-serving", "cm-0")
    await eventually(lambda: ("DELETED", "cm-0") in events)
    assert ("ADDED", "cm-9") in events
    assert informer.get("knative-serving", "cm-0") is None
    assert informer.get("knative-serving", "cm-9")["data"] == {"x": "1"}
    assert informer.resource_version == str(fake.rv)


async def test_label_selector_and_namespace_limit_what_is_cached(fake, kube, running):
    fake.put(r.CONFIGMAP, configmap("a"))
    fake.put(r.CONFIGMAP, configmap("b"))
    fake.put(r.CONFIGMAP, configmap("a", ns="default"))
    informer = running(Informer(kube, r.CONFIGMAP, "knative-serving", label_selector="app=a"))
    await asyncio.wait_for(informer.synced.wait(), 5)
    assert list(informer.cache) == [("knative-serving", "a")]
    fake.put(r.CONFIGMAP, configmap("b", x="2"))
    fake.put(r.CONFIGMAP, {**configmap("a"), "data": {"y": "3"}})
    await eventually(lambda: informer.get("knative-serving", "a").get("data") == {"y": "3"})
    assert informer.get("knative-serving", "b") is None


async def test_bookmarks_advance_the_resource_version_without_events(fake, kube, running):
    informer = running(Informer(kube, r.CONFIGMAP, "knative-serving"))
    await asyncio.wait_for(informer.synced.wait(), 5)
    fake.put(r.POD, {"metadata": {"name": "p", "namespace": "default"}})  # moves the global resourceVersion only
    await eventually(lambda: informer.resource_version == str(fake.rv))
    assert informer.cache == {}
    assert informer.relists == 1


async def test_a_dropped_watch_resumes_from_the_last_resource_version(fake, kube, running):
    informer = running(Informer(kube, r.CONFIGMAP, "knative-serving"))
    await asyncio.wait_for(informer.synced.wait(), 5)
    await eventually(lambda: fake.watchers)
    fake.close_watches()
    fake.put(r.CONFIGMAP, configmap("late"))
    await eventually(lambda: informer.get("knative-serving", "late"))
    assert informer.relists == 1  # resumed, not relisted
    watches = [p for m, p in fake.requests if "watch=true" in p]
    assert len(watches) >= 2 and "allowWatchBookmarks=true" in watches[0]


async def test_410_gone_relists_and_reports_what_changed_meanwhile(fake, kube, running):
    fake.put(r.CONFIGMAP, configmap("kept"))
    fake.put(r.CONFIGMAP, configmap("dropped"))
    events = []
    informer = Informer(kube, r.CONFIGMAP, "knative-serving")
    informer.subscribe(lambda event, obj: events.append((event, obj["metadata"]["name"])))
    running(informer)
    await asyncio.wait_for(informer.synced.wait(), 5)
    await eventually(lambda: fake.watchers)
    # changes the informer never sees as events: the watch window moves past it
    fake.expire_watches()
    objs = fake.objects[("", "configmaps")]
    del objs[("knative-serving", "dropped")]
    fake.rv += 1
    objs[("knative-serving", "added")] = {
        **configmap("added"),
        "metadata": {**configmap("added")["metadata"], "resourceVersion": str(fake.rv), "uid": "u"},
    }
    await eventually(lambda: informer.relists == 2)
    assert sorted(name for _, name in informer.cache) == ["added", "kept"]
    assert ("DELETED", "dropped") in events and ("ADDED", "added") in events
    assert ("MODIFIED", "kept") not in events  # unchanged objects are not re-announced


async def test_errors_back_off_and_recover(fake, kube, running):
    informer = Informer(kube, r.HTTP_ROUTE, "default", backoff=(0.05, 0.1))
    kinds = fake.kinds
    fake.kinds = {}  # the resource is not served (CRDs not installed yet)
    running(informer)
    await eventually(lambda: fake.count("GET", "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes") >= 3)
    assert not informer.synced.is_set()
    fake.kinds = kinds
    await asyncio.wait_for(informer.synced.wait(), 5)
