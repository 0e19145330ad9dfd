"""Writes a reconciled Route's HTTPRoutes (and the grant to reach the activator), removing stale ones."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from dataplane.api import keys
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.client import ApiError, KubeClient
from dataplane.platform.kubernetes.httproutes import (
    GRANT_LABEL,
    ObjectRef,
    host_splits,
    make_httproute,
    make_reference_grant,
    reference_grant_name,
)
from dataplane.platform.kubernetes.informer import Informer

log = logging.getLogger("dataplane.kubernetes")
_COMPARED = ("labels", "ownerReferences")


class RouteWriter:
    """Keeps each Route's HTTPRoutes as its status says; ``through_activator(ns, revision)`` picks backends,
    ``h2c(ns, revision)`` (the revision's port is named h2c) the activator's port for it."""

    def __init__(
        self,
        client: KubeClient,
        gateway: Callable[[], ObjectRef],
        activator: ObjectRef,
        through_activator: Callable[[str, str], bool],
        h2c: Callable[[str, str], bool] = lambda ns, revision: False,
        **informer_options,
    ):
        self.client = client
        self.gateway = gateway
        self.activator = activator
        self.through_activator = through_activator
        self.h2c = h2c
        self.httproutes = Informer(client, r.HTTP_ROUTE, label_selector=keys.ROUTE_LABEL, **informer_options)
        self.grants = Informer(client, r.REFERENCE_GRANT, activator.namespace, label_selector=GRANT_LABEL, **informer_options)
        self.tasks: list[asyncio.Task] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(inf.run()) for inf in (self.httproutes, self.grants)]

    async def wait_synced(self) -> None:
        await asyncio.gather(self.httproutes.synced.wait(), self.grants.synced.wait())

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def write(self, route: dict) -> None:
        """Create, update or delete HTTPRoutes so they match ``route``'s resolved traffic.

        A Route whose traffic cannot be assigned keeps the HTTPRoutes it had,
        as Knative keeps serving the last good split.
        """
        splits = host_splits(route)
        if not splits:
            return
        meta = route["metadata"]
        ns, name = meta["namespace"], meta["name"]
        wanted = [
            make_httproute(
                route, split, self.gateway(), self.activator,
                lambda rev: self.through_activator(ns, rev), lambda rev: self.h2c(ns, rev),
            )  # fmt: skip
            for split in splits
        ]
        if ns != self.activator.namespace and self.grants.get(self.activator.namespace, reference_grant_name(ns)) is None:
            await self._apply(r.REFERENCE_GRANT, self.grants, make_reference_grant(ns, self.activator))
        for desired in wanted:
            await self._apply(r.HTTP_ROUTE, self.httproutes, desired)
        names = {d["metadata"]["name"] for d in wanted}
        for have in self.httproutes.items(ns):
            if (have["metadata"].get("labels") or {}).get(keys.ROUTE_LABEL) == name and have["metadata"]["name"] not in names:
                await self._delete(have)

    async def _apply(self, resource: r.Resource, informer: Informer, desired: dict) -> None:
        meta = desired["metadata"]
        have = informer.get(meta["namespace"], meta["name"])
        if have is None:
            try:
                informer.put(await self.client.request("POST", resource.path(meta["namespace"]), body=desired))
                return
            except ApiError as exc:
                if exc.status != 409:
                    raise
                have = await self.client.get(resource.path(meta["namespace"], meta["name"]))
        if have.get("spec") == desired["spec"] and all(have["metadata"].get(f) == meta.get(f) for f in _COMPARED):
            return
        updated = dict(have)
        updated["spec"] = desired["spec"]
        updated["metadata"] = {**have["metadata"], **{f: meta[f] for f in _COMPARED if f in meta}}
        informer.put(await self.client.request("PUT", resource.path(meta["namespace"], meta["name"]), body=updated))

    async def _delete(self, obj: dict) -> None:
        meta = obj["metadata"]
        try:
            await self.client.request("DELETE", r.HTTP_ROUTE.path(meta["namespace"], meta["name"]))
        except ApiError as exc:
            if exc.status != 404:
                raise
        self.httproutes.forget(meta["namespace"], meta["name"])
