"""The directory snapshot of the local data plane, served to the activator and autoscaler by long-poll."""

from __future__ import annotations

import asyncio

import orjson

from dataplane.api import keys
from dataplane.controller.entries import revision_failure, route_entry
from dataplane.platform.local.runtime import LocalRuntime
from dataplane.platform.local.store import SqliteStore


class DirectoryPublisher:
    """Rebuilds the snapshot after store or pod changes; a new version only when it differs."""

    def __init__(self, store: SqliteStore, runtime: LocalRuntime, host_for=None):
        self.store = store
        self.runtime = runtime
        self.host_for = host_for  # callable(route) -> the host a Route claims before its traffic resolves
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
            entry = {
                "namespace": meta["namespace"],
                "name": meta["name"],
                "containerConcurrency": int(spec.get("containerConcurrency") or 0),
                "timeoutSeconds": int(spec.get("timeoutSeconds") or 300),
                "responseStartTimeoutSeconds": int(spec.get("responseStartTimeoutSeconds") or 0),
                "idleTimeoutSeconds": int(spec.get("idleTimeoutSeconds") or 0),
                "annotations": {k: str(v) for k, v in (meta.get("annotations") or {}).items()},
                "configuration": (meta.get("labels") or {}).get(keys.CONFIGURATION_LABEL, ""),
                "service": (meta.get("labels") or {}).get(keys.SERVICE_LABEL, ""),
                "pods": sorted(pods, key=lambda p: p["name"]),
            }
            failure = revision_failure(state)
            if failure:
                entry["failure"] = failure
            revisions.append(entry)
        by_ns, configs = _by_namespace(self.store.peek(keys.REVISION)), _by_namespace(self.store.peek(keys.CONFIGURATION))
        routes = []
        for route in self.store.peek(keys.ROUTE):
            ns = route["metadata"]["namespace"]
            routes.append(route_entry(route, by_ns.get(ns, {}), configs.get(ns, {}), self.host_for))
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


def _by_namespace(objects: list[dict]) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for obj in objects:
        out.setdefault(obj["metadata"]["namespace"], {})[obj["metadata"]["name"]] = obj
    return out
