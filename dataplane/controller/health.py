"""What a revision's pods say about its health (pure): Knative's ContainerHealthy rule, and when no pod can serve.

Both backends describe pods as ``PodState``; the reconciler turns these
answers into conditions, and the directory tells the activator when waiting is
pointless so that requests fail at once instead of at their timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataplane.controller.runtime import PodState, RevisionState

PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
BACK_OFF = "CrashLoopBackOff"
NOT_LISTENING = "ContainerNotListening"
"""A pod's reason while its app runs but nothing listens on $PORT (it may still start to)."""


@dataclass(frozen=True)
class Problem:
    """A reason (CamelCase, as in a condition) and a message for people."""

    reason: str
    message: str


def exit_reason(code: int) -> str:
    """Knative's ContainerHealthy reason for an app that exited with ``code``."""
    return f"ExitCode{code}"


def _live(state: RevisionState) -> list[PodState]:
    return [p for p in state.pods if p.phase not in ("Terminating", "Succeeded")]


def container_failure(state: RevisionState) -> Problem | None:
    """ContainerHealthy=False (Knative): no pod is ready and an app of the revision has exited."""
    if state.ready_pods:
        return None
    for pod in _live(state):
        if pod.last_exit_code is not None:
            return Problem(exit_reason(pod.last_exit_code), f"Container failed with: {pod.message or pod.waiting_reason}")
    return None


def not_listening(state: RevisionState) -> Problem | None:
    """No pod is ready and one knows why its running app is not: e.g. nothing listens on $PORT."""
    if state.ready_pods:
        return None
    for pod in _live(state):
        if pod.unready_reason:
            return Problem(pod.unready_reason, pod.unready_message)
    return None


def serving_failure(state: RevisionState | None) -> Problem | None:
    """Why no pod of the revision can serve now, when waiting for one is pointless; None otherwise.

    That is: the revision cannot run at all (or ran past its progress deadline),
    or it wants pods, none is ready, and every one is waiting out a crash
    back-off. A pod still starting (from zero or after a single crash) is not a
    failure: requests wait for it.
    """
    if state is None:
        return None
    if state.failure:
        return Problem(state.failure, state.failure_message)
    if state.ready_pods:
        return None
    live = _live(state)
    if not live or not all(p.waiting_reason for p in live):
        return None
    pod = live[0]
    reason = exit_reason(pod.last_exit_code) if pod.last_exit_code is not None else pod.waiting_reason
    return Problem(reason, f"{BACK_OFF}: {pod.message}" if pod.message else pod.waiting_reason)
