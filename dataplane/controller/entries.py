"""The directory's entries for Routes and revision failures, built from API objects (pure); both backends use them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dataplane.api import conditions as c
from dataplane.controller import health
from dataplane.controller.runtime import RevisionState


def _host(url: str) -> str:
    return url.split("://", 1)[-1]


def revision_failure(state: RevisionState | None) -> str:
    """The revision entry's ``failure``: the reason no pod can serve it now, or ""."""
    problem = health.serving_failure(state)
    return problem.reason if problem is not None else ""


def route_entry(route: dict, revisions: Mapping[str, dict], configurations: Mapping[str, dict],
                host_for: Callable[[dict], str | None] | None = None) -> dict | None:
    """Hosts and weighted revisions of a Route, from its resolved ``status.traffic``.

    Traffic resolved once keeps being served when a later resolution fails (as a
    Knative ingress keeps its last programming). A Route that never resolved
    still claims its host (from ``host_for``): the entry then names the revision
    it waits for and that revision's reason, so requests get 503 saying so, not 404.
    """
    status = route.get("status") or {}
    meta = route["metadata"]
    base = {"namespace": meta["namespace"], "name": meta["name"]}
    if status.get("url") and (status.get("traffic") or c.condition_status(status, c.ALL_TRAFFIC_ASSIGNED) == c.TRUE):
        traffic = [{"revisionName": t["revisionName"], "percent": t["percent"]} for t in status.get("traffic") or [] if t.get("percent")]
        tag_hosts = {_host(t["url"]): t["revisionName"] for t in status.get("traffic") or [] if t.get("tag") and t.get("url")}
        return {**base, "hosts": [_host(status["url"])], "traffic": traffic, "tagHosts": tag_hosts}
    host = host_for(route) if host_for is not None else None
    if not host:
        return None
    name, reason = _waited_for(route, revisions, configurations)
    return {**base, "hosts": [host], "traffic": [], "failure": {"revisionName": name, "reason": reason}}


def _waited_for(route: dict, revisions: Mapping[str, dict], configurations: Mapping[str, dict]) -> tuple[str, str]:
    """The revision a Route's traffic is waiting for, and its reason (its Ready condition's)."""
    assigned = c.get_condition(route.get("status"), c.ALL_TRAFFIC_ASSIGNED) or {}
    fallback = "", "".join(ch for ch in str(assigned.get("reason") or "RevisionMissing") if ch.isalnum())[:64]
    for target in (route.get("spec") or {}).get("traffic") or []:
        name = target.get("revisionName")
        if not name:
            config = configurations.get(target.get("configurationName") or "") or {}
            name = (config.get("status") or {}).get("latestCreatedRevisionName")
        if not name:
            continue
        ready = c.get_condition((revisions.get(name) or {}).get("status"), c.READY) or {}
        reason = "".join(ch for ch in str(ready.get("reason") or "") if ch.isalnum())[:64]
        if not reason:
            reason = "RevisionFailed" if ready.get("status") == c.FALSE else "RevisionNotReady"
        return name, reason
    return fallback
