"""Status conditions and how ``Ready`` follows from them, per kind (Knative's living condition sets).

All functions return a new status dict and leave their input untouched; the
clock is injected so transitions are reproducible.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from . import keys
from .checks import quote
from .timestamps import Clock, format_timestamp

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"
READY = "Ready"
CONFIGURATIONS_READY = "ConfigurationsReady"
ROUTES_READY = "RoutesReady"
RESOURCES_AVAILABLE = "ResourcesAvailable"
CONTAINER_HEALTHY = "ContainerHealthy"
ACTIVE = "Active"  # reported on Revisions but never part of Ready: scaled to zero is still Ready
ALL_TRAFFIC_ASSIGNED = "AllTrafficAssigned"
INGRESS_READY = "IngressReady"

DEPENDENTS: Mapping[str, tuple[str, ...]] = {
    keys.SERVICE: (CONFIGURATIONS_READY, ROUTES_READY),
    keys.CONFIGURATION: (),
    keys.REVISION: (RESOURCES_AVAILABLE, CONTAINER_HEALTHY),
    keys.ROUTE: (ALL_TRAFFIC_ASSIGNED, INGRESS_READY),
}
_STATUSES = (TRUE, FALSE, UNKNOWN)


def _copy(status: Mapping | None) -> dict:
    return copy.deepcopy(dict(status)) if status else {}


def get_condition(status: Mapping | None, type_: str) -> dict | None:
    """The condition of ``type_``, or None."""
    for cond in (status or {}).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == type_:
            return dict(cond)
    return None


def condition_status(status: Mapping | None, type_: str) -> str:
    """``True``/``False``/``Unknown``; a missing condition is ``Unknown``."""
    cond = get_condition(status, type_)
    return cond.get("status", UNKNOWN) if cond else UNKNOWN


def set_condition(status: Mapping | None, type_: str, cond_status: str, reason: str = "",
                  message: str = "", *, now: Clock) -> dict:
    """Set one condition; ``lastTransitionTime`` moves only when something about it changed."""
    if cond_status not in _STATUSES:
        raise ValueError(f"condition status must be one of {_STATUSES}, got {quote(cond_status)}")
    out = _copy(status)
    new = {"type": type_, "status": cond_status}
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    old = get_condition(out, type_)
    if old and {k: v for k, v in old.items() if k != "lastTransitionTime"} == new:
        return out
    new["lastTransitionTime"] = format_timestamp(now)
    others = [c for c in out.get("conditions") or [] if not (isinstance(c, Mapping) and c.get("type") == type_)]
    out["conditions"] = sorted(others + [new], key=lambda c: str(c.get("type")))
    return out


def derive_ready(status: Mapping | None, kind: str, *, now: Clock) -> dict:
    """Recompute ``Ready`` from the kind's dependent conditions.

    False wins over Unknown, and the most recently changed dependent lends
    Ready its reason and message; all True makes Ready True.
    """
    dependents = DEPENDENTS[kind]
    if not dependents:
        return _copy(status)
    conds = []
    for order, type_ in enumerate(dependents):
        cond = get_condition(status, type_) or {"type": type_, "status": UNKNOWN}
        conds.append((cond.get("lastTransitionTime", ""), -order, cond))
    for wanted in (FALSE, UNKNOWN):
        matching = [c for c in conds if c[2].get("status") == wanted]
        if matching:
            cause = max(matching, key=lambda c: (c[0], c[1]))[2]
            return set_condition(status, READY, wanted, cause.get("reason", ""), cause.get("message", ""), now=now)
    return set_condition(status, READY, TRUE, now=now)


def mark(status: Mapping | None, kind: str, type_: str, cond_status: str, reason: str = "",
         message: str = "", *, now: Clock) -> dict:
    """Set a condition and, when it is one ``Ready`` depends on, re-derive ``Ready``."""
    out = set_condition(status, type_, cond_status, reason, message, now=now)
    return derive_ready(out, kind, now=now) if type_ in DEPENDENTS[kind] else out


def initialize(status: Mapping | None, kind: str, *, now: Clock) -> dict:
    """Add ``Unknown`` conditions for anything not reported yet (Ready and its dependents)."""
    out = _copy(status)
    for type_ in (READY,) + DEPENDENTS[kind]:
        if get_condition(out, type_) is None:
            out = set_condition(out, type_, UNKNOWN, now=now)
    return out


VALIDATION_FAILED = "ValidationFailed"


def mark_invalid(status: Mapping | None, kind: str, message: str, generation: int, *, now: Clock) -> dict:
    """``Ready=False``, reason ``ValidationFailed``, for a stored object that admission would refuse.

    Such an object got in while the webhook was away or before it was installed;
    its children are left as they are until it is fixed, and the next reconcile
    of a valid spec derives ``Ready`` afresh.
    """
    out = initialize(status, kind, now=now)
    out = set_condition(out, READY, FALSE, VALIDATION_FAILED, message, now=now)
    return set_observed_generation(out, generation)


def set_observed_generation(status: Mapping | None, generation: int) -> dict:
    """Record which ``metadata.generation`` this status describes."""
    out = _copy(status)
    out["observedGeneration"] = generation
    return out


def _observed_current(obj: Mapping) -> bool:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    status = obj.get("status") if isinstance(obj.get("status"), Mapping) else {}
    return status.get("observedGeneration", 0) == meta.get("generation", 0)


def is_ready(obj: Mapping) -> bool:
    """Ready is True and the status describes the current generation."""
    return _observed_current(obj) and condition_status(obj.get("status"), READY) == TRUE


def is_failed(obj: Mapping) -> bool:
    """Ready is False and the status describes the current generation."""
    return _observed_current(obj) and condition_status(obj.get("status"), READY) == FALSE


# -- Configuration: Ready tracks its latest created revision --------------------------------------

def set_latest_created(status: Mapping | None, name: str, reason: str = "", message: str = "", *, now: Clock) -> dict:
    """A new revision was created; Ready is Unknown until it is the latest ready one.

    ``reason``/``message``: what the revision says it is waiting for (e.g. nothing
    listens on its port), so that those waiting on the Configuration see it too.
    """
    out = _copy(status)
    out["latestCreatedRevisionName"] = name
    if out.get("latestReadyRevisionName") != name:
        out = set_condition(out, READY, UNKNOWN, reason, message, now=now)
    return out


def set_latest_ready(status: Mapping | None, name: str, *, now: Clock) -> dict:
    """A revision became ready; Ready is True once it is also the latest created one."""
    out = _copy(status)
    out["latestReadyRevisionName"] = name
    if out.get("latestCreatedRevisionName") == name:
        out = set_condition(out, READY, TRUE, now=now)
    return out


def mark_latest_created_failed(status: Mapping | None, name: str, message: str, *, now: Clock) -> dict:
    """The latest created revision failed: Ready False ``RevisionFailed`` (traffic stays where it was)."""
    return set_condition(status, READY, FALSE, "RevisionFailed",
                         f"Revision {quote(name)} failed with message: {message}.", now=now)


# -- Service: mirrors its Configuration and Route ---------------------------------------------------

def _mirror(status: dict, kind: str, type_: str, child_status: Mapping | None, *, now: Clock) -> dict:
    cond = get_condition(child_status, READY)
    if cond is None:
        return status
    return mark(status, kind, type_, cond.get("status", UNKNOWN), cond.get("reason", ""),
                cond.get("message", ""), now=now)


def propagate_configuration_status(service_status: Mapping | None, configuration_status: Mapping | None,
                                   *, now: Clock) -> dict:
    """Copy revision names from the Configuration and mirror its Ready as ``ConfigurationsReady``."""
    out = _copy(service_status)
    for field in ("latestCreatedRevisionName", "latestReadyRevisionName"):
        if (configuration_status or {}).get(field):
            out[field] = configuration_status[field]
    return _mirror(out, keys.SERVICE, CONFIGURATIONS_READY, configuration_status, now=now)


def propagate_route_status(service_status: Mapping | None, route_status: Mapping | None, *, now: Clock) -> dict:
    """Copy URL, address and traffic from the Route and mirror its Ready as ``RoutesReady``."""
    out = _copy(service_status)
    for field in ("url", "address", "traffic"):
        if (route_status or {}).get(field) is not None:
            out[field] = copy.deepcopy(route_status[field])
    return _mirror(out, keys.SERVICE, ROUTES_READY, route_status, now=now)

