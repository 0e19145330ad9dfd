"""The object store over the API server: reads from informer caches, writes through the API.

Implements ``dataplane.controller.store.Store`` for the four serving.knative.dev
kinds and the ConfigMaps of the system namespace. The API server does what the
local store emulates: ``update`` leaves status alone and bumps generation on a
spec change, ``update_status`` goes through the ``/status`` subresource, and
deleting an owner deletes its children (garbage collection by ownerReferences).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable

from dataplane.controller.store import Conflict, Listener, NotFound, key_of
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.client import ApiError, KubeClient
from dataplane.platform.kubernetes.informer import Informer

log = logging.getLogger("dataplane.kubernetes")
CONFLICT_RETRIES = 5
# what a conflict retry takes from the caller's object; everything else is the server's latest
OWNED_METADATA = ("labels", "annotations", "ownerReferences", "finalizers")
BACKGROUND_DELETE = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}


class KubernetesStore:
    """Implements ``Store``; ``peek`` reads the caches without copying."""

    def __init__(self, client: KubeClient, system_namespace: str, conflict_retries: int = CONFLICT_RETRIES, **informer_options):
        self.client = client
        self.system_namespace = system_namespace
        self.conflict_retries = conflict_retries
        self.informers: dict[str, Informer] = {
            kind: Informer(client, resource, **informer_options) for kind, resource in r.SERVING.items()
        }
        self.informers["ConfigMap"] = Informer(client, r.CONFIGMAP, system_namespace, **informer_options)
        self.tasks: list[asyncio.Task] = []

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(inf.run(), name=f"informer {kind}") for kind, inf in self.informers.items()]

    async def wait_synced(self) -> None:
        """Until every cache has been listed once."""
        await asyncio.gather(*(inf.synced.wait() for inf in self.informers.values()))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []

    # -- reads -------------------------------------------------------------------------------------

    def _informer(self, kind: str, namespace: str | None = None) -> Informer | None:
        informer = self.informers.get(kind)
        if kind == "ConfigMap" and namespace is not None and namespace != self.system_namespace:
            return None
        return informer

    async def get(self, kind: str, namespace: str, name: str) -> dict | None:
        informer = self._informer(kind, namespace)
        obj = informer.get(namespace, name) if informer else None
        return copy.deepcopy(obj) if obj is not None else None

    async def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        return [copy.deepcopy(obj) for obj in sorted(self.peek(kind, namespace), key=lambda o: o["metadata"]["name"])]

    def peek(self, kind: str, namespace: str | None = None) -> list[dict]:
        """The cached objects themselves: read-only use."""
        informer = self._informer(kind, namespace)
        return informer.items(namespace) if informer else []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        undo = [inf.subscribe(listener) for inf in self.informers.values()]

        def unsubscribe() -> None:
            for u in undo:
                u()

        return unsubscribe

    # -- writes ------------------------------------------------------------------------------------

    def _resource(self, kind: str) -> r.Resource:
        if kind == "ConfigMap":
            return r.CONFIGMAP
        if kind not in r.SERVING:
            raise ValueError(f"the Kubernetes store does not keep {kind} objects")
        return r.SERVING[kind]

    async def create(self, obj: dict) -> dict:
        kind, ns, name = key_of(obj)
        resource = self._resource(kind)
        body = copy.deepcopy(obj)
        body["metadata"]["namespace"] = ns
        body.setdefault("apiVersion", resource.api_version)
        try:
            created = await self.client.request("POST", resource.path(ns), body=body)
        except ApiError as exc:
            if exc.status == 409:
                raise Conflict(exc.message) from None
            raise
        self.informers[kind].put(created)
        return copy.deepcopy(created)

    async def update(self, obj: dict) -> dict:
        """Replace metadata and spec; on a stale resourceVersion, take the latest and put the caller's fields on it."""

        def merge(latest: dict) -> dict:
            fresh = copy.deepcopy(latest)
            for field, value in obj.items():
                if field not in ("metadata", "status", "apiVersion", "kind"):
                    fresh[field] = copy.deepcopy(value)
            meta = obj.get("metadata") or {}
            for field in OWNED_METADATA:
                if field in meta:
                    fresh["metadata"][field] = copy.deepcopy(meta[field])
                else:
                    fresh["metadata"].pop(field, None)
            return fresh

        return await self._put(obj, None, merge)

    async def update_status(self, obj: dict) -> dict:
        """Write ``status`` through the ``/status`` subresource; a conflict retries with the latest object."""

        def merge(latest: dict) -> dict:
            fresh = copy.deepcopy(latest)
            fresh["status"] = copy.deepcopy(obj.get("status") or {})
            return fresh

        return await self._put(obj, "status", merge)

    async def _put(self, obj: dict, subresource: str | None, merge: Callable[[dict], dict]) -> dict:
        kind, ns, name = key_of(obj)
        resource = self._resource(kind)
        path = resource.path(ns, name, subresource)
        body = copy.deepcopy(obj)
        for attempt in range(self.conflict_retries + 1):
            try:
                updated = await self.client.request("PUT", path, body=body)
            except ApiError as exc:
                if exc.status == 404:
                    raise NotFound(kind, ns, name) from None
                if exc.status != 409 or attempt == self.conflict_retries:
                    if exc.status == 409:
                        raise Conflict(exc.message) from None
                    raise
                log.debug("%s %s/%s: conflict, retrying on the latest version", kind, ns, name)
                try:
                    latest = await self.client.get(resource.path(ns, name))
                except ApiError as err:
                    if err.status == 404:
                        raise NotFound(kind, ns, name) from None
                    raise
                body = merge(latest)
                continue
            self.informers[kind].put(updated)
            return copy.deepcopy(updated)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def delete(self, kind: str, namespace: str, name: str) -> dict | None:
        resource = self._resource(kind)
        cached = self.informers[kind].get(namespace, name)
        try:
            await self.client.request("DELETE", resource.path(namespace, name), body=BACKGROUND_DELETE)
        except ApiError as exc:
            if exc.status == 404:
                self.informers[kind].forget(namespace, name)
                return None
            raise
        self.informers[kind].forget(namespace, name)
        return copy.deepcopy(cached) if cached is not None else None
