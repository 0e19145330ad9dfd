"""An in-memory ``Store`` for unit tests of the control plane: the rules of ``dataplane.controller.store``, no disk.

``test_store_contract`` runs the same checks against this store and the SQLite
one, so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable

from dataplane.controller.store import Conflict, Listener, NotFound, key_of

Key = tuple[str, str, str]


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class MemoryStore:
    """Implements ``Store`` (and ``peek``) over a dict; listeners hear every change, synchronously.

    ``clock`` stamps ``creationTimestamp``; uids are ``uid-1``, ``uid-2``... so
    that expected objects can be written down.
    """

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.objects: dict[Key, dict] = {}
        self.listeners: list[Listener] = []
        self.rv = 0
        self.uids = itertools.count(1)
        self.writes: list[tuple[str, Key]] = []
        """Every write that changed something: (event, key), in order."""

    # -- reads ----------------------------------------------------------------------------------

    async def get(self, kind: str, namespace: str, name: str) -> dict | None:
        obj = self.objects.get((kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    async def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        return [copy.deepcopy(obj) for obj in self.peek(kind, namespace)]

    def peek(self, kind: str, namespace: str | None = None) -> list[dict]:
        """The stored objects themselves, in (namespace, name) order: read-only use."""
        return [obj for (k, ns, _), obj in sorted(self.objects.items()) if k == kind and (namespace is None or ns == namespace)]

    # -- writes ---------------------------------------------------------------------------------

    async def create(self, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        key = key_of(obj)
        if key in self.objects:
            raise Conflict(f'{key[0]} "{key[2]}" already exists in namespace {key[1]}')
        meta = obj["metadata"]
        meta["namespace"] = key[1]
        meta.setdefault("uid", f"uid-{next(self.uids)}")
        meta.setdefault("creationTimestamp", _rfc3339(self.clock()))
        meta["generation"] = 1
        obj.setdefault("status", {})
        self._write(key, obj, "ADDED")
        return copy.deepcopy(obj)

    async def update(self, obj: dict) -> dict:
        key = key_of(obj)
        old = self.objects.get(key)
        if old is None:
            raise NotFound(*key)
        new = copy.deepcopy(obj)
        meta, old_meta = new["metadata"], old["metadata"]
        for fixed in ("uid", "creationTimestamp", "namespace", "resourceVersion"):
            meta[fixed] = old_meta.get(fixed)
        meta["generation"] = old_meta.get("generation", 1) + (1 if new.get("spec") != old.get("spec") else 0)
        new["status"] = copy.deepcopy(old.get("status", {}))
        if new == old:
            return copy.deepcopy(old)
        self._write(key, new, "MODIFIED")
        return copy.deepcopy(new)

    async def update_status(self, obj: dict) -> dict:
        key = key_of(obj)
        old = self.objects.get(key)
        if old is None:
            raise NotFound(*key)
        if old.get("status") == obj.get("status"):
            return copy.deepcopy(old)
        new = copy.deepcopy(old)
        new["status"] = copy.deepcopy(obj.get("status", {}))
        self._write(key, new, "MODIFIED")
        return copy.deepcopy(new)

    async def delete(self, kind: str, namespace: str, name: str) -> dict | None:
        obj = self.objects.get((kind, namespace, name))
        if obj is None:
            return None
        self._remove((kind, namespace, name))
        owners = [obj["metadata"].get("uid")]
        while owners:  # what it owned goes too, transitively (ownerReferences by uid)
            uid = owners.pop()
            for key, child in list(self.objects.items()):
                if any(ref.get("uid") == uid for ref in child["metadata"].get("ownerReferences") or []):
                    self._remove(key)
                    owners.append(child["metadata"].get("uid"))
        return copy.deepcopy(obj)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    # -- internals ------------------------------------------------------------------------------

    def _write(self, key: Key, obj: dict, event: str) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.objects[key] = obj
        self._notify(event, key, obj)

    def _remove(self, key: Key) -> None:
        self.rv += 1
        self._notify("DELETED", key, self.objects.pop(key))

    def _notify(self, event: str, key: Key, obj: dict) -> None:
        self.writes.append((event, key))
        for listener in list(self.listeners):
            listener(event, copy.deepcopy(obj))
