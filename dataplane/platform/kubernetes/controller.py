"""The shared controller loop with the Kubernetes backend's additions.

The admission webhook (``webhook.py``) refuses invalid objects at ``kubectl
apply``, but one may still be stored (the webhook was down, or the object
predates it), so a Service, Configuration or Route is decoded strictly,
defaulted and validated here too, by the same ``admit``; an invalid one gets
``Ready=False`` with reason ``ValidationFailed`` and the field errors as its
message, and its children are left alone until it is fixed. A Route's ingress
is its HTTPRoutes: ``reconcile_route`` has them written, and its IngressReady
is what their Gateways say of them (``status.parents``: Accepted, ResolvedRefs),
so a missing or refusing Gateway shows on the Route and its Service with the
reason. Routes are re-reconciled when a revision's path changes (the autoscaler
moved it between Serve and Proxy, or its ready endpoints appeared or vanished),
when a Gateway writes an HTTPRoute's status, and when a Gateway changes;
platform ConfigMaps are watched in the configured system namespace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dataplane.api import ValidationError, admit, keys
from dataplane.api import conditions as c
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
        now = self.clock()
        try:
            obj = admit(obj, cfg)  # the webhook's strict decoding, defaulting and validation
        except ValidationError as exc:  # its children stay as they are until it is fixed
            log.warning("%s %s/%s is not valid: %s", kind, ns, name, exc, extra=log_fields(key))
            message = "; ".join(str(e) for e in exc.errors)
            status = c.mark_invalid(obj.get("status"), kind, message, obj["metadata"].get("generation", 1), now=now)
            if obj.get("status") != status:
                await self.store.update_status({**obj, "status": status})
            return
        if kind == keys.SERVICE:
            await reconcilers.reconcile_service(self.store, obj, now)
        elif kind == keys.CONFIGURATION:
            await reconcilers.reconcile_configuration(self.store, obj, cfg, now)
        else:
            await reconcilers.reconcile_route(self.store, obj, cfg, now, ingress=self.route_writer.program)

    def on_store_event(self, event: str, obj: dict) -> None:
        super().on_store_event(event, obj)
        ns = obj["metadata"].get("namespace")
        if obj.get("kind") == "ConfigMap" and ns == self.system_namespace != SHARED_LOOP_SYSTEM_NAMESPACE:
            self.resync()

    def on_httproute_event(self, event: str, obj: dict) -> None:
        """A Gateway wrote an HTTPRoute's status (or someone changed it): its Route's IngressReady may move."""
        meta = obj["metadata"]
        route = (meta.get("labels") or {}).get(keys.ROUTE_LABEL)
        if route:
            self.enqueue(keys.ROUTE, meta.get("namespace", ""), route)

    def on_gateway_event(self, event: str, obj: dict) -> None:
        """A Gateway came, went or changed its status: every Route may be affected."""
        for route in self.store.peek(keys.ROUTE):
            self.enqueue(keys.ROUTE, route["metadata"]["namespace"], route["metadata"]["name"])

    def revision_path_changed(self, namespace: str, revision: str) -> None:
        """Re-reconcile the routes of ``namespace``: one of them may send ``revision`` elsewhere now."""
        for route in self._names(keys.ROUTE, namespace):
            self.enqueue(keys.ROUTE, namespace, route)
