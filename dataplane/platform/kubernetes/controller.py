"""The shared controller loop with the Kubernetes backend's additions.

No admission webhook runs on the cluster, so a Service, Configuration or Route
is decoded strictly, defaulted and validated here by the same ``admit`` as the
local control API, as the webhook would have done before storing it
(``kubectl apply`` of a v1 object with fields left out works as with Knative;
one with a misspelt field is logged as invalid and left alone). After
``reconcile_route`` the Route's HTTPRoutes are written; Routes are re-reconciled
when a revision's path changes (the autoscaler moved it between Serve and
Proxy, or its ready endpoints appeared or vanished); platform ConfigMaps are
watched in the configured system namespace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dataplane.api import ValidationError, admit, keys
from dataplane.api.config import Config
from dataplane.controller import reconcilers
from dataplane.controller.loop import Controller, Key, log_fields
from dataplane.controller.runtime import Runtime
from dataplane.controller.store import Store
from dataplane.platform.kubernetes.routewriter import RouteWriter

log = logging.getLogger("dataplane.kubernetes")
# the namespace the shared loop resyncs on; others are handled here
SHARED_LOOP_SYSTEM_NAMESPACE = "knative-serving"
USER_KINDS = (keys.SERVICE, keys.CONFIGURATION, keys.ROUTE)


class KubernetesController(Controller):
    """``Controller`` that also writes Gateway API routes."""

    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        config: Callable[[], Config],
        initial_scale: Callable[[], int],
        route_writer: RouteWriter,
        system_namespace: str,
    ):
        super().__init__(store, runtime, config, initial_scale)
        self.route_writer = route_writer
        self.system_namespace = system_namespace

    async def reconcile(self, key: Key) -> None:
        kind, ns, name = key
        if kind not in USER_KINDS:
            await super().reconcile(key)
            return
        obj = await self.store.get(kind, ns, name)
        if obj is None:
            return
        cfg = self.config()
        try:
            obj = admit(obj, cfg)  # the webhook's strict decoding, defaulting and validation
        except ValidationError as exc:  # the object stays as it is until it is fixed
            log.error("%s %s/%s is not valid: %s", kind, ns, name, exc, extra=log_fields(key))
            return
        now = self.clock()
        if kind == keys.SERVICE:
            await reconcilers.reconcile_service(self.store, obj, now)
        elif kind == keys.CONFIGURATION:
            await reconcilers.reconcile_configuration(self.store, obj, cfg, now)
        else:
            await reconcilers.reconcile_route(self.store, obj, cfg, now)
            route = await self.store.get(kind, ns, name)
            if route is not None:
                await self.route_writer.write(route)

    def on_store_event(self, event: str, obj: dict) -> None:
        super().on_store_event(event, obj)
        ns = obj["metadata"].get("namespace")
        if obj.get("kind") == "ConfigMap" and ns == self.system_namespace != SHARED_LOOP_SYSTEM_NAMESPACE:
            self.resync()

    def revision_path_changed(self, namespace: str, revision: str) -> None:
        """Re-reconcile the routes of ``namespace``: one of them may send ``revision`` elsewhere now."""
        for route in self._names(keys.ROUTE, namespace):
            self.enqueue(keys.ROUTE, namespace, route)
