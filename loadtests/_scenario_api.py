"""The local control API over HTTP: apply YAML documents, read resources, pods and autoscaler decisions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import yaml


class ApiError(Exception):
    """The control API answered with an error status; ``body`` is its JSON (or text)."""

    def __init__(self, status: int, body):
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {body}")


def documents(text: str) -> list[dict]:
    """The YAML documents of ``text`` (empty ones dropped), as `dataplane apply -f` would send them."""
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def pod_ready(pod: dict) -> bool:
    """All containers of a pod object are ready and it is not being deleted."""
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return bool(statuses) and all(s.get("ready") for s in statuses) and "deletionTimestamp" not in pod["metadata"]


def pod_revision(pod: dict) -> str:
    """The revision a pod belongs to (its serving.knative.dev/revision label)."""
    return pod["metadata"].get("labels", {}).get("serving.knative.dev/revision", "")


def pod_port(pod: dict, name: str) -> int | None:
    """A port of a local pod: ``user`` (the app's PORT) or a queue-proxy port (serving, admin, stats, metrics)."""
    containers = pod.get("spec", {}).get("containers") or []
    for container in containers:
        if name == "user" and container.get("name") == "user-container":
            for env in container.get("env") or []:
                if env.get("name") == "PORT":
                    return int(env["value"])
        for port in container.get("ports") or []:
            if port.get("name") == name:
                return int(port["containerPort"])
    return None


def condition(obj: dict | None, kind: str) -> str | None:
    """The status ("True", "False", "Unknown") of condition ``kind`` of a resource, None if absent."""
    for cond in (obj or {}).get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond.get("status")
    return None


class ControlApi:
    """Calls to one control API with its ``token``; the caller owns ``session``."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, token: str | None = None):
        self.base = base_url.rstrip("/")
        self.session = session
        # `dataplane up` takes changes only with the token it wrote to its home (api-token)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def _json(self, method: str, path: str, **kwargs):
        async with self.session.request(method, self.base + path, headers=self.headers, **kwargs) as resp:
            text = await resp.text()
            try:
                body = await resp.json(content_type=None) if text else None
            except ValueError:
                body = text
            if resp.status >= 400:
                raise ApiError(resp.status, body)
            return body

    async def apply(self, docs: list[dict] | str, working_dir: str | None = None) -> list[dict]:
        """Apply documents (or YAML text); the per-document results. ApiError (400/422) when refused."""
        if isinstance(docs, str):
            docs = documents(docs)
        body: dict = {"documents": docs}
        if working_dir:
            body["workingDir"] = working_dir
        return (await self._json("POST", "/v1/apply", json=body))["results"]

    async def list(self, resource: str, namespace: str | None = "default") -> list[dict]:
        """Objects of a resource (``namespace=None``: all namespaces)."""
        params = {"allNamespaces": "1"} if namespace is None else {"namespace": namespace}
        return (await self._json("GET", f"/v1/{resource}", params=params))["items"]

    async def get(self, resource: str, namespace: str, name: str) -> dict | None:
        """One object, or None when it does not exist."""
        try:
            return await self._json("GET", f"/v1/{resource}/{namespace}/{name}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def delete(self, resource: str, namespace: str, name: str) -> bool:
        """Delete one object; False if it was not there."""
        try:
            await self._json("DELETE", f"/v1/{resource}/{namespace}/{name}")
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def decisions(self) -> dict[tuple[str, str], dict]:
        """The autoscaler's latest decision for every revision it scales, by (namespace, name)."""
        body = await self._json("GET", "/autoscaler/revisions")
        return {(d["namespace"], d["name"]): d for d in body["revisions"]}

    async def decision(self, namespace: str, name: str) -> dict | None:
        """The autoscaler's latest decision for one revision (desired, ready, panic, concurrency)."""
        try:
            return await self._json("GET", f"/autoscaler/revisions/{namespace}/{name}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def pods(self, namespace: str = "default", revision: str | None = None) -> list[dict]:
        """Pods, optionally only those of one revision."""
        pods = await self.list("pods", namespace)
        return [p for p in pods if revision is None or pod_revision(p) == revision]

    async def wait_for(self, what: str, check: Callable[[], Awaitable[object]], timeout: float, interval: float = 0.2):
        """Poll ``check`` until it returns something truthy (returned); TimeoutError naming ``what`` otherwise."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = await check()
            if last:
                return last
            if time.monotonic() >= deadline:
                raise TimeoutError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")
            await asyncio.sleep(interval)

    async def wait_service_ready(self, name: str, namespace: str = "default", timeout: float = 60.0) -> dict:
        """Until the Service is Ready with its latest revision ready; the Service object."""

        async def ready():
            svc = await self.get("services", namespace, name)
            if svc is None or condition(svc, "Ready") != "True":
                return None
            status = svc["status"]
            if status.get("latestReadyRevisionName") != status.get("latestCreatedRevisionName"):
                return None
            return svc

        return await self.wait_for(f"service {namespace}/{name} to be ready", ready, timeout)

    async def wait_pods(self, revision: str, count: int, namespace: str = "default", timeout: float = 60.0, exact: bool = True) -> list[dict]:
        """Until ``revision`` has ``count`` ready pods (exactly, or at least) and, if exact, no others."""

        async def enough():
            pods = await self.pods(namespace, revision)
            ready = [p for p in pods if pod_ready(p)]
            if exact:
                return ready if len(ready) == count and len(pods) == count else None
            return ready if len(ready) >= count else None

        if exact and count == 0:
            await self.wait_for(f"{revision} to have no pods", self._no_pods(namespace, revision), timeout)
            return []
        return await self.wait_for(f"{revision} to have {count} ready pods", enough, timeout)

    def _no_pods(self, namespace: str, revision: str):
        async def check():
            return not await self.pods(namespace, revision)

        return check
