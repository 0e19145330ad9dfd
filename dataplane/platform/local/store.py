"""The local object store: SQLite on disk, so `dataplane up` restarts with everything it had."""

from __future__ import annotations

import copy
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson

from dataplane.controller.store import Conflict, Listener, NotFound, key_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def now_rfc3339(clock: Callable[[], float] = time.time) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


class SqliteStore:
    """Implements ``dataplane.controller.store.Store``; listeners hear every change."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time):
        self.path = str(path)
        self.clock = clock
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        row = self.db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()
        self.rv = row[0] if row else 0
        self.listeners: list[Listener] = []
        # reads are far more frequent than writes: keep every object in memory too
        self.cache: dict[tuple[str, str, str], dict] = {}
        for kind, ns, name, body in self.db.execute("SELECT kind, namespace, name, body FROM objects"):
            self.cache[(kind, ns, name)] = orjson.loads(body)

    def close(self) -> None:
        self.db.close()

    # -- reads ----------------------------------------------------------------------------------

    async def get(self, kind: str, namespace: str, name: str) -> dict | None:
        obj = self.cache.get((kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    async def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        return [
            copy.deepcopy(obj)
            for (k, ns, _), obj in sorted(self.cache.items())
            if k == kind and (namespace is None or ns == namespace)
        ]

    def peek(self, kind: str, namespace: str | None = None) -> list[dict]:
        """The stored objects themselves, not copies: read-only use on hot paths."""
        return [obj for (k, ns, _), obj in self.cache.items() if k == kind and (namespace is None or ns == namespace)]

    # -- writes ---------------------------------------------------------------------------------

    async def create(self, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        key = key_of(obj)
        if key in self.cache:
            raise Conflict(f'{key[0]} "{key[2]}" already exists in namespace {key[1]}')
        meta = obj["metadata"]
        meta["namespace"] = key[1]
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_rfc3339(self.clock))
        meta["generation"] = 1
        obj.setdefault("status", {})
        self._write(key, obj, "ADDED")
        return copy.deepcopy(obj)

    async def update(self, obj: dict) -> dict:
        key = key_of(obj)
        old = self.cache.get(key)
        if old is None:
            raise NotFound(*key)
        new = copy.deepcopy(obj)
        meta = new["metadata"]
        old_meta = old["metadata"]
        # a stale resourceVersion alone is no change (on Kubernetes, the conflict retry writes nothing either)
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
        old = self.cache.get(key)
        if old is None:
            raise NotFound(*key)
        if old.get("status") == obj.get("status"):
            return copy.deepcopy(old)
        new = copy.deepcopy(old)
        new["status"] = copy.deepcopy(obj.get("status", {}))
        self._write(key, new, "MODIFIED")
        return copy.deepcopy(new)

    async def delete(self, kind: str, namespace: str, name: str) -> dict | None:
        obj = self.cache.get((kind, namespace, name))
        if obj is None:
            return None
        self._remove((kind, namespace, name), obj)
        # garbage-collect what it owned, transitively
        doomed = [obj["metadata"].get("uid")]
        while doomed:
            uid = doomed.pop()
            for key, child in list(self.cache.items()):
                refs = child["metadata"].get("ownerReferences") or []
                if any(ref.get("uid") == uid for ref in refs):
                    self._remove(key, child)
                    doomed.append(child["metadata"].get("uid"))
        return copy.deepcopy(obj)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    # -- internals ------------------------------------------------------------------------------

    def _bump(self) -> int:
        self.rv += 1
        self.db.execute("INSERT INTO meta(key, value) VALUES('rv', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (self.rv,))
        return self.rv

    def _write(self, key: tuple[str, str, str], obj: dict, event: str) -> None:
        obj["metadata"]["resourceVersion"] = str(self._bump())
        self.db.execute(
            "INSERT INTO objects(kind, namespace, name, body) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(kind, namespace, name) DO UPDATE SET body=excluded.body",
            (*key, orjson.dumps(obj)),
        )
        self.cache[key] = obj
        self._notify(event, obj)

    def _remove(self, key: tuple[str, str, str], obj: dict) -> None:
        self._bump()
        self.db.execute("DELETE FROM objects WHERE kind=? AND namespace=? AND name=?", key)
        del self.cache[key]
        self._notify("DELETED", obj)

    def _notify(self, event: str, obj: dict) -> None:
        for listener in list(self.listeners):
            listener(event, copy.deepcopy(obj))
