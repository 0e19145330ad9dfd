"""List+watch caches of API server resources, as client-go's informers keep them.

An ``Informer`` lists a resource (in pages), then watches from the list's
resourceVersion with bookmarks, so a reconnect resumes where it stopped. A
``410 Gone`` (the watch window has moved past us) relists; other errors back
off and re-watch. Reads are from memory: what the watches delivered so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp

from dataplane.platform.kubernetes.client import ApiError, KubeClient
from dataplane.platform.kubernetes.resources import Resource

log = logging.getLogger("dataplane.kubernetes")
Listener = Callable[[str, dict], None]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
MAX_PAGES = 1000


class Gone(Exception):
    """The resourceVersion we resume from is no longer in the API server's watch window."""


def object_key(obj: dict) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


class Informer:
    """A cache of one resource (optionally one namespace and a label selector), kept by list+watch."""

    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        namespace: str | None = None,
        label_selector: str = "",
        *,
        page_size: int = 500,
        watch_timeout: int = 300,
        backoff: tuple[float, float] = (0.1, 10.0),
    ):
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.backoff = backoff
        self.cache: dict[Key, dict] = {}
        self.resource_version = ""
        self.listeners: list[Listener] = []
        self.synced = asyncio.Event()
        self.relists = 0
        """How many times the cache was rebuilt by a list (1 after start-up)."""

    # -- reads -------------------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> dict | None:
        return self.cache.get((namespace or "", name))

    def items(self, namespace: str | None = None) -> list[dict]:
        """Cached objects (not copies: read them, never change them)."""
        if namespace is None:
            return list(self.cache.values())
        return [obj for (ns, _), obj in self.cache.items() if ns == namespace]

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """``listener(event, obj)`` for every ADDED, MODIFIED and DELETED the cache sees."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    # -- writes seen before their watch event -------------------------------------------------------

    def put(self, obj: dict) -> None:
        """Record an object this process just wrote, so its next read sees it (the watch confirms later)."""
        self._fill(obj)
        self.cache[object_key(obj)] = obj

    def forget(self, namespace: str, name: str) -> None:
        self.cache.pop((namespace or "", name), None)

    # -- the loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """List, then watch, forever (until cancelled)."""
        failures = 0
        while True:
            try:
                if not self.resource_version:
                    await self._relist()
                await self._watch()
                failures = 0
            except Gone:
                log.info("%s: watch window passed, relisting", self.resource.qualified)
                self.resource_version = ""
                failures += 1
                if failures > 1:  # a server that keeps answering 410 must not make us spin
                    await asyncio.sleep(self._delay(failures - 1))
            except (TimeoutError, ApiError, aiohttp.ClientError, ValueError) as exc:
                failures += 1
                delay = self._delay(failures)
                log.warning("%s: %s (retrying in %.1fs)", self.resource.qualified, exc, delay)
                await asyncio.sleep(delay)

    def _delay(self, failures: int) -> float:
        first, cap = self.backoff
        return min(cap, first * 2 ** (failures - 1))

    def _query(self) -> dict[str, str]:
        return {"labelSelector": self.label_selector} if self.label_selector else {}

    async def _relist(self) -> None:
        items: list[dict] = []
        token = ""
        version = ""
        for _ in range(MAX_PAGES):
            query = {**self._query(), "limit": str(self.page_size)}
            if token:
                query["continue"] = token
            try:
                doc = await self.client.get(self.resource.path(self.namespace), query)
            except ApiError as exc:
                if exc.status == 410:  # the continue token expired: start over
                    raise Gone from exc
                raise
            items.extend(doc.get("items") or [])
            meta = doc.get("metadata") or {}
            version = meta.get("resourceVersion") or ""
            token = meta.get("continue") or ""
            if not token:
                break
        else:
            raise ApiError(500, "TooManyPages", f"{self.resource.qualified}: more than {MAX_PAGES} pages")
        fresh = {}
        for obj in items:
            self._fill(obj)
            fresh[object_key(obj)] = obj
        old, self.cache = self.cache, fresh
        self.resource_version = version
        self.relists += 1
        for key, obj in old.items():
            if key not in fresh:
                self._notify("DELETED", obj)
        for key, obj in fresh.items():
            before = old.get(key)
            if before is None:
                self._notify("ADDED", obj)
            elif _version(before) != _version(obj):
                self._notify("MODIFIED", obj)
        self.synced.set()

    async def _watch(self) -> None:
        query = {
            **self._query(),
            "resourceVersion": self.resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self.watch_timeout),
        }
        path = self.resource.path(self.namespace)
        try:
            async with contextlib.aclosing(self.client.watch(path, query, self.watch_timeout + 30.0)) as events:
                async for event in events:
                    self._apply(event)
        except ApiError as exc:
            if exc.status == 410:
                raise Gone from exc
            raise

    def _apply(self, event: dict) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code") or 500
            if code == 410:
                raise Gone
            raise ApiError(code, str(obj.get("reason") or ""), str(obj.get("message") or ""))
        version = _version(obj)
        if kind == "BOOKMARK":
            self.resource_version = version or self.resource_version
            return
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            raise ValueError(f"unexpected watch event type {kind!r}")
        self._fill(obj)
        key = object_key(obj)
        if kind == "DELETED":
            self.cache.pop(key, None)
        else:
            self.cache[key] = obj
        self.resource_version = version or self.resource_version
        self._notify(kind, obj)

    def _fill(self, obj: dict) -> None:
        # items of a list of built-in kinds carry no kind/apiVersion of their own
        obj.setdefault("kind", self.resource.kind)
        obj.setdefault("apiVersion", self.resource.api_version)

    def _notify(self, event: str, obj: dict) -> None:
        for listener in list(self.listeners):
            try:
                listener(event, obj)
            except Exception:  # noqa: BLE001 - one listener's bug must not stop the cache
                log.exception("%s: listener failed", self.resource.qualified)


def _version(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("resourceVersion") or ""
