"""Reconcilers for Service, Configuration, Revision and Route: level-triggered and idempotent.

Each reads the current objects from the store, computes what should be, and
writes only differences. The same code drives both backends through the
``Store`` and ``Runtime`` seams.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable

from dataplane.api import (
    TrafficError,
    make_configuration,
    make_revision,
    make_route,
    resolve_traffic,
    revision_name,
    revisions_to_collect,
)
from dataplane.api import conditions as c
from dataplane.api import keys
from dataplane.api.config import Config
from dataplane.api.timestamps import format_timestamp
from dataplane.controller import health
from dataplane.controller.runtime import Runtime, RevisionState
from dataplane.controller.store import Store

INITIAL_SCALE = "autoscaling.knative.dev/initial-scale"
INITIAL_SCALE_LEGACY = "autoscaling.knative.dev/initialScale"


def _meta(obj: dict) -> dict:
    return obj["metadata"]


async def _ensure_child(store: Store, desired: dict) -> dict:
    """Create ``desired`` or bring the stored one's labels, annotations, owners and spec in line."""
    meta = desired["metadata"]
    current = await store.get(desired["kind"], meta["namespace"], meta["name"])
    if current is None:
        return await store.create(desired)
    cmeta = current["metadata"]
    if (
        current.get("spec") == desired.get("spec")
        and cmeta.get("labels") == meta.get("labels")
        and cmeta.get("annotations") == meta.get("annotations")
        and cmeta.get("ownerReferences") == meta.get("ownerReferences")
    ):
        return current
    updated = copy.deepcopy(current)
    updated["spec"] = desired.get("spec")
    for field in ("labels", "annotations", "ownerReferences"):
        updated["metadata"][field] = meta.get(field)
    return await store.update(updated)


async def _write_status(store: Store, obj: dict, status: dict) -> dict:
    if obj.get("status") == status:
        return obj
    new = dict(obj)
    new["status"] = status
    return await store.update_status(new)


async def reconcile_service(store: Store, service: dict, now: float) -> None:
    configuration = await _ensure_child(store, make_configuration(service))
    route = await _ensure_child(store, make_route(service))
    status = c.initialize(service.get("status"), keys.SERVICE, now=now)
    if configuration.get("status", {}).get("observedGeneration") == configuration["metadata"]["generation"]:
        status = c.propagate_configuration_status(status, configuration.get("status"), now=now)
    else:
        status = c.mark(status, keys.SERVICE, c.CONFIGURATIONS_READY, c.UNKNOWN, "OutOfDate",
                        "The Configuration is still working to reflect the latest desired specification.", now=now)
    if route.get("status", {}).get("observedGeneration") == route["metadata"]["generation"]:
        status = c.propagate_route_status(status, route.get("status"), now=now)
    else:
        status = c.mark(status, keys.SERVICE, c.ROUTES_READY, c.UNKNOWN, "OutOfDate",
                        "The Route is still working to reflect the latest desired specification.", now=now)
    status = c.set_observed_generation(status, _meta(service)["generation"])
    await _write_status(store, service, status)


def _generation_of(revision: dict) -> int:
    try:
        return int(_meta(revision).get("labels", {}).get(keys.CONFIGURATION_GENERATION_LABEL, "0"))
    except ValueError:
        return 0


async def reconcile_configuration(store: Store, configuration: dict, cfg: Config, now: float) -> None:
    meta = _meta(configuration)
    ns, name, generation = meta["namespace"], meta["name"], meta["generation"]
    revisions = [
        r for r in await store.list(keys.REVISION, ns) if r["metadata"].get("labels", {}).get(keys.CONFIGURATION_LABEL) == name
    ]
    wanted = configuration["spec"]["template"].get("metadata", {}).get("name") or revision_name(name, generation)
    latest = next((r for r in revisions if r["metadata"]["name"] == wanted), None)
    if latest is None:
        latest = await store.create(make_revision(configuration, generation, now=now))
        revisions.append(latest)
    status = c.initialize(configuration.get("status"), keys.CONFIGURATION, now=now)
    waiting = c.get_condition(latest.get("status"), c.READY) or {}
    if waiting.get("status") != c.UNKNOWN or waiting.get("reason") != health.NOT_LISTENING:
        # only this wait is shown on the Configuration: it is the one a user must act on
        waiting = {}
    status = c.set_latest_created(status, wanted, waiting.get("reason", ""), waiting.get("message", ""), now=now)
    ready = [r for r in revisions if c.condition_status(r.get("status"), c.READY) == c.TRUE]
    if ready:
        # the newest ready revision: a failed newer one leaves traffic where it was
        status = c.set_latest_ready(status, max(ready, key=_generation_of)["metadata"]["name"], now=now)
    if c.condition_status(latest.get("status"), c.READY) == c.FALSE:
        cond = c.get_condition(latest.get("status"), c.READY) or {}
        status = c.mark_latest_created_failed(status, wanted, cond.get("message") or cond.get("reason", ""), now=now)
    status = c.set_observed_generation(status, generation)
    await _write_status(store, configuration, status)
    for doomed in revisions_to_collect(revisions, status.get("latestReadyRevisionName"), cfg.gc, now):
        await store.delete(keys.REVISION, ns, doomed)


def initial_scale(revision: dict, cfg_initial: int) -> int:
    annotations = _meta(revision).get("annotations") or {}
    raw = annotations.get(INITIAL_SCALE, annotations.get(INITIAL_SCALE_LEGACY))
    if raw is None:
        return cfg_initial
    try:
        return max(0, int(raw))
    except ValueError:
        return cfg_initial


async def reconcile_revision(store: Store, runtime: Runtime, revision: dict, cfg_initial: int, now: float) -> None:
    state: RevisionState = await runtime.ensure_revision(revision, initial_scale(revision, cfg_initial))
    status = c.initialize(revision.get("status"), keys.REVISION, now=now)
    kind = keys.REVISION
    failure = health.serving_failure(state)
    if state.failure and state.failure != health.PROGRESS_DEADLINE_EXCEEDED:  # it cannot run at all
        status = c.mark(status, kind, c.CONTAINER_HEALTHY, c.FALSE, state.failure, state.failure_message, now=now)
        status = c.mark(status, kind, c.RESOURCES_AVAILABLE, c.FALSE, state.failure, state.failure_message, now=now)
    else:
        crashed = health.container_failure(state)
        quiet = health.not_listening(state)
        if state.failure:
            status = c.mark(status, kind, c.RESOURCES_AVAILABLE, c.FALSE, state.failure, state.failure_message, now=now)
        elif state.ever_ready:
            status = c.mark(status, kind, c.RESOURCES_AVAILABLE, c.TRUE, now=now)
        elif quiet is not None:  # what the deployment waits for, rather than a bare "Deploying"
            status = c.mark(status, kind, c.RESOURCES_AVAILABLE, c.UNKNOWN, quiet.reason, quiet.message, now=now)
        else:
            status = c.mark(status, kind, c.RESOURCES_AVAILABLE, c.UNKNOWN, "Deploying", now=now)
        # Knative's rule: True once a pod is ready; False (exit code, last words) while none is and an
        # app has exited; otherwise as it was, so a crashed revision scaled to zero stays failed
        if state.ready_pods or (state.ever_ready and c.condition_status(status, c.CONTAINER_HEALTHY) == c.UNKNOWN and not quiet):
            status = c.mark(status, kind, c.CONTAINER_HEALTHY, c.TRUE, now=now)
        elif crashed is not None:
            status = c.mark(status, kind, c.CONTAINER_HEALTHY, c.FALSE, crashed.reason, crashed.message, now=now)
        elif quiet is not None:
            status = c.mark(status, kind, c.CONTAINER_HEALTHY, c.UNKNOWN, quiet.reason, quiet.message, now=now)
        restarted = max(state.pods, key=lambda p: p.restarts, default=None)
        if restarted is not None and restarted.restarts and state.ever_ready:
            status["containerStatuses"] = [{"name": "user-container", "restartCount": restarted.restarts}]
    status = c.set_condition(status, c.ACTIVE, *_activity(state, failure), now=now)
    status["actualReplicas"] = state.ready_pods
    status["desiredReplicas"] = state.replicas
    status = c.set_observed_generation(status, _meta(revision).get("generation", 1))
    await _write_status(store, revision, status)


def _activity(state: RevisionState, failure: health.Problem | None) -> tuple[str, str, str]:
    """The Active condition: what is true of the revision's pods, and so of requests sent to it now."""
    if state.ready_pods:
        return c.TRUE, "", ""
    if failure is not None:
        return c.FALSE, failure.reason, "No pod can serve the revision: requests for it are answered 503 at once."
    if state.replicas == 0:
        return c.FALSE, "NoTraffic", "The target is not receiving traffic."
    return c.UNKNOWN, "Activating", (f"Waiting for a pod to become ready (0 of {state.replicas}); "
                                     "requests that arrive meanwhile wait for it.")


Ingress = Callable[[dict], Awaitable[tuple[str, str, str]]]
"""Programs the ingress for a Route with its newly resolved status, and says how that went:
IngressReady's ``(status, reason, message)``. Without one the ingress is the router itself, always ready."""


async def reconcile_route(store: Store, route: dict, cfg: Config, now: float, ingress: Ingress | None = None) -> None:
    meta = _meta(route)
    ns, name = meta["namespace"], meta["name"]
    configurations = {cfg_obj["metadata"]["name"]: cfg_obj.get("status", {}) for cfg_obj in await store.list(keys.CONFIGURATION, ns)}
    revisions = {}
    for rev in await store.list(keys.REVISION, ns):
        ready = c.condition_status(rev.get("status"), c.READY)
        revisions[rev["metadata"]["name"]] = True if ready == c.TRUE else False if ready == c.FALSE else None
    domain = cfg.domain.domain_for(meta.get("labels"))
    status = c.initialize(route.get("status"), keys.ROUTE, now=now)
    try:
        resolved = resolve_traffic(route["spec"].get("traffic") or [], configurations, revisions, name=name, namespace=ns, domain=domain)
    except TrafficError as err:
        status = c.mark(status, keys.ROUTE, c.ALL_TRAFFIC_ASSIGNED, err.status, err.reason, err.message, now=now)
    else:
        status["url"] = resolved.url
        status["domain"] = resolved.url.removeprefix("http://")  # the v1alpha1 field the seed article reads
        status["address"] = {"url": resolved.address_url}
        status["traffic"] = resolved.status_traffic()
        status = c.mark(status, keys.ROUTE, c.ALL_TRAFFIC_ASSIGNED, c.TRUE, now=now)
        ready, reason, message = (c.TRUE, "", "") if ingress is None else await ingress({**route, "status": status})
        status = c.mark(status, keys.ROUTE, c.INGRESS_READY, ready, reason, message, now=now)
        await _mark_routing_state(store, ns, resolved.revision_names(), now)
    status = c.set_observed_generation(status, meta["generation"])
    await _write_status(store, route, status)


async def _mark_routing_state(store: Store, namespace: str, active: set[str], now: float) -> None:
    """Revisions a route sends traffic to are ``active``; the others of their configurations ``reserve``."""
    configs = set()
    for rev in await store.list(keys.REVISION, namespace):
        if rev["metadata"]["name"] in active:
            configs.add(rev["metadata"].get("labels", {}).get(keys.CONFIGURATION_LABEL))
    for rev in await store.list(keys.REVISION, namespace):
        labels = rev["metadata"].setdefault("labels", {})
        name = rev["metadata"]["name"]
        if name in active:
            state = keys.ROUTING_STATE_ACTIVE
        elif labels.get(keys.CONFIGURATION_LABEL) in configs and labels.get(keys.ROUTING_STATE_LABEL) == keys.ROUTING_STATE_ACTIVE:
            state = keys.ROUTING_STATE_RESERVE
        else:
            continue
        if labels.get(keys.ROUTING_STATE_LABEL) != state:
            labels[keys.ROUTING_STATE_LABEL] = state
            rev["metadata"].setdefault("annotations", {})[keys.ROUTING_STATE_MODIFIED_ANNOTATION] = format_timestamp(now)
            await store.update(rev)
