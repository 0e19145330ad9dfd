"""A ``Runtime`` for unit tests of the control plane: revision states the test sets, every call recorded."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from dataplane.controller.runtime import PodState, RevisionState


class FakeRuntime:
    """Implements ``dataplane.controller.runtime.Runtime`` without processes or a cluster.

    ``ensure_revision`` gives a new revision ``RevisionState(initial_scale)`` (no
    pod yet); ``set_state`` replaces a revision's state and tells the listeners,
    as a pod change would. ``calls`` records ``("ensure", ns, name, initial_scale)``,
    ``("scale", ns, name, replicas)`` and, when attached to a store,
    ``("delete", ns, name)`` for a deleted Revision (both real runtimes learn of
    deletions through the store's ownerReferences). ``errors`` makes
    ``ensure_revision`` of a revision raise.
    """

    def __init__(self, store=None):
        self.states: dict[tuple[str, str], RevisionState] = {}
        self.calls: list[tuple] = []
        self.errors: dict[tuple[str, str], Exception] = {}
        self.listeners: list[Callable[[str, str], None]] = []
        if store is not None:
            store.subscribe(self._on_store_event)

    async def ensure_revision(self, revision: dict, initial_scale: int) -> RevisionState:
        key = (revision["metadata"]["namespace"], revision["metadata"]["name"])
        self.calls.append(("ensure", *key, initial_scale))
        if key in self.errors:
            raise self.errors[key]
        return self.states.setdefault(key, RevisionState(initial_scale))

    def revision_state(self, namespace: str, name: str) -> RevisionState | None:
        return self.states.get((namespace, name))

    async def scale(self, namespace: str, name: str, replicas: int) -> None:
        self.calls.append(("scale", namespace, name, replicas))
        state = self.states.get((namespace, name))
        if state is not None and not state.failure:
            self.states[(namespace, name)] = dataclasses.replace(state, replicas=replicas)

    def subscribe(self, listener: Callable[[str, str], None]) -> None:
        self.listeners.append(listener)

    # -- what the test drives -----------------------------------------------------------------

    def set_state(self, namespace: str, name: str, state: RevisionState) -> None:
        self.states[(namespace, name)] = state
        for listener in self.listeners:
            listener(namespace, name)

    def _on_store_event(self, event: str, obj: dict) -> None:
        if event == "DELETED" and obj.get("kind") == "Revision":
            key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
            self.calls.append(("delete", *key))
            self.states.pop(key, None)


def ready_pods(count: int, replicas: int | None = None) -> RevisionState:
    """A revision with ``count`` ready pods (of ``replicas`` wanted, default ``count``) that has been ready."""
    pods = tuple(PodState(f"p{i}", "Running", True, address=f"127.0.0.1:{9000 + i}") for i in range(count))
    return RevisionState(count if replicas is None else replicas, pods, ever_ready=True)


def crashed(code: int, words: str = "boom", *, backing_off: bool = False, ever_ready: bool = False) -> RevisionState:
    """One pod wanted whose app exited with ``code``, saying ``words``; optionally waiting out a back-off."""
    message = f"the command exited with code {code}; last log lines: {words}"
    pod = PodState("p0", "Running", False, restarts=1, last_exit_code=code, message=message,
                   waiting_reason="CrashLoopBackOff" if backing_off else "")
    return RevisionState(1, (pod,), ever_ready=ever_ready)


def starting(replicas: int = 1) -> RevisionState:
    """Pods wanted, started, none ready yet."""
    return RevisionState(replicas, tuple(PodState(f"p{i}", "Running", False) for i in range(replicas)))


def not_listening() -> RevisionState:
    pod = PodState("p0", "Running", False, unready_reason="ContainerNotListening",
                   unready_message="nothing is listening on PORT=8123 after 5 s")
    return RevisionState(1, (pod,))


def failed(reason: str, message: str) -> RevisionState:
    """A revision that cannot run at all (or ran out its progress deadline)."""
    return RevisionState(0, (), reason, message)
