"""A revision's progress deadline, as a Deployment's ``progressDeadlineSeconds`` (pure, clock passed in)."""

from __future__ import annotations


class ProgressDeadline:
    """Runs from when pods are first wanted until one is ready; past ``seconds`` the revision has failed.

    Only a revision that never became ready is held to it (Knative: the
    Deployment never made progress); one that crashes later fails by its exits.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.since: float | None = None
        self.exceeded = False
        self.done = False  # a pod was ready once: the deadline no longer applies

    def wanted(self, now: float) -> float | None:
        """Pods are wanted and none is ready: start the clock; returns when it runs out (None: not running)."""
        if self.done or self.exceeded:
            return None
        if self.since is None:
            self.since = now
        return self.since + self.seconds

    def ready(self) -> None:
        """A pod became ready."""
        self.since = None
        self.done = True

    def idle(self) -> None:
        """No pod is wanted any more (scaled to zero before the deadline)."""
        self.since = None

    def check(self, now: float) -> bool:
        """True once, when the deadline has passed with no pod ever ready."""
        if self.since is None or self.done or self.exceeded or now < self.since + self.seconds:
            return False
        self.exceeded = True
        self.since = None
        return True

    def message(self) -> str:
        return f"the revision did not become ready within its progress deadline ({self.seconds:g}s); it was scaled to zero"
