"""Objects and a small world (in-memory store, fake runtime, clock) for the control plane's unit tests."""

from __future__ import annotations

import copy

from dataplane.api import admit, keys
from dataplane.api import conditions as c
from dataplane.api.config import DEFAULT_CONFIG, Config
from dataplane.controller import reconcilers
from tests.unit.controller.fakeruntime import FakeRuntime
from tests.unit.controller.memstore import MemoryStore

T0 = 1_800_000_000.0
"""2027-01-15T08:00:00Z."""
NS = "default"


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def service(name: str = "web", image: str = "a", *, traffic: list | None = None, template_name: str | None = None,
            labels: dict | None = None, annotations: dict | None = None, template_annotations: dict | None = None) -> dict:
    """A Service as admission stores it (defaulted)."""
    template: dict = {"spec": {"containers": [{"image": image, "command": ["app"]}]}}
    if template_name or template_annotations:
        template["metadata"] = {}
        if template_name:
            template["metadata"]["name"] = template_name
        if template_annotations:
            template["metadata"]["annotations"] = dict(template_annotations)
    meta: dict = {"name": name, "namespace": NS}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    spec: dict = {"template": template}
    if traffic is not None:
        spec["traffic"] = traffic
    return admit({"apiVersion": keys.API_VERSION, "kind": keys.SERVICE, "metadata": meta, "spec": spec})


def cond(obj: dict, type_: str) -> tuple[str | None, str, str]:
    """``(status, reason, message)`` of one of ``obj``'s conditions; reason and message are "" when absent."""
    got = c.get_condition(obj.get("status"), type_) or {}
    return got.get("status"), got.get("reason", ""), got.get("message", "")


def ready_status(kind: str, now: float = T0, **fields) -> dict:
    """A status with Ready and its dependents True, observing generation 1."""
    status = c.initialize({}, kind, now=now)
    for type_ in c.DEPENDENTS[kind]:
        status = c.mark(status, kind, type_, c.TRUE, now=now)
    status = c.set_condition(status, c.READY, c.TRUE, now=now)  # a Configuration's Ready depends on no condition
    return {**c.set_observed_generation(status, 1), **fields}


class World:
    """A store, a runtime and a clock, and the reconcilers run on them one object at a time."""

    def __init__(self, config: Config = DEFAULT_CONFIG, initial_scale: int = 1):
        self.clock = Clock()
        self.store = MemoryStore(clock=self.clock)
        self.runtime = FakeRuntime(self.store)
        self.config = config
        self.initial_scale = initial_scale

    async def get(self, kind: str, name: str, namespace: str = NS) -> dict | None:
        return await self.store.get(kind, namespace, name)

    async def names(self, kind: str, namespace: str = NS) -> list[str]:
        return [o["metadata"]["name"] for o in await self.store.list(kind, namespace)]

    async def create(self, obj: dict) -> dict:
        return await self.store.create(copy.deepcopy(obj))

    async def reconcile(self, kind: str, name: str, namespace: str = NS) -> dict:
        """Run ``kind``'s reconciler once on the stored object; return the object after it."""
        obj = await self.get(kind, name, namespace)
        assert obj is not None, f"no {kind} {namespace}/{name}"
        now = self.clock()
        if kind == keys.SERVICE:
            await reconcilers.reconcile_service(self.store, obj, now)
        elif kind == keys.CONFIGURATION:
            await reconcilers.reconcile_configuration(self.store, obj, self.config, now)
        elif kind == keys.REVISION:
            await reconcilers.reconcile_revision(self.store, self.runtime, obj, self.initial_scale, now)
        elif kind == keys.ROUTE:
            await reconcilers.reconcile_route(self.store, obj, self.config, now)
        return await self.get(kind, name, namespace)

    async def set_status(self, kind: str, name: str, status: dict) -> dict:
        obj = await self.get(kind, name)
        return await self.store.update_status({**obj, "status": status})
