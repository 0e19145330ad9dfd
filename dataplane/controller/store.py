"""The object store the reconcilers read and write: the one seam both backends implement.

Objects are JSON-shaped dicts keyed by (kind, namespace, name). Writes follow the
Kubernetes API's rules that the reconcilers rely on: ``update`` replaces
metadata/spec and leaves status alone (bumping ``metadata.generation`` when the
spec changed); ``update_status`` writes only status; deleting an object deletes
what it owns (ownerReferences by uid).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

# (event type "ADDED" | "MODIFIED" | "DELETED", object)
Listener = Callable[[str, dict], None]


class NotFound(LookupError):
    """The object does not exist; ``str()`` reads like the Kubernetes API's message."""

    http_status = 404

    def __init__(self, kind: str, namespace: str, name: str):
        self.kind, self.namespace, self.name = kind, namespace, name
        super().__init__(f'{resource_name(kind)} "{name}" not found')


class Conflict(Exception):
    """A create of an object that exists, or an update against a stale resourceVersion."""

    http_status = 409


RESOURCE_NAMES = {
    "Service": "services.serving.knative.dev",
    "Configuration": "configurations.serving.knative.dev",
    "Revision": "revisions.serving.knative.dev",
    "Route": "routes.serving.knative.dev",
    "ConfigMap": "configmaps",
    "ReplicaSet": "replicasets.apps",
}


def resource_name(kind: str) -> str:
    return RESOURCE_NAMES.get(kind, kind.lower() + "s")


def key_of(obj: dict) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return (obj["kind"], meta.get("namespace") or "default", meta["name"])


class Store(Protocol):
    async def get(self, kind: str, namespace: str, name: str) -> dict | None: ...

    async def list(self, kind: str, namespace: str | None = None) -> list[dict]: ...

    async def create(self, obj: dict) -> dict: ...

    async def update(self, obj: dict) -> dict: ...

    async def update_status(self, obj: dict) -> dict: ...

    async def delete(self, kind: str, namespace: str, name: str) -> dict | None: ...

    def subscribe(self, listener: Listener) -> Callable[[], None]: ...
