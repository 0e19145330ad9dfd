"""What the reconcilers need from a runtime backend (local processes, or Kubernetes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PodState:
    """One pod of a revision, as the runtime sees it."""

    name: str
    phase: str
    """Pending | Running | Terminating | Failed."""
    ready: bool
    restarts: int = 0
    address: str = ""
    """host:port of the queue-proxy serving port."""
    stats_address: str = ""
    started_at: float = 0.0
    waiting_reason: str = ""
    """e.g. CrashLoopBackOff, while the app is waiting to be restarted."""
    last_exit_code: int | None = None
    message: str = ""
    """How the app last ended (exit code or signal and its last log lines), or why it waits."""
    unready_reason: str = ""
    """Why a running app is not ready when that is known, e.g. ContainerNotListening."""
    unready_message: str = ""


@dataclass(frozen=True)
class RevisionState:
    """A revision's deployment: the replicas wanted and the pods there are."""

    replicas: int
    pods: tuple[PodState, ...] = ()
    failure: str = ""
    """Why the revision cannot run at all (reason), e.g. CommandMissing."""
    failure_message: str = ""
    ever_ready: bool = False
    """Some pod of it has been ready once (Knative: the deployment made progress)."""
    extra: dict = field(default_factory=dict)

    @property
    def ready_pods(self) -> int:
        return sum(1 for p in self.pods if p.ready and p.phase == "Running")


class Runtime(Protocol):
    async def ensure_revision(self, revision: dict, initial_scale: int) -> RevisionState:
        """Create the revision's deployment at ``initial_scale`` if it has none; return its state."""

    def revision_state(self, namespace: str, name: str) -> RevisionState | None: ...

    async def scale(self, namespace: str, name: str, replicas: int) -> None: ...

    def subscribe(self, listener: Callable[[str, str], None]) -> None:
        """``listener(namespace, revision)`` is called whenever a pod of the revision changes."""
