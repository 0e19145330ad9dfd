"""What the autoscaler publishes about a revision, and the one interface it publishes through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dataplane.autoscaler.core import Activity, ServingMode

_ACTIVITY_NAMES = {Activity.ACTIVE: "Active", Activity.INACTIVE: "Inactive", Activity.ACTIVATING: "Activating"}


@dataclass(frozen=True, slots=True)
class RevisionScale:
    """The autoscaler's latest decision for one revision."""

    namespace: str
    name: str
    desired: int
    """Pods wanted after min/max bounds and the scale-to-zero state machine; -1 while unknown."""
    replicas: int | None
    """Replicas to set on the workload now; ``None`` leaves them as they are."""
    ready: int
    """Ready pods the decision saw."""
    excess_burst_capacity: int
    """Spare capacity beyond the burst target; negative keeps the activator in the path."""
    panic: bool
    """Whether the decider is in panic mode."""
    metric: str
    """Scaling metric: ``concurrency`` or ``rps``."""
    stable_concurrency: float
    """Stable-window average of concurrent requests over the revision."""
    panic_concurrency: float
    """Panic-window average of concurrent requests over the revision."""
    stable_rps: float | None
    """Stable-window requests per second; only for the ``rps`` metric."""
    panic_rps: float | None
    """Panic-window requests per second; only for the ``rps`` metric."""
    target: float
    """Per-pod target of the scaling metric."""
    reason: str
    """Why ``desired`` is what it is: stable, panic, delayed, or a scale-to-zero step."""
    mode: ServingMode
    """Serve (pods take traffic directly) or Proxy (activator in the path)."""
    activity: Activity
    """The PodAutoscaler's Active condition."""
    decided_at: float
    """When this was decided, on the service's clock (Unix seconds by default)."""

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, name) of the revision."""
        return (self.namespace, self.name)

    def publish_key(self) -> tuple:
        """The parts whose change is worth telling a scale target about.

        Window averages move every tick; the target only acts on these, and
        Knative's own notification rule is a change of desired scale or of
        the burst capacity's sign.
        """
        return (
            self.desired,
            self.replicas,
            self.excess_burst_capacity < 0,
            self.panic,
            self.mode,
            self.activity,
        )

    def to_json(self) -> dict:
        """The decision as a JSON object (camelCase names)."""
        doc = {
            "namespace": self.namespace,
            "name": self.name,
            "desired": self.desired,
            "replicas": self.replicas,
            "ready": self.ready,
            "excessBurstCapacity": self.excess_burst_capacity,
            "panic": self.panic,
            "metric": self.metric,
            "stableConcurrency": self.stable_concurrency,
            "panicConcurrency": self.panic_concurrency,
            "target": self.target,
            "reason": self.reason,
            "mode": self.mode.value,
            "activity": _ACTIVITY_NAMES[self.activity],
            "decidedAt": self.decided_at,
        }
        if self.stable_rps is not None:
            doc["stableRPS"] = self.stable_rps
            doc["panicRPS"] = self.panic_rps
        return doc


class ScaleTarget(Protocol):
    """Whoever acts on decisions: the local runtime's replica setter, an HTTP hook, a test.

    ``scale`` is called on the event loop each time a revision's outcome
    changes (see ``RevisionScale.publish_key``) and must not block.
    """

    def scale(self, namespace: str, name: str, outcome: RevisionScale) -> None: ...
