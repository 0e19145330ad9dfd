"""An in-process control API that follows the CLI's contract, with a dict for a store.

Applying a Knative Service also creates what the seed walkthrough lists (Configuration, Revision, Route,
ReplicaSet, Pod). Services, Configurations and Routes turn Ready only after ``ready_after`` GETs, so
``apply``'s wait has something to wait for.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from typing import Any

from aiohttp import web

KNATIVE = "serving.knative.dev"
RESOURCES = {
    (KNATIVE, "Service"): "services",
    (KNATIVE, "Configuration"): "configurations",
    (KNATIVE, "Revision"): "revisions",
    (KNATIVE, "Route"): "routes",
    ("", "Pod"): "pods",
    ("apps", "ReplicaSet"): "replicasets",
    ("", "ConfigMap"): "configmaps",
    ("", "Service"): "kubeservices",
}
PLURALS = {"kubeservices": "services", "replicasets": "replicasets.apps"}
WAITED = ("services", "configurations", "routes")


def stamp(ago: float = 0.0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - ago))


def qualified(resource: str) -> str:
    if resource in PLURALS:
        return PLURALS[resource]
    return f"{resource}.{KNATIVE}" if resource in ("services", "configurations", "revisions", "routes") else resource


class FakeControlPlane:
    """State and handlers; tests tune the knobs and read ``requests``."""

    def __init__(self) -> None:
        self.store: dict[str, dict[tuple[str, str], dict]] = {r: {} for r in RESOURCES.values()}
        self.requests: list[tuple[str, str]] = []
        self.apply_bodies: list[Any] = []
        self.ready_after = 2
        self.fail_with: tuple[str, str] | None = None
        self.polls_left: dict[tuple[str, str, str], int] = {}
        self.watch_events: list[dict] = []
        self.hold_streams = False
        self.logs: dict[tuple[str, str, str], str] = {}
        self.stopping = asyncio.Event()
        self.put("kubeservices", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "knative-ingressgateway", "namespace": "istio-system", "creationTimestamp": stamp(7200)},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.10",
                     "ports": [{"name": "http2", "port": 80, "nodePort": 31380, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}},
        })

    # --- store ---------------------------------------------------------------------------------

    def put(self, resource: str, obj: dict) -> dict:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", stamp())
        meta.setdefault("generation", 1)
        self.store[resource][(meta["namespace"], meta["name"])] = obj
        return obj

    def get(self, resource: str, namespace: str, name: str) -> dict | None:
        return self.store[resource].get((namespace, name))

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_post("/v1/apply", self.apply)
        app.router.add_get("/v1/pods/{ns}/{name}/log", self.log)
        app.router.add_get("/v1/{resource}", self.list_or_watch)
        app.router.add_get("/v1/{resource}/{ns}/{name}", self.get_one)
        app.router.add_delete("/v1/{resource}/{ns}/{name}", self.delete)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler):
        self.requests.append((request.method, request.path_qs))
        return await handler(request)

    # --- handlers ------------------------------------------------------------------------------

    async def apply(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.apply_bodies.append(body)
        docs = body.get("documents")
        if not isinstance(docs, list):
            return _error(400, "body must have a documents list")
        details = []
        for index, doc in enumerate(docs):
            group = doc.get("apiVersion", "").rpartition("/")[0]
            if (group, doc.get("kind")) not in RESOURCES:
                return _error(400, f'no matches for kind "{doc.get("kind")}" in version "{doc.get("apiVersion")}"')
            concurrency = _template_spec(doc).get("containerConcurrency")
            if isinstance(concurrency, int) and not 0 <= concurrency <= 1000:
                details.append({"document": index, "path": "spec.template.spec.containerConcurrency",
                                "message": f"must be between 0 and 1000, got {concurrency}"})
        if details:
            return _error(422, "the resources are invalid; nothing was applied", details)
        results = []
        for doc in docs:
            group = doc["apiVersion"].rpartition("/")[0]
            resource = RESOURCES[(group, doc["kind"])]
            results.append(self._apply_one(resource, copy.deepcopy(doc)))
        return web.json_response({"results": results})

    def _apply_one(self, resource: str, doc: dict) -> dict:
        meta = doc["metadata"]
        key = (meta["namespace"], meta["name"])
        old = self.store[resource].get(key)
        content = {k: v for k, v in doc.items() if k not in ("metadata", "status")}
        if old is None:
            action = "created"
            obj = self.put(resource, doc)
        elif {k: v for k, v in old.items() if k not in ("metadata", "status")} == content:
            action = "unchanged"
            obj = old
        else:
            action = "configured"
            doc["metadata"] = {**old["metadata"], **meta, "generation": old["metadata"]["generation"] + 1}
            doc["status"] = old.get("status", {})
            obj = self.put(resource, doc)
        if action == "created" and resource in WAITED:
            obj["status"] = {"observedGeneration": 1, "conditions": [
                {"type": "Ready", "status": "Unknown", "reason": "RevisionMissing",
                 "message": f'Configuration "{meta["name"]}" is waiting for a Revision to become ready.'}]}
        if action != "unchanged" and resource in WAITED:
            # a configured object keeps its old status (often Ready) until the new generation is observed
            self.polls_left[(resource, *key)] = self.ready_after
        if resource == "services" and action != "unchanged":
            self._children(obj)
        return {"apiVersion": doc["apiVersion"], "kind": doc["kind"], "namespace": key[0], "name": key[1],
                "action": action}

    def _children(self, svc: dict) -> None:
        name, ns = svc["metadata"]["name"], svc["metadata"]["namespace"]
        gen = svc["metadata"]["generation"]
        rev = f"{name}-{gen:05d}"
        ready = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": stamp()}],
                 "observedGeneration": gen, "latestCreatedRevisionName": rev, "latestReadyRevisionName": rev}
        self.put("configurations", {"apiVersion": f"{KNATIVE}/v1", "kind": "Configuration",
                                    "metadata": {"name": name, "namespace": ns, "generation": gen},
                                    "spec": {"template": {"spec": _template_spec(svc)}}, "status": dict(ready)})
        labels = {"serving.knative.dev/configuration": name, "serving.knative.dev/configurationGeneration": str(gen),
                  "serving.knative.dev/service": name}
        self.put("revisions", {"apiVersion": f"{KNATIVE}/v1", "kind": "Revision",
                               "metadata": {"name": rev, "namespace": ns, "labels": labels},
                               "spec": {"containers": [{"image": "docker.io/example/knative-example"}]},
                               "status": {"conditions": ready["conditions"], "observedGeneration": 1,
                                          "actualReplicas": 1, "desiredReplicas": 1}})
        url = f"http://{name}.{ns}.example.com"
        self.put("routes", {"apiVersion": f"{KNATIVE}/v1", "kind": "Route",
                            "metadata": {"name": name, "namespace": ns, "generation": gen},
                            "spec": {"traffic": [{"configurationName": name, "percent": 100}]},
                            "status": {"conditions": ready["conditions"], "observedGeneration": gen, "url": url,
                                       "domain": f"{name}.{ns}.example.com",
                                       "traffic": [{"revisionName": rev, "percent": 100, "latestRevision": True}]}})
        rs = f"{rev}-deployment-d65cfb48d"
        self.put("replicasets", {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "metadata": {"name": rs, "namespace": ns, "creationTimestamp": stamp(3600)},
                                 "spec": {"replicas": 1}, "status": {"replicas": 1, "readyReplicas": 1}})
        running = {"running": {"startedAt": stamp(5)}}
        self.put("pods", {"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": f"{rs}-plbrq", "namespace": ns, "creationTimestamp": stamp(5),
                                       "labels": {"serving.knative.dev/revision": rev}},
                          "spec": {"containers": [{"name": "user-container"}, {"name": "queue-proxy"}]},
                          "status": {"phase": "Running", "startTime": stamp(5), "containerStatuses": [
                              {"name": "user-container", "ready": True, "restartCount": 0, "state": running},
                              {"name": "queue-proxy", "ready": True, "restartCount": 0, "state": running}]}})

    async def get_one(self, request: web.Request) -> web.Response:
        resource, ns, name = request.match_info["resource"], request.match_info["ns"], request.match_info["name"]
        if resource not in self.store:
            return _error(404, f'the server could not find the requested resource "{resource}"')
        obj = self.get(resource, ns, name)
        if obj is None:
            return _error(404, f'{qualified(resource)} "{name}" not found')
        key = (resource, ns, name)
        if key in self.polls_left:
            self.polls_left[key] -= 1
            if self.polls_left[key] <= 0:
                del self.polls_left[key]
                self._settle(obj)
        return web.json_response(obj)

    def _settle(self, obj: dict) -> None:
        status = obj.setdefault("status", {})
        status["observedGeneration"] = obj["metadata"]["generation"]
        if self.fail_with:
            reason, message = self.fail_with
            status["conditions"] = [{"type": "Ready", "status": "False", "reason": reason, "message": message}]
            return
        status["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": stamp()}]
        name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
        status["url"] = f"http://{name}.{ns}.example.com"

    async def list_or_watch(self, request: web.Request) -> web.StreamResponse:
        resource = request.match_info["resource"]
        if resource not in self.store:
            return _error(404, f'the server could not find the requested resource "{resource}"')
        query = request.query
        items = [obj for (ns, name), obj in sorted(self.store[resource].items())
                 if (query.get("allNamespaces") == "1" or ns == query.get("namespace", "default"))
                 and query.get("name", name) == name]
        if query.get("watch") != "1":
            return web.json_response({"items": items})
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        try:
            for obj in items:
                await resp.write(json.dumps({"type": "ADDED", "object": obj}).encode() + b"\n")
            for event in self.watch_events:
                await asyncio.sleep(0.01)
                await resp.write(json.dumps(event).encode() + b"\n")
            if self.hold_streams:
                await self.stopping.wait()
            await resp.write_eof()
        except ConnectionResetError:
            pass
        return resp

    async def delete(self, request: web.Request) -> web.Response:
        resource, ns, name = request.match_info["resource"], request.match_info["ns"], request.match_info["name"]
        obj = self.store.get(resource, {}).pop((ns, name), None)
        if obj is None:
            return _error(404, f'{qualified(resource)} "{name}" not found')
        return web.json_response({"deleted": obj})

    async def log(self, request: web.Request) -> web.StreamResponse:
        ns, name = request.match_info["ns"], request.match_info["name"]
        container = request.query.get("container", "user-container")
        if self.get("pods", ns, name) is None:
            return _error(404, f'pods "{name}" not found')
        text = self.logs.get((ns, name, container), "")
        lines = text.splitlines(keepends=True)
        tail = int(request.query.get("tail", "-1"))
        if tail >= 0:
            lines = lines[len(lines) - tail:] if tail else []
        resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await resp.prepare(request)
        try:
            for line in lines:
                await resp.write(line.encode())
                if request.query.get("follow") == "1":
                    await asyncio.sleep(0.01)
            if request.query.get("follow") == "1" and self.hold_streams:
                await self.stopping.wait()
            await resp.write_eof()
        except ConnectionResetError:
            pass
        return resp


def _template_spec(doc: dict) -> dict:
    spec = doc.get("spec") or {}
    if "template" in spec:
        return spec["template"].get("spec") or {}
    run_latest = (spec.get("runLatest") or {}).get("configuration") or {}
    return (run_latest.get("revisionTemplate") or {}).get("spec") or {}


def _error(status: int, message: str, details: list | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status)
