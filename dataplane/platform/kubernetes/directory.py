"""The directory snapshot from watches: Revisions, Routes, and the EndpointSlices of private Services.

The same JSON document the local control plane serves (``dataplane.directory``),
so the in-cluster activator and autoscaler follow it the same way: pod
addresses are ``podIP:8012``, stats addresses ``podIP:9090``, ready as the
EndpointSlice says. ``activators`` lists the ready pods behind the activator's
Service, by name in sorted order, so each activator finds its place and takes
its share of every revision's capacity (Knative's activator subsetting).
"""

from __future__ import annotations

import asyncio

import orjson

from dataplane.api import keys
from dataplane.controller.entries import revision_failure, route_entry
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.client import KubeClient
from dataplane.platform.kubernetes.httproutes import ObjectRef
from dataplane.platform.kubernetes.informer import Informer
from dataplane.platform.kubernetes.runtime import KubernetesRuntime, pod_state
from dataplane.platform.kubernetes.sidecar import QUEUE_PORT, STATS_PORT
from dataplane.platform.kubernetes.store import KubernetesStore
from dataplane.platform.kubernetes.workload import SERVICE_TYPE_LABEL, private_service_name

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _port(slice_: dict, name: str, default: int) -> int:
    for port in slice_.get("ports") or []:
        if port.get("name") == name and port.get("port"):
            return int(port["port"])
    return default


def slice_pods(slice_: dict, started: dict[str, float]) -> list[dict]:
    """The directory's pods of one EndpointSlice; terminating endpoints are left out."""
    serving, stats = _port(slice_, "http", QUEUE_PORT), _port(slice_, "http-autometric", STATS_PORT)
    pods = []
    for endpoint in slice_.get("endpoints") or []:
        conditions = endpoint.get("conditions") or {}
        addresses = endpoint.get("addresses") or []
        if not addresses or conditions.get("terminating"):
            continue
        ip = addresses[0]
        host = f"[{ip}]" if ":" in ip else ip
        name = (endpoint.get("targetRef") or {}).get("name") or ip
        pods.append(
            {
                "name": name,
                "address": f"{host}:{serving}",
                "statsAddress": f"{host}:{stats}",
                "ready": conditions.get("ready") is not False,  # unset means ready
                "startedAt": started.get(name, 0.0),
            }
        )
    return pods


def ready_endpoint_names(slices: list[dict]) -> list[str]:
    """Pod names (or addresses) of the ready, not terminating endpoints of a Service's slices, sorted, once each."""
    names = set()
    for slice_ in slices:
        for endpoint in slice_.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            addresses = endpoint.get("addresses") or []
            if not addresses or conditions.get("terminating") or conditions.get("ready") is False:
                continue
            names.add((endpoint.get("targetRef") or {}).get("name") or addresses[0])
    return sorted(names)


class KubernetesDirectory:
    """Rebuilds the snapshot after any watched change; a new version only when it differs."""

    def __init__(
        self,
        client: KubeClient,
        store: KubernetesStore,
        runtime: KubernetesRuntime,
        activator: ObjectRef | None = None,
        **informer_options,
    ):
        self.store = store
        self.runtime = runtime
        self.slices = Informer(client, r.ENDPOINT_SLICE, label_selector=f"{SERVICE_TYPE_LABEL}=Private", **informer_options)
        self.activator_slices = (
            Informer(client, r.ENDPOINT_SLICE, activator.namespace,
                     label_selector=f"{SERVICE_NAME_LABEL}={activator.name}", **informer_options)
            if activator is not None
            else None
        )  # fmt: skip
        self.version = 0
        self.doc: dict = {"version": 0, "revisions": [], "routes": []}
        self.body = orjson.dumps(self.doc)
        self.changed = asyncio.Event()
        self.pending = False
        self.ready_counts: dict[tuple[str, str], int] = {}
        self.on_ready_change: list = []
        """Callables ``(namespace, revision)`` told when a revision's count of ready endpoints changes."""
        self.tasks: list[asyncio.Task] = []
        store.subscribe(lambda event, obj: self.poke())
        runtime.pods.subscribe(lambda event, obj: self.poke())
        for informer in self._informers():
            informer.subscribe(lambda event, obj: self.poke())

    def _informers(self) -> list[Informer]:
        return [self.slices, *([self.activator_slices] if self.activator_slices is not None else [])]

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(informer.run()) for informer in self._informers()]

    async def wait_synced(self) -> None:
        await asyncio.gather(*(informer.synced.wait() for informer in self._informers()))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.changed.set()

    def ready_endpoints(self, namespace: str, revision: str) -> int:
        return self.ready_counts.get((namespace, revision), 0)

    def poke(self) -> None:
        if not self.pending:
            self.pending = True
            asyncio.get_running_loop().call_soon(self.rebuild)

    def rebuild(self) -> None:
        self.pending = False
        by_service: dict[tuple[str, str], list[dict]] = {}
        for slice_ in self.slices.items():
            meta = slice_["metadata"]
            service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
            if service:
                by_service.setdefault((meta.get("namespace", ""), service), []).append(slice_)
        started = {p["metadata"]["name"]: pod_state(p).started_at for p in self.runtime.pods.items()}
        revisions, counts = [], {}
        for rev in self.store.peek(keys.REVISION):
            meta, spec = rev["metadata"], rev.get("spec") or {}
            ns, name = meta["namespace"], meta["name"]
            pods = [p for s in by_service.get((ns, private_service_name(name)), []) for p in slice_pods(s, started)]
            counts[(ns, name)] = sum(1 for p in pods if p["ready"])
            revisions.append(
                {
                    "namespace": ns,
                    "name": name,
                    "containerConcurrency": int(spec.get("containerConcurrency") or 0),
                    "timeoutSeconds": int(spec.get("timeoutSeconds") or 300),
                    "responseStartTimeoutSeconds": int(spec.get("responseStartTimeoutSeconds") or 0),
                    "idleTimeoutSeconds": int(spec.get("idleTimeoutSeconds") or 0),
                    "annotations": {k: str(v) for k, v in (meta.get("annotations") or {}).items()},
                    "configuration": (meta.get("labels") or {}).get(keys.CONFIGURATION_LABEL, ""),
                    "service": (meta.get("labels") or {}).get(keys.SERVICE_LABEL, ""),
                    "pods": sorted(pods, key=lambda p: p["name"]),
                }
            )
            failure = revision_failure(self.runtime.revision_state(ns, name))
            if failure:
                revisions[-1]["failure"] = failure
        changed = {key for key in counts.keys() | self.ready_counts.keys() if counts.get(key, 0) != self.ready_counts.get(key, 0)}
        self.ready_counts = counts
        for key in sorted(changed):
            for listener in self.on_ready_change:
                listener(*key)
        by_ns: dict[str, dict[str, dict]] = {}
        for obj in self.store.peek(keys.REVISION):
            by_ns.setdefault(obj["metadata"]["namespace"], {})[obj["metadata"]["name"]] = obj
        routes = [e for e in (route_entry(rt, by_ns.get(rt["metadata"]["namespace"], {}), {}) for rt in self.store.peek(keys.ROUTE)) if e]
        doc = {
            "revisions": sorted(revisions, key=lambda x: (x["namespace"], x["name"])),
            "routes": sorted(routes, key=lambda x: (x["namespace"], x["name"])),
        }
        if self.activator_slices is not None:
            doc["activators"] = ready_endpoint_names(self.activator_slices.items())
        if any(doc.get(k) != self.doc.get(k) for k in ("revisions", "routes", "activators")):
            self.version += 1
            doc["version"] = self.version
            self.doc = doc
            self.body = orjson.dumps(doc)
            self.changed.set()
            self.changed = asyncio.Event()

    async def wait_newer(self, known: int, timeout: float) -> bytes:
        """The snapshot as soon as its version differs from ``known``, or after ``timeout`` seconds as it is."""
        if known == self.version:
            try:
                await asyncio.wait_for(self.changed.wait(), timeout)
            except TimeoutError:
                pass
        return self.body
