"""The work queue that drives the reconcilers from store and runtime events."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from dataplane.api import keys
from dataplane.api.config import Config
from dataplane.controller import reconcilers
from dataplane.controller.runtime import Runtime
from dataplane.controller.store import Store

log = logging.getLogger("dataplane.controller")


def log_fields(key: tuple[str, ...]) -> dict[str, str]:
    """Knative's fields for a log line about one object: ``knative.dev/key`` (namespace/name) and ``knative.dev/kind``."""
    kind, namespace, name = key
    return {"knative.dev/key": f"{namespace}/{name}", "knative.dev/kind": kind}
Key = tuple[str, str, str]  # (kind, namespace, name)
RETRY_DELAYS = (0.05, 0.2, 1.0, 5.0)


class Controller:
    """Reconciles every object whose key was enqueued, one at a time, retrying failures with back-off."""

    def __init__(self, store: Store, runtime: Runtime, config: Callable[[], Config], initial_scale: Callable[[], int], clock=time.time):
        self.store = store
        self.runtime = runtime
        self.config = config
        self.initial_scale = initial_scale
        self.clock = clock
        self.queue: asyncio.Queue[Key] = asyncio.Queue()
        self.queued: set[Key] = set()
        self.failures: dict[Key, int] = {}
        self.retry_handles: set[asyncio.TimerHandle] = set()
        self.idle = asyncio.Event()

    # -- triggers ---------------------------------------------------------------------------------

    def enqueue(self, kind: str, namespace: str, name: str) -> None:
        key = (kind, namespace, name)
        if key not in self.queued:
            self.queued.add(key)
            self.idle.clear()
            self.queue.put_nowait(key)

    def on_store_event(self, event: str, obj: dict) -> None:
        kind = obj["kind"]
        meta = obj["metadata"]
        ns, name = meta.get("namespace", "default"), meta["name"]
        labels = meta.get("labels") or {}
        if kind in keys.KINDS:
            self.enqueue(kind, ns, name)
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") in keys.KINDS:
                self.enqueue(ref["kind"], ns, ref["name"])
        if kind == keys.REVISION:
            # routes follow their revisions' readiness
            for route in self._names(keys.ROUTE, ns):
                self.enqueue(keys.ROUTE, ns, route)
            config = labels.get(keys.CONFIGURATION_LABEL)
            if config:
                self.enqueue(keys.CONFIGURATION, ns, config)
        elif kind == keys.CONFIGURATION:
            for route in self._names(keys.ROUTE, ns):
                self.enqueue(keys.ROUTE, ns, route)
        elif kind == "ConfigMap" and ns == "knative-serving":
            self.resync()

    def on_runtime_event(self, namespace: str, revision: str) -> None:
        self.enqueue(keys.REVISION, namespace, revision)

    def resync(self) -> None:
        """Enqueue everything (start-up, and platform config changes)."""
        for kind in (keys.SERVICE, keys.CONFIGURATION, keys.REVISION, keys.ROUTE):
            peek = getattr(self.store, "peek", None)
            objs = peek(kind) if peek else []
            for obj in objs:
                self.enqueue(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])

    def _names(self, kind: str, namespace: str) -> list[str]:
        peek = getattr(self.store, "peek", None)
        return [o["metadata"]["name"] for o in peek(kind, namespace)] if peek else []

    # -- the loop ---------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            if self.queue.empty():
                self.idle.set()
            key = await self.queue.get()
            self.queued.discard(key)
            try:
                await self.reconcile(key)
            except Exception:  # noqa: BLE001 - one object's failure must not stop the others
                count = self.failures.get(key, 0)
                self.failures[key] = count + 1
                delay = RETRY_DELAYS[min(count, len(RETRY_DELAYS) - 1)]
                log.error(
                    "reconciling %s failed (retry in %ss)", "/".join(key), delay, exc_info=True, extra=log_fields(key)
                )
                handle = asyncio.get_running_loop().call_later(delay, self._retry, key)
                self.retry_handles.add(handle)
            else:
                self.failures.pop(key, None)

    def _retry(self, key: Key) -> None:
        self.retry_handles = {h for h in self.retry_handles if not h.cancelled() and h.when() > asyncio.get_running_loop().time()}
        self.enqueue(*key)

    async def reconcile(self, key: Key) -> None:
        kind, ns, name = key
        obj = await self.store.get(kind, ns, name)
        if obj is None:
            return
        now = self.clock()
        if kind == keys.SERVICE:
            await reconcilers.reconcile_service(self.store, obj, now)
        elif kind == keys.CONFIGURATION:
            await reconcilers.reconcile_configuration(self.store, obj, self.config(), now)
        elif kind == keys.REVISION:
            await reconcilers.reconcile_revision(self.store, self.runtime, obj, self.initial_scale(), now)
        elif kind == keys.ROUTE:
            await reconcilers.reconcile_route(self.store, obj, self.config(), now)

    def close(self) -> None:
        for handle in self.retry_handles:
            handle.cancel()
