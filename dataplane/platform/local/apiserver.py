"""The local control API the `dataplane` CLI talks to, and the directory the activator follows.

Paths: ``POST /v1/apply`` (``{"documents": [...]}``, or ``{"manifest": "<YAML or JSON text>"}`` read as
``dataplane apply -f`` reads a file); ``GET /v1/<resource>[?namespace=|allNamespaces=1][&watch=1]``;
``GET|DELETE /v1/<resource>/<ns>/<name>``; ``GET /v1/pods/<ns>/<name>/log[?container=&follow=&tail=&sinceTime=&timestamps=&previous=]``;
``GET /v1/directory?version=N&wait=S``; ``GET /v1/events?after=N`` (the event lines `dataplane up` prints, numbered,
those after N); ``GET /v1/series/<ns>/<revision>?since=T`` (a revision's
samples after Unix second T, see ``series``). Errors are ``{"error": ..., "details": [...]}``.
"""

from __future__ import annotations

import asyncio
import copy
import math
import time

import orjson
from aiohttp import web

from dataplane.api import FieldError, ValidationError, admit, keys, schema
from dataplane.api.manifests import ManifestError, parse_documents
from dataplane.api.strict import unknown_fields
from dataplane.controller.store import RESOURCE_NAMES, Conflict
from dataplane.platform.local.podlogs import LogReader, normal_time, previous_path, render, select, valid_time
from dataplane.platform.local.podspec import WORKING_DIR_ANNOTATION
from dataplane.platform.local.runtime import pod_object

STORED = {
    "services": "Service",
    "configurations": "Configuration",
    "revisions": "Revision",
    "routes": "Route",
    "replicasets": "ReplicaSet",
    "configmaps": "ConfigMap",
}
APPLICABLE = {"Service", "Configuration", "Route", "ConfigMap"}
SYSTEM_NAMESPACE = "knative-serving"


def error(status: int, message: str, details: list | None = None) -> web.Response:
    body = {"error": message}
    if details:
        body["details"] = details
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def json_response(doc, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(doc), content_type="application/json")


def _template_working_dir(stored: dict | None) -> str | None:
    """The directory a stored Service's or Configuration's template runs its command in, if it was applied with one."""
    template = ((stored or {}).get("spec") or {}).get("template") or {}
    found = ((template.get("metadata") or {}).get("annotations") or {}).get(WORKING_DIR_ANNOTATION)
    return found if isinstance(found, str) and found else None


def _source_name(given: object) -> str:
    """What a manifest's messages call it: the uploaded file's name, printable and short, else ``manifest``."""
    if not isinstance(given, str) or not given.strip():
        return "manifest"
    return "".join(c if c.isprintable() else "?" for c in given.strip()[:100])


class ApiServer:
    """Routes of the control API over a control plane (store, runtime, directory, config)."""

    def __init__(self, plane):
        self.plane = plane

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/apply", self.apply)
        app.router.add_get("/v1/directory", self.directory)
        app.router.add_get("/v1/pods/{ns}/{name}/log", self.logs)
        app.router.add_get("/v1/series/{ns}/{name}", self.series)
        app.router.add_get("/v1/events", self.events)
        app.router.add_get("/v1/{resource}", self.list)
        app.router.add_get("/v1/{resource}/{ns}/{name}", self.get)
        app.router.add_delete("/v1/{resource}/{ns}/{name}", self.delete)
        app.router.add_get("/healthz", self.healthz)

    @staticmethod
    async def healthz(_request: web.Request) -> web.Response:
        """Up and serving (aiohttp deprecates plain-function handlers, so not a lambda)."""
        return web.Response(text="ok")

    # -- apply -----------------------------------------------------------------------------------

    async def apply(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return error(400, f"request body is not JSON: {exc}")
        docs = body.get("documents") if isinstance(body, dict) else None
        manifest = body.get("manifest") if isinstance(body, dict) else None
        if docs is None and isinstance(manifest, str):
            # pasted or uploaded text (the console): the CLI's reading, so the same text gets the same answer
            try:
                docs = parse_documents(manifest, _source_name(body.get("source")))
            except ManifestError as exc:
                return error(400, str(exc))
            if not docs:
                return error(400, "no objects passed to apply")
        if not isinstance(docs, list):
            return error(400, 'the body must be {"documents": [...]} or {"manifest": "<YAML>"}')
        working_dir = body.get("workingDir") if isinstance(body.get("workingDir"), str) else None
        plane = self.plane
        admitted, details, problems = [], [], []
        for i, doc in enumerate(docs):
            if not isinstance(doc, dict):
                problems.append(f"document {i}: must be an object, got {type(doc).__name__}")
                continue
            kind = doc.get("kind")
            if kind not in APPLICABLE:
                hint = " (Revisions are created by Configurations)" if kind == keys.REVISION else ""
                problems.append(f"document {i}: cannot apply kind {kind!r}{hint}; expected one of {sorted(APPLICABLE)}")
                continue
            try:
                obj = self._admit(doc, working_dir)
            except ValidationError as exc:
                details.extend({"document": i, "path": e.path, "message": e.message} for e in exc.errors)
                continue
            except ValueError as exc:
                details.append({"document": i, "path": getattr(exc, "path", ""), "message": str(exc)})
                continue
            admitted.append(obj)
        if problems:
            return error(400, "; ".join(problems))
        if details:
            return error(422, "the resources are invalid; nothing was applied", details)
        results = []
        for obj in admitted:
            results.append(await self._write(obj))
        return json_response({"results": results})

    def _admit(self, doc: dict, working_dir: str | None) -> dict:
        plane = self.plane
        doc = copy.deepcopy(doc)
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        if doc["kind"] == "ConfigMap":
            name = meta.get("name")
            ns = meta.get("namespace") or "default"
            data = doc.get("data") or {}
            errs = unknown_fields(doc, schema.CONFIG_MAP)
            if not isinstance(name, str) or not name:
                errs.append(FieldError("metadata.name", "is required"))
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                errs.append(FieldError("data", "must map keys to strings"))
            if errs:
                raise ValidationError(errs)
            if ns == SYSTEM_NAMESPACE:
                plane.check_config(name, data)  # raises naming the key
            return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": meta.get("labels") or {}}, "data": data}
        ns = meta.get("namespace") or "default"
        previous = plane.store.cache.get((doc["kind"], ns, meta.get("name")))
        if doc["kind"] in ("Service", "Configuration"):
            # no directory given (the console: pasted text has none): where the object's commands ran so far
            working_dir = working_dir or _template_working_dir(previous)
            if working_dir:
                self._remember_working_dir(doc, working_dir)
        obj = admit(doc, plane.api_config, previous=previous)
        # what only the server writes is accepted (a `get -o yaml` applied again) and ignored
        obj.pop("status", None)
        for field in schema.SERVER_METADATA:
            obj["metadata"].pop(field, None)
        return obj

    @staticmethod
    def _remember_working_dir(doc: dict, working_dir: str) -> None:
        """Where a command with no workingDir runs: the directory it was applied from."""
        spec = doc.get("spec")
        if not isinstance(spec, dict):
            return
        holder = spec
        if "runLatest" in spec or "release" in spec:  # v1alpha1 shapes
            holder = (spec.get("runLatest") or spec.get("release") or {}).get("configuration") or {}
        template = holder.get("template") or holder.get("revisionTemplate")
        if not isinstance(template, dict):
            return
        tmeta = template.setdefault("metadata", {})
        if isinstance(tmeta, dict):
            tmeta.setdefault("annotations", {}).setdefault(WORKING_DIR_ANNOTATION, working_dir)

    async def _write(self, obj: dict) -> dict:
        store = self.plane.store
        meta = obj["metadata"]
        kind, ns, name = obj["kind"], meta.get("namespace") or "default", meta["name"]
        current = await store.get(kind, ns, name)
        result = {"apiVersion": obj.get("apiVersion"), "kind": kind, "namespace": ns, "name": name}
        if current is None:
            await store.create(obj)
            return {**result, "action": "created"}
        updated = copy.deepcopy(current)
        for field in ("spec", "data"):
            if field in obj:
                updated[field] = obj[field]
        updated["metadata"]["labels"] = meta.get("labels") or {}
        updated["metadata"]["annotations"] = meta.get("annotations") or {}
        if updated == current:
            return {**result, "action": "unchanged"}
        await store.update(updated)
        return {**result, "action": "configured"}

    # -- reads -----------------------------------------------------------------------------------

    def _items(self, resource: str, ns: str | None) -> list[dict] | None:
        plane = self.plane
        if resource in STORED:
            return [copy.deepcopy(o) for o in plane.store.peek(STORED[resource], ns)]
        if resource == "pods":
            return [pod_object(p) for p in plane.runtime.pods() if ns is None or p.template.namespace == ns]
        if resource == "kubeservices":
            return [o for o in plane.kube_services() if ns is None or o["metadata"]["namespace"] == ns]
        return None

    async def list(self, request: web.Request) -> web.StreamResponse:
        resource = request.match_info["resource"]
        ns = None if request.query.get("allNamespaces") in ("1", "true") else request.query.get("namespace") or "default"
        items = self._items(resource, ns)
        if items is None:
            return error(404, f'the server does not have a resource type "{resource}"')
        if request.query.get("watch") in ("1", "true"):
            return await self.watch(request, resource, ns, request.query.get("name"))
        return json_response({"items": sorted(items, key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))})

    async def get(self, request: web.Request) -> web.Response:
        resource, ns, name = (request.match_info[k] for k in ("resource", "ns", "name"))
        items = self._items(resource, ns)
        if items is None:
            return error(404, f'the server does not have a resource type "{resource}"')
        for obj in items:
            if obj["metadata"]["name"] == name:
                return json_response(obj)
        return error(404, f'{self._resource_name(resource)} "{name}" not found')

    async def delete(self, request: web.Request) -> web.Response:
        resource, ns, name = (request.match_info[k] for k in ("resource", "ns", "name"))
        if resource not in STORED:
            return error(405, f"{resource} cannot be deleted")
        deleted = await self.plane.store.delete(STORED[resource], ns, name)
        if deleted is None:
            return error(404, f'{self._resource_name(resource)} "{name}" not found')
        return json_response({"deleted": deleted})

    @staticmethod
    def _resource_name(resource: str) -> str:
        kind = STORED.get(resource)
        return RESOURCE_NAMES.get(kind, resource) if kind else resource

    async def watch(self, request: web.Request, resource: str, ns: str | None, name: str | None) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        events: asyncio.Queue = asyncio.Queue()
        seen: dict[str, dict] = {}

        def matches(obj: dict) -> bool:
            m = obj["metadata"]
            return (ns is None or m.get("namespace") == ns) and (name is None or m["name"] == name)

        def refresh() -> None:
            current = {o["metadata"]["name"]: o for o in self._items(resource, ns) or [] if matches(o)}
            for key, obj in current.items():
                if key not in seen:
                    events.put_nowait(("ADDED", obj))
                elif seen[key] != obj:
                    events.put_nowait(("MODIFIED", obj))
            for key in [k for k in seen if k not in current]:
                events.put_nowait(("DELETED", seen.pop(key)))
            seen.update(current)

        unsubscribe = self.plane.store.subscribe(lambda event, obj: refresh())
        on_pods = None
        if resource == "pods":
            on_pods = lambda _ns, _name: refresh()  # noqa: E731
            self.plane.runtime.subscribe(on_pods)
        refresh()
        try:
            while True:
                event, obj = await events.get()
                await resp.write(orjson.dumps({"type": event, "object": obj}) + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            unsubscribe()
            if on_pods is not None:
                self.plane.runtime.listeners.remove(on_pods)
        return resp

    async def logs(self, request: web.Request) -> web.StreamResponse:
        """A container's log: ``container``, ``follow``, ``tail`` (lines), ``sinceTime`` (RFC 3339), ``timestamps``
        and ``previous`` (the run before the last restart), as the kubelet's log endpoint takes them."""
        ns, name = request.match_info["ns"], request.match_info["name"]
        query = request.query
        container = query.get("container", "user-container")
        if container not in ("user-container", "queue-proxy"):
            return error(400, f'container "{container}" is not valid for pod "{name}": use user-container or queue-proxy')
        tail = query.get("tail")
        if tail is not None and not tail.isdigit():
            return error(400, f"tail must be a whole number of lines, got {tail!r}")
        since = query.get("sinceTime")
        if since is not None and not valid_time(since):
            return error(400, f"sinceTime must be an RFC 3339 time such as 2026-01-02T03:04:05Z, got {since!r}")
        since = normal_time(since) if since is not None else None
        timestamps = query.get("timestamps") in ("1", "true")
        path = self.plane.log_path(ns, name, container)
        if path is None or not path.exists():
            return error(404, f'pods "{name}" not found')
        if query.get("previous") in ("1", "true"):
            path = previous_path(path)
            if not path.exists():
                return error(400, f'previous terminated container "{container}" in pod "{name}" not found')
        data = path.read_bytes()
        reader = LogReader()
        body = render(select(reader.feed(data), since, int(tail) if tail is not None else None), timestamps)
        if query.get("follow") not in ("1", "true") or query.get("previous") in ("1", "true"):
            return web.Response(body=body, content_type="text/plain")
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        await resp.write(body)
        offset = len(data)
        try:
            while self.plane.runtime.find_pod(ns, name) is not None:
                await asyncio.sleep(0.25)
                try:
                    size = path.stat().st_size
                except FileNotFoundError:
                    size = 0
                if size < offset:
                    offset = 0  # the container restarted: its new log begins
                if size > offset:
                    with path.open("rb") as f:
                        f.seek(offset)
                        chunk = f.read(size - offset)
                    offset = size
                    await resp.write(render(select(reader.feed(chunk), since), timestamps))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return resp

    async def events(self, request: web.Request) -> web.Response:
        """The event lines numbered after ``after`` (all kept ones without it): why pods came and went."""
        after = request.query.get("after", "0")
        if not after.isdigit():
            return error(400, f"after must be an event number, not {after!r}")
        return json_response({"events": [e for e in self.plane.recent if e["seq"] > int(after)]})

    async def series(self, request: web.Request) -> web.Response:
        """A revision's samples after ``since`` (a Unix second; all kept ones without it)."""
        ns, name = request.match_info["ns"], request.match_info["name"]
        try:
            since = float(request.query.get("since", "0"))
        except ValueError:
            return error(400, f"since must be a Unix time in seconds, not {request.query['since']!r}")
        if not math.isfinite(since):
            return error(400, "since must be a finite number")
        self.plane.latency.watch((ns, name), time.time())
        samples = self.plane.series.since((ns, name), since)
        if samples is None:
            return error(404, f'no series for revision "{name}" in namespace "{ns}": the autoscaler does not scale it (yet)')
        return json_response({"namespace": ns, "name": name, "samples": samples})

    async def directory(self, request: web.Request) -> web.Response:
        try:
            known = int(request.query.get("version", "-1"))
            wait = min(float(request.query.get("wait", "30")), 60.0)
        except ValueError:
            return error(400, "version and wait must be numbers")
        body = await self.plane.directory.wait_newer(known, wait)
        return web.Response(body=body, content_type="application/json")
