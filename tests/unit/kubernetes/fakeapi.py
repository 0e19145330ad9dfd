"""A small Kubernetes API server for tests: real HTTP, real JSON, real watch streams.

What it keeps of the real one: a global resourceVersion, list (with limit and
continue) and chunked watch streams resuming from a resourceVersion, BOOKMARK
events, a watch window (``expire_watches`` makes older resumptions get a 410
ERROR event), optimistic concurrency (409 on a stale resourceVersion),
``metadata.generation`` bumped on spec changes, ``/status`` and ``/scale``
subresources, merge patches, label selectors and cascading deletion by
ownerReferences. Nothing runs the pods: tests write statuses themselves.

It also answers as kubectl needs (fakediscovery): discovery, OpenAPI v3 paths, ``dryRun=All``
(everything but the commit) and ``fieldValidation`` (Strict refuses, Warn warns; without the
parameter fields are not checked), and it stores the kinds ``deploy/`` is made of. Of admission it
models the webhooks (``fakewebhooks``: registered Mutating/ValidatingWebhookConfigurations are
called over TLS, after field validation, before the write); built-in admission plugins are not
modelled: a namespaced object may be created in a namespace that does not exist.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from dataclasses import dataclass, field

from aiohttp import web

from dataplane.platform.kubernetes import resources as r
from tests.unit.kubernetes import fakediscovery as disc
from tests.unit.kubernetes.fakeutil import merge_patch, selector_matches, status_body
from tests.unit.kubernetes.fakewebhooks import AdmissionFailure, WebhookCaller

ResKey = tuple[str, str]  # (group, plural)


@dataclass(frozen=True)
class Kind:
    resource: r.Resource
    status: bool = True
    """Has a /status subresource: the main resource ignores status, create resets it."""
    scale: bool = False
    strict_update: bool = False
    """Updates must carry metadata.resourceVersion (custom resources)."""
    schema: str | None = "kubernetes"
    """What ``fieldValidation`` checks fields against: "kubernetes" (its published schemas), "crd"
    (deploy/crds), or None when the fake holds no schema for the kind (it then does not offer the check)."""


# the kinds deploy/ and its examples are made of that the controller does not use
NAMESPACE = r.Resource("Namespace", "", "v1", "namespaces", namespaced=False)
SERVICE_ACCOUNT = r.Resource("ServiceAccount", "", "v1", "serviceaccounts")
CRD = r.Resource("CustomResourceDefinition", "apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
RBAC = "rbac.authorization.k8s.io"
CLUSTER_ROLE = r.Resource("ClusterRole", RBAC, "v1", "clusterroles", namespaced=False)
CLUSTER_ROLE_BINDING = r.Resource("ClusterRoleBinding", RBAC, "v1", "clusterrolebindings", namespaced=False)
ROLE = r.Resource("Role", RBAC, "v1", "roles")
ROLE_BINDING = r.Resource("RoleBinding", RBAC, "v1", "rolebindings")
PDB = r.Resource("PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets")
GATEWAY = r.GATEWAY
HPA = r.Resource("HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers")


KINDS = (
    *(Kind(res, strict_update=True, schema="crd") for res in r.SERVING.values()),
    Kind(r.CONFIGMAP, status=False),
    Kind(r.DEPLOYMENT, scale=True),
    Kind(r.POD),
    Kind(r.KUBE_SERVICE),
    Kind(r.ENDPOINT_SLICE, status=False),
    Kind(r.HTTP_ROUTE, strict_update=True, schema=None),
    Kind(r.REFERENCE_GRANT, status=False, strict_update=True, schema=None),
    Kind(r.LEASE, status=False),
    Kind(NAMESPACE),
    Kind(SERVICE_ACCOUNT, status=False),
    Kind(CRD),
    *(Kind(res, status=False) for res in (CLUSTER_ROLE, CLUSTER_ROLE_BINDING, ROLE, ROLE_BINDING)),
    Kind(PDB),
    Kind(HPA),
    Kind(GATEWAY, strict_update=True, schema=None),
    Kind(r.SECRET, status=False),
    Kind(r.EVENT, status=False),
    Kind(r.MUTATING_WEBHOOK, status=False),
    Kind(r.VALIDATING_WEBHOOK, status=False),
)
BUILT_IN_GROUPS = (
    "", "apps", "discovery.k8s.io", "coordination.k8s.io", "policy", RBAC, "apiextensions.k8s.io",
    "admissionregistration.k8s.io", "autoscaling",
)  # fmt: skip


@dataclass(eq=False)
class Watcher:
    key: ResKey
    namespace: str | None
    selector: str
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


class FakeApiServer:
    """An API server on 127.0.0.1; ``url`` is its address."""

    def __init__(self, bookmark_interval: float = 0.2):
        self.kinds = {(k.resource.group, k.resource.version, k.resource.plural): k for k in KINDS}
        self.objects: dict[ResKey, dict[tuple[str, str], dict]] = {}
        self.rv = 100
        self.history: list[tuple[int, ResKey, str, dict]] = []
        self.compacted = 0
        self.watchers: set[Watcher] = set()
        self.requests: list[tuple[str, str]] = []
        self.conflicts: dict[str, int] = {}
        """path -> how many more PUT/PATCH requests to answer 409 as if someone else had just written."""
        self.bookmark_interval = bookmark_interval
        self.webhooks = WebhookCaller(self)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> FakeApiServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self

    async def stop(self) -> None:
        self.close_watches()
        if self.runner is not None:
            await self.runner.cleanup()

    # -- direct access for tests (as another client of the API would) ------------------------------

    def get(self, res: r.Resource, namespace: str, name: str) -> dict | None:
        obj = self.objects.get((res.group, res.plural), {}).get((namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def items(self, res: r.Resource, namespace: str | None = None) -> list[dict]:
        objs = self.objects.get((res.group, res.plural), {})
        return [copy.deepcopy(o) for (ns, _), o in sorted(objs.items()) if namespace is None or ns == namespace]

    def put(self, res: r.Resource, obj: dict) -> dict:
        """Create or replace ``obj`` as it is (status included)."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace", "") if res.namespaced else "", meta["name"])
        old = self.objects.get((res.group, res.plural), {}).get(key)
        meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        return copy.deepcopy(self._commit((res.group, res.plural), key, obj, "MODIFIED" if old else "ADDED"))

    def set_status(self, res: r.Resource, namespace: str, name: str, status: dict) -> dict:
        obj = self.get(res, namespace, name)
        assert obj is not None, f"{res.plural} {namespace}/{name} does not exist"
        obj["status"] = status
        return self.put(res, obj)

    def remove(self, res: r.Resource, namespace: str, name: str) -> None:
        self._delete((res.group, res.plural), (namespace, name))

    def close_watches(self) -> None:
        """End every open watch stream, as a dropped connection would."""
        for watcher in list(self.watchers):
            watcher.queue.put_nowait(None)

    def expire_watches(self) -> None:
        """Drop the watches and compact history: resuming from any earlier resourceVersion gets 410 Gone."""
        self.close_watches()
        self.rv += 1
        self.compacted = self.rv

    def count(self, method: str, path_prefix: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(path_prefix))

    # -- HTTP --------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        parts = [p for p in request.path.split("/") if p]
        if request.method == "GET" and (about := self._about(request, parts)) is not None:
            return about
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return _error(404, "NotFound", f"the server could not find the requested resource ({request.path})")
        namespace = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or (group, version, rest[0]) not in self.kinds:
            return _error(404, "NotFound", f"the server could not find the requested resource ({request.path})")
        kind = self.kinds[(group, version, rest[0])]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub not in (None, "status", "scale") or (sub == "status" and not kind.status) or (sub == "scale" and not kind.scale):
            return _error(404, "NotFound", f"the server could not find the requested resource ({request.path})")
        try:
            if name is None:
                if request.method == "GET" and request.query.get("watch") in ("true", "1"):
                    return await self._watch(request, kind, namespace)
                if request.method == "GET":
                    return self._list(request, kind, namespace)
                if request.method == "POST":
                    body = await request.json()
                    warnings = self._checked(request, kind, body)
                    dry = self._dry_run(request)
                    if kind.resource.namespaced and isinstance(body.get("metadata"), dict):
                        body["metadata"].setdefault("namespace", namespace)
                    body = await self.webhooks.admit(kind.resource, "CREATE", body, None, namespace, dry)
                    created = self._create(kind, namespace, body, commit=not dry)
                    headers = {"Warning": ", ".join(f'299 - "{w}"' for w in warnings)} if warnings else None
                    return web.json_response(created, status=201, headers=headers)
            elif request.method == "GET":
                obj = self._existing(kind, namespace, name)
                return web.json_response(_scale_of(obj) if sub == "scale" else obj)
            elif request.method in ("PUT", "PATCH"):
                body = await request.json()
                dry = self._dry_run(request)
                check = None if sub else (lambda new: self._checked(request, kind, new))
                written, warnings = await self._write(
                    request.method, request.path, kind, namespace, name, sub, body, not dry, check
                )
                headers = {"Warning": ", ".join(f'299 - "{w}"' for w in warnings)} if warnings else None
                return web.json_response(written, headers=headers)
            elif request.method == "DELETE":
                obj = self._existing(kind, namespace, name)
                if not self._dry_run(request):
                    self._delete((group, kind.resource.plural), (namespace or "", name))
                return web.json_response(obj)
        except (ApiFailure, AdmissionFailure) as exc:
            return _error(exc.code, exc.reason, exc.message, getattr(exc, "details", None))
        return _error(405, "MethodNotAllowed", f"{request.method} is not supported here")

    def _about(self, request: web.Request, parts: list[str]) -> web.Response | None:
        """Discovery, version and OpenAPI answers; None when the path is a resource's."""
        kinds = list(self.kinds.values())
        if parts == ["version"]:
            return web.json_response(disc.version_info())
        if parts == ["api"]:
            return web.json_response(disc.api_versions(request.host))
        if parts == ["apis"]:
            return web.json_response(disc.api_groups(kinds))
        if parts[:1] == ["openapi"]:
            if parts == ["openapi", "v3"]:
                return web.json_response(disc.openapi_root(kinds))
            document = disc.openapi_document(kinds, "/".join(parts[2:])) if parts[:2] == ["openapi", "v3"] else None
            if document is None:
                return _error(404, "NotFound", f"the server could not find the requested resource ({request.path})")
            return web.json_response(document)
        if (len(parts) == 2 and parts[0] == "api") or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
            listing = disc.api_resources(kinds, group, version)
            if listing is None:
                return _error(404, "NotFound", f"the server could not find the requested resource ({request.path})")
            return web.json_response(listing)
        return None

    def _checked(self, request: web.Request, kind: Kind, body: dict) -> list[str]:
        """``fieldValidation`` on a write: raise for Strict, return warnings for Warn."""
        directive = request.query.get("fieldValidation", "Ignore")
        if directive not in ("Ignore", "Warn", "Strict"):
            raise ApiFailure(400, "BadRequest", f"fieldValidation: Unsupported value: {directive!r}")
        if directive == "Ignore" or kind.schema is None:
            return []
        errors = disc.field_errors(kind.schema, body)
        invalid = [e.message for e in errors if not e.unknown]
        if invalid:
            name = body["metadata"].get("name")
            raise ApiFailure(422, "Invalid", f'{kind.resource.kind} "{name}" is invalid: ' + "; ".join(invalid))
        unknown = [e.message for e in errors]
        if unknown and directive == "Strict":
            raise ApiFailure(400, "BadRequest", "strict decoding error: " + ", ".join(unknown))
        return unknown

    def _existing(self, kind: Kind, namespace: str | None, name: str) -> dict:
        obj = self.objects.get((kind.resource.group, kind.resource.plural), {}).get((namespace or "", name))
        if obj is None:
            raise ApiFailure(404, "NotFound", f'{kind.resource.qualified} "{name}" not found')
        return copy.deepcopy(obj)

    def _list(self, request: web.Request, kind: Kind, namespace: str | None) -> web.Response:
        res = kind.resource
        selector = request.query.get("labelSelector", "")
        objs = [
            copy.deepcopy(o)
            for (ns, _), o in sorted(self.objects.get((res.group, res.plural), {}).items())
            if (namespace is None or ns == namespace) and selector_matches(selector, o)
        ]
        start = int(request.query.get("continue") or 0)
        limit = int(request.query.get("limit") or 0) or len(objs)
        page = objs[start : start + limit]
        if res.group in BUILT_IN_GROUPS:
            for obj in page:  # built-in lists leave kind and apiVersion to the list itself
                obj.pop("kind", None)
                obj.pop("apiVersion", None)
        meta = {"resourceVersion": str(self.rv)}
        if start + limit < len(objs):
            meta["continue"] = str(start + limit)
        return web.json_response({"apiVersion": res.api_version, "kind": res.kind + "List", "metadata": meta, "items": page})

    async def _watch(self, request: web.Request, kind: Kind, namespace: str | None) -> web.StreamResponse:
        res = kind.resource
        key = (res.group, res.plural)
        watcher = Watcher(key, namespace, request.query.get("labelSelector", ""))
        since = request.query.get("resourceVersion", "")
        if since not in ("", "0") and int(since) < self.compacted:
            backlog = [
                {
                    "type": "ERROR",
                    "object": json.loads(_status(410, "Expired", f"too old resource version: {since} ({self.compacted})")),
                }
            ]
        elif since in ("", "0"):
            backlog = [
                {"type": "ADDED", "object": copy.deepcopy(o)}
                for o in self.objects.get(key, {}).values()
                if self._matches(watcher, o)
            ]
        else:
            backlog = [
                {"type": t, "object": copy.deepcopy(o)}
                for v, k, t, o in self.history
                if v > int(since) and k == key and self._matches(watcher, o)
            ]
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for event in backlog:
            await resp.write(json.dumps(event).encode() + b"\n")
        if backlog and backlog[0]["type"] == "ERROR":
            return resp
        bookmarks = request.query.get("allowWatchBookmarks") in ("true", "1")
        deadline = time.monotonic() + float(request.query.get("timeoutSeconds") or 1800)
        self.watchers.add(watcher)
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), min(left, self.bookmark_interval))
                except TimeoutError:
                    if bookmarks and watcher.queue.empty():
                        mark = {"kind": res.kind, "apiVersion": res.api_version, "metadata": {"resourceVersion": str(self.rv)}}
                        await resp.write(json.dumps({"type": "BOOKMARK", "object": mark}).encode() + b"\n")
                    continue
                if event is None:
                    break
                await resp.write(json.dumps(event).encode() + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.watchers.discard(watcher)
        return resp

    def _matches(self, watcher: Watcher, obj: dict) -> bool:
        ns = obj["metadata"].get("namespace", "")
        return (watcher.namespace is None or ns == watcher.namespace) and selector_matches(watcher.selector, obj)

    # -- writes ------------------------------------------------------------------------------------

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        values = request.query.getall("dryRun", [])
        if any(v != "All" for v in values):
            raise ApiFailure(400, "BadRequest", f"dryRun: Unsupported value: {values!r}: supported values: \"All\"")
        return bool(values)

    def _create(self, kind: Kind, namespace: str | None, body: dict, commit: bool = True) -> dict:
        res = kind.resource
        meta = body.setdefault("metadata", {})
        if not meta.get("name"):
            raise ApiFailure(422, "Invalid", "metadata.name: Required value")
        if res.namespaced and meta.get("namespace", namespace) != namespace:
            raise ApiFailure(
                400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request"
            )
        key = (namespace or "", meta["name"])
        if key in self.objects.get((res.group, res.plural), {}):
            raise ApiFailure(409, "AlreadyExists", f'{res.qualified} "{meta["name"]}" already exists')
        if res.namespaced:
            meta["namespace"] = namespace
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
        meta.pop("resourceVersion", None)
        body.setdefault("apiVersion", res.api_version)
        body.setdefault("kind", res.kind)
        if kind.status:
            body["status"] = {}
        if not commit:  # dryRun=All: all of the above, nothing stored, no resourceVersion given out
            return body
        return copy.deepcopy(self._commit((res.group, res.plural), key, body, "ADDED"))

    async def _write(
        self, method: str, path: str, kind: Kind, namespace: str | None, name: str, sub: str | None, body: dict,
        commit: bool = True, check=None,
    ) -> tuple[dict, list[str]]:
        """A PUT or PATCH; ``check`` sees the object as written (fieldValidation) and returns warnings."""
        res = kind.resource
        old = self._existing(kind, namespace, name)
        if self.conflicts.get(path, 0) > 0:
            self.conflicts[path] -= 1
            raise ApiFailure(409, "Conflict", _modified(res, name))
        if method == "PATCH":
            view = _scale_of(old) if sub == "scale" else old
            body = merge_patch(view, body)
        warnings = check(body) if check else []
        given = (body.get("metadata") or {}).get("resourceVersion")
        if given is None and method == "PUT" and kind.strict_update:
            raise ApiFailure(422, "Invalid", "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update")
        if given is not None and given != old["metadata"]["resourceVersion"]:
            raise ApiFailure(409, "Conflict", _modified(res, name))
        if sub == "scale":
            new = copy.deepcopy(old)
            new["spec"]["replicas"] = int((body.get("spec") or {}).get("replicas") or 0)
        elif sub == "status":
            new = copy.deepcopy(old)
            new["status"] = body.get("status") or {}
        else:
            # dry runs too: the webhooks declare sideEffects: None
            body = await self.webhooks.admit(kind.resource, "UPDATE", body, old, namespace, not commit)
            new = copy.deepcopy(body)
            new["metadata"] = {**(body.get("metadata") or {})}
            for fixed in ("uid", "creationTimestamp", "namespace", "name", "generation"):
                if fixed in old["metadata"]:
                    new["metadata"][fixed] = old["metadata"][fixed]
            new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
            if kind.status:
                new["status"] = old.get("status", {})
        if new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old or not commit:  # the API server skips writes that change nothing; dryRun=All stores nothing
            return (_scale_of(new) if sub == "scale" else new), warnings
        obj = self._commit((res.group, res.plural), (namespace or "", name), new, "MODIFIED")
        return (_scale_of(obj) if sub == "scale" else copy.deepcopy(obj)), warnings

    def _commit(self, key: ResKey, okey: tuple[str, str], obj: dict, event: str) -> dict:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        if event == "DELETED":
            self.objects.get(key, {}).pop(okey, None)
        else:
            self.objects.setdefault(key, {})[okey] = obj
        self.history.append((self.rv, key, event, copy.deepcopy(obj)))
        for watcher in list(self.watchers):
            if watcher.key == key and self._matches(watcher, obj):
                watcher.queue.put_nowait({"type": event, "object": copy.deepcopy(obj)})
        return obj

    def _delete(self, key: ResKey, okey: tuple[str, str]) -> None:
        obj = self.objects.get(key, {}).get(okey)
        if obj is None:
            return
        self._commit(key, okey, copy.deepcopy(obj), "DELETED")
        uid = obj["metadata"]["uid"]
        # the garbage collector: dependents go with their owner
        for other_key, objs in list(self.objects.items()):
            for other_okey, other in list(objs.items()):
                if any(ref.get("uid") == uid for ref in other["metadata"].get("ownerReferences") or []):
                    self._delete(other_key, other_okey)


class ApiFailure(Exception):
    def __init__(self, code: int, reason: str, message: str):
        self.code, self.reason, self.message = code, reason, message


def _error(code: int, reason: str, message: str, details: dict | None = None) -> web.Response:
    return web.Response(status=code, body=_status(code, reason, message, details), content_type="application/json")


def _status(code: int, reason: str, message: str, details: dict | None = None) -> str:
    return json.dumps(status_body(code, reason, message, details))


def _modified(res: r.Resource, name: str) -> str:
    return (
        f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def _scale_of(obj: dict) -> dict:
    meta = obj["metadata"]
    labels = (obj["spec"].get("selector") or {}).get("matchLabels") or {}
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
        "spec": {"replicas": obj["spec"].get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in labels.items()),
        },
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
