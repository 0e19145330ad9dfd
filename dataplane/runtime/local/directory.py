"""The directory snapshot of the local data plane, served to the activator and autoscaler by long-poll."""

from __future__ import annotations

import asyncio

import orjson

from dataplane.api import keys
from dataplane.api import conditions as c
from dataplane.runtime.local.runtime import LocalRuntime
from dataplane.runtime.local.store import SqliteStore


class DirectoryPublisher:
    """Rebuilds the snapshot after store or pod changes; a new version only when it differs."""

    def __init__(self, store: SqliteStore, runtime: LocalRuntime):
        self.store = store
        self.runtime = runtime
        self.version = 0
        self.doc: dict = {"version": 0, "revisions": [], "routes": []}
        self.body = orjson.dumps(self.doc)
        self.changed = asyncio.Event()
        self.pending = False
        self.on_change = None  # callable(doc) after each new version
        store.subscribe(lambda event, obj: self.poke())
        runtime.subscribe(lambda ns, name: self.poke())

    def poke(self) -> None:
        if not self.pending:
            self.pending = True
            asyncio.get_running_loop().call_soon(self.rebuild)

    def rebuild(self) -> None:
        self.pending = False
        revisions = []
        for rev in self.store.peek(keys.REVISION):
            meta, spec = rev["metadata"], rev.get("spec") or {}
            state = self.runtime.revision_state(meta["namespace"], meta["name"])
            pods = []
            if state is not None:
                for pod in state.pods:
                    if pod.phase == "Running":
                        pods.append(
                            {
                                "name": pod.name,
                                "address": pod.address,
                                "statsAddress": pod.stats_address,
                                "ready": pod.ready,
                                "startedAt": pod.started_at,
                            }
                        )
            revisions.append(
                {
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "containerConcurrency": int(spec.get("containerConcurrency") or 0),
                    "timeoutSeconds": int(spec.get("timeoutSeconds") or 300),
                    "responseStartTimeoutSeconds": int(spec.get("responseStartTimeoutSeconds") or 0),
                    "idleTimeoutSeconds": int(spec.get("idleTimeoutSeconds") or 0),
                    "annotations": {k: str(v) for k, v in (meta.get("annotations") or {}).items()},
                    "pods": sorted(pods, key=lambda p: p["name"]),
                }
            )
        routes = [route_entry(r) for r in self.store.peek(keys.ROUTE)]
        doc = {"revisions": sorted(revisions, key=lambda r: (r["namespace"], r["name"])), "routes": [r for r in routes if r]}
        if doc["revisions"] != self.doc["revisions"] or doc["routes"] != self.doc["routes"]:
            self.version += 1
            doc["version"] = self.version
            self.doc = doc
            self.body = orjson.dumps(doc)
            self.changed.set()
            self.changed = asyncio.Event()
            if self.on_change is not None:
                self.on_change(doc)

    async def wait_newer(self, known: int, timeout: float) -> bytes:
        if known == self.version:
            try:
                await asyncio.wait_for(self.changed.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        return self.body


def route_entry(route: dict) -> dict | None:
    """Hosts and weighted revisions of a Route, from its resolved ``status.traffic``."""
    status = route.get("status") or {}
    if c.condition_status(status, c.ALL_TRAFFIC_ASSIGNED) != c.TRUE or not status.get("url"):
        return None
    meta = route["metadata"]
    host = status["url"].removeprefix("http://")
    traffic = [{"revisionName": t["revisionName"], "percent": t["percent"]} for t in status.get("traffic") or [] if t.get("percent")]
    tag_hosts = {}
    for t in status.get("traffic") or []:
        if t.get("tag") and t.get("url"):
            tag_hosts[t["url"].removeprefix("http://")] = t["revisionName"]
    return {"namespace": meta["namespace"], "name": meta["name"], "hosts": [host], "traffic": traffic, "tagHosts": tag_hosts}
