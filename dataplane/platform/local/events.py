"""What `dataplane up` prints while it runs: one line per event, from what the control process already learns.

Pod lines come from the runtime's pod changes, scale lines from the autoscaler's
published decisions, cold-start and shed lines from the events the activator
sends with its stat push. Nothing here runs per request.

    12:03:04 pod knative-example-00001-deployment-7x2c9b1f0-ab3de started
    12:03:05 pod knative-example-00001-deployment-7x2c9b1f0-ab3de ready (1.2 s)
    12:03:05 scale knative-example-00001: desired 3, ready 1, panic on
    12:03:05 cold start knative-example-00001: waited 1.3 s (2 requests)
    12:03:09 shed knative-example-00001: 4 requests answered 503
    12:04:10 pod knative-example-00001-deployment-7x2c9b1f0-ab3de stopped: scaled down (drained)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

# names come from the store and from a socket: never let them move the cursor or colour a terminal
_UNSAFE = {c: "?" for c in range(32)} | {127: "?"}


def _safe(text: object, limit: int = 253) -> str:
    return str(text)[:limit].translate(_UNSAFE)


def _subject(namespace: str, name: str) -> str:
    """A revision or pod as the lines name it: the namespace only when it is not ``default``."""
    return _safe(name) if namespace == "default" else f"{_safe(namespace, 63)}/{_safe(name)}"


@dataclass
class _PodSeen:
    started: bool = False
    ready: bool = False
    restarts: int = 0


class EventLog:
    """Formats events and writes each as one line; remembers just enough to report changes only.

    ``write`` takes a whole line (without newline); ``clock`` gives Unix seconds for the time stamp.
    """

    def __init__(self, write: Callable[[str], None], clock: Callable[[], float] = time.time):
        self.write = write
        self.clock = clock
        self._pods: dict[str, _PodSeen] = {}
        self._scale: dict[tuple[str, str], tuple[int, bool]] = {}

    def line(self, text: str) -> None:
        try:
            self.write(f"{time.strftime('%H:%M:%S', time.localtime(self.clock()))} {text}")
        except (OSError, ValueError):
            # stdout went away (a closed pipe): the lines stop, the control plane they describe does not
            self.write = _discard

    # -- the runtime's pods ------------------------------------------------------------------------

    def pod_changed(self, namespace: str, pod) -> None:
        """A pod of the local runtime changed (any ``LocalPod``-shaped object); say what is new about it."""
        name = pod.name
        seen = self._pods.get(name)
        if seen is None:
            seen = self._pods[name] = _PodSeen(restarts=pod.restarts)
        subject = f"pod {_subject(namespace, name)}"
        if pod.done.is_set():
            del self._pods[name]
            self.line(f"{subject} stopped: {_safe(stop_reason(pod), 200)}")
            return
        if not seen.started and pod.phase in ("Running", "Terminating"):
            seen.started = True
            self.line(f"{subject} started")
        if pod.restarts > seen.restarts:
            seen.restarts = pod.restarts
            seen.ready = False
            code = pod.last_exit_code
            why = f"exit code {code}" if code is not None else _safe(pod.message or "exited", 200)
            self.line(f"{subject} app stopped: {why}; restart {pod.restarts}")
        if pod.ready and not seen.ready:
            seen.ready = True
            self.line(f"{subject} ready ({max(0.0, self.clock() - pod.created):.1f} s)")
        elif not pod.ready:
            seen.ready = False

    # -- the autoscaler's decisions ----------------------------------------------------------------

    def decision(self, outcome) -> None:
        """A published ``RevisionScale``: a line when the desired scale or panic mode changed."""
        key = (outcome.namespace, outcome.name)
        now = (outcome.desired, bool(outcome.panic))
        before = self._scale.get(key)
        if outcome.desired < 0 or now == before:
            return
        self._scale[key] = now
        panic = "on" if outcome.panic else "off"
        self.line(f"scale {_subject(*key)}: desired {outcome.desired}, ready {outcome.ready}, panic {panic}")

    def forget(self, keys: Iterable[tuple[str, str]]) -> None:
        """Drop what is remembered of revisions no longer known (``keys`` are the ones still there)."""
        keep = set(keys)
        for key in [k for k in self._scale if k not in keep]:
            del self._scale[key]

    # -- the activator's events --------------------------------------------------------------------

    def activator_event(self, event: Mapping) -> None:
        """One event the activator pushed: ``coldStart`` (waitSeconds, requests) or ``shed`` (requests)."""
        subject = _subject(str(event.get("namespace", "")), str(event.get("name", "")))
        kind = event.get("type")
        try:
            if kind == "coldStart":
                wait = float(event.get("waitSeconds", 0.0))
                waiting = int(event.get("requests", 1))
                text = f"cold start {subject}: waited {wait:.1f} s ({waiting} request{'s' if waiting != 1 else ''})"
            elif kind == "shed":
                count = int(event.get("requests", 0))
                text = f"shed {subject}: {count} request{'s' if count != 1 else ''} answered 503 (activator queue bounds)"
            else:
                return  # a kind a newer activator sends
        except (TypeError, ValueError, OverflowError):
            return  # not from our activator: nothing worth a line
        self.line(text)


def _discard(_line: str) -> None:
    pass


def stop_reason(pod) -> str:
    """Why a pod ended, from what the runtime recorded on it."""
    reason = getattr(pod, "stop_reason", "") or ""
    if reason:
        return f"{reason} (drained)"
    code = pod.last_exit_code
    return f"exit code {code}" if code is not None else "stopped"
