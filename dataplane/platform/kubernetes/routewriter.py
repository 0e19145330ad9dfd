"""Writes a reconciled Route's HTTPRoutes (and the grant to reach the activator), removing stale ones, and its
placeholder Service; reads back what their Gateways say of them (the Route's IngressReady)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from dataplane.api import conditions as c
from dataplane.api import keys
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.client import ApiError, KubeClient
from dataplane.platform.kubernetes.httproutes import (
    GRANT_LABEL,
    IngressState,
    Network,
    ObjectRef,
    host_splits,
    ingress_state,
    make_httproute,
    make_placeholder_service,
    make_reference_grant,
    placeholder_target,
    reference_grant_name,
)
from dataplane.platform.kubernetes.informer import Informer

log = logging.getLogger("dataplane.kubernetes")
_COMPARED = ("labels", "ownerReferences")
NOT_OWNED = "NotOwned"


def httproute_informer(client: KubeClient, **informer_options) -> Informer:
    """The HTTPRoutes written for Routes (every controller replica watches them: their status confirms switches)."""
    return Informer(client, r.HTTP_ROUTE, label_selector=keys.ROUTE_LABEL, **informer_options)


class RouteWriter:
    """Keeps each Route's HTTPRoutes as its status says; ``through_activator(ns, revision)`` picks backends,
    ``h2c(ns, revision)`` (the revision's port is named h2c) the activator's port for it.

    ``httproutes`` is an informer of ``httproute_informer``'s, run by its owner
    (started here when none is given).
    """

    def __init__(
        self,
        client: KubeClient,
        network: Callable[[], Network],
        activator: ObjectRef,
        through_activator: Callable[[str, str], bool],
        httproutes: Informer | None = None,
        h2c: Callable[[str, str], bool] = lambda ns, revision: False,
        **informer_options,
    ):
        self.client = client
        self.network = network
        self.activator = activator
        self.through_activator = through_activator
        self.own_httproutes = httproutes is None
        self.httproutes = httproutes if httproutes is not None else httproute_informer(client, **informer_options)
        self.h2c = h2c
        self.grants = Informer(client, r.REFERENCE_GRANT, activator.namespace, label_selector=GRANT_LABEL, **informer_options)
        self.gateways = Informer(client, r.GATEWAY, **informer_options)
        self.placeholders = Informer(client, r.KUBE_SERVICE, label_selector=keys.ROUTE_LABEL, **informer_options)
        self.tasks: list[asyncio.Task] = []
        self.unplaced: set[tuple[str, str]] = set()
        """Routes told once that no placeholder Service could be made (nowhere to point it)."""

    def _informers(self) -> list[Informer]:
        return [*([self.httproutes] if self.own_httproutes else []), self.grants, self.gateways, self.placeholders]

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(inf.run()) for inf in self._informers()]

    async def wait_synced(self) -> None:
        await asyncio.gather(self.httproutes.synced.wait(), *(inf.synced.wait() for inf in self._informers()))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def program(self, route: dict) -> tuple[str, str, str]:
        """Write ``route``'s HTTPRoutes and placeholder Service and say how its Gateways take them: IngressReady's
        (status, reason, message)."""
        await self.write(route)
        refused = await self.place(route)
        state = refused or self.state(route)
        return state.status, state.reason, state.message

    async def place(self, route: dict) -> IngressState | None:
        """Create or update the placeholder Service ``<route>``; an IngressState when a Service of that name is not ours."""
        meta = route["metadata"]
        ns, name = meta["namespace"], meta["name"]
        network = self.network()
        local = network.local_gateway
        target = placeholder_target(network, self.gateways.get(local.namespace, local.name))
        if target is None:
            if (ns, name) not in self.unplaced:
                self.unplaced.add((ns, name))
                log.warning("route %s/%s: no placeholder Service: config-network local-gateway-service is not set and "
                            "Gateway %s/%s reports no host name", ns, name, local.namespace, local.name)  # fmt: skip
            return None
        self.unplaced.discard((ns, name))
        desired = make_placeholder_service(route, target)
        have = self.placeholders.get(ns, name)
        if have is None:
            try:
                self.placeholders.put(await self.client.request("POST", r.KUBE_SERVICE.path(ns), body=desired))
                return None
            except ApiError as exc:
                if exc.status != 409:
                    raise
                have = await self.client.get(r.KUBE_SERVICE.path(ns, name))
        if (have["metadata"].get("labels") or {}).get(keys.ROUTE_LABEL) != name or not any(
            ref.get("uid") == meta.get("uid") for ref in have["metadata"].get("ownerReferences") or []
        ):
            return IngressState(c.FALSE, NOT_OWNED, f"There is an existing placeholder Service {ns}/{name} that we do not own.")
        spec = have.get("spec") or {}
        if spec.get("externalName") != target or spec.get("type") != "ExternalName":
            updated = {**have, "spec": {**spec, **desired["spec"]}}
            self.placeholders.put(await self.client.request("PUT", r.KUBE_SERVICE.path(ns, name), body=updated))
        return None

    def state(self, route: dict) -> IngressState:
        """IngressReady of ``route`` from the HTTPRoutes of it seen so far and their Gateways."""
        meta = route["metadata"]
        mine = [h for h in self.httproutes.items(meta["namespace"])
                if (h["metadata"].get("labels") or {}).get(keys.ROUTE_LABEL) == meta["name"]]  # fmt: skip
        return ingress_state(mine, lambda ref: self.gateways.get(ref.namespace, ref.name))

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
        network = self.network()
        wanted = [
            make_httproute(
                route, split, network.local_gateway if split.local else network.gateway, self.activator,
                lambda rev: self.through_activator(ns, rev), lambda rev: self.h2c(ns, rev),
            )  # fmt: skip
            for split in splits
        ]  # fmt: skip
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
