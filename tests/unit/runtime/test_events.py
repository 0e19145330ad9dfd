"""`dataplane up`'s event lines: formatted from pod changes, scale decisions and the activator's events."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from dataplane.autoscaler.core import Activity, ServingMode
from dataplane.autoscaler.outcome import RevisionScale
from dataplane.platform.local.events import EventLog

START = 1_800_000_000.0
STAMP = time.strftime("%H:%M:%S", time.localtime(START))


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@dataclass
class FakePod:
    """The fields of a ``LocalPod`` the event log reads."""

    name: str = "web-00001-deployment-abc123def-x1y2z"
    phase: str = "Pending"
    ready: bool = False
    restarts: int = 0
    last_exit_code: int | None = None
    message: str = ""
    created: float = START
    started_at: float = 0.0
    stop_reason: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)


def log_with_clock() -> tuple[EventLog, list[str], Clock]:
    lines: list[str] = []
    clock = Clock()
    return EventLog(lines.append, clock), lines, clock


def outcome(desired: int, ready: int = 0, panic: bool = False, name: str = "web-00001", namespace: str = "default") -> RevisionScale:
    return RevisionScale(
        namespace=namespace, name=name, desired=desired, replicas=desired if desired >= 0 else None, ready=ready,
        excess_burst_capacity=0, panic=panic, metric="concurrency", stable_concurrency=0.0, panic_concurrency=0.0,
        stable_rps=None, panic_rps=None, target=100.0, reason="stable", mode=ServingMode.PROXY, activity=Activity.ACTIVE,
        decided_at=START,
    )  # fmt: skip


def test_a_pod_is_started_ready_and_stopped_once_each_with_its_reason():
    log, lines, clock = log_with_clock()
    pod = FakePod()
    log.pod_changed("default", pod)  # created, still pending: nothing to say
    pod.phase = "Running"
    log.pod_changed("default", pod)
    log.pod_changed("default", pod)  # no change, no line
    clock.now += 1.25
    pod.ready = True
    log.pod_changed("default", pod)
    pod.ready, pod.phase, pod.stop_reason = False, "Terminating", "scaled down"
    log.pod_changed("default", pod)
    pod.done.set()
    log.pod_changed("default", pod)
    assert lines == [
        f"{STAMP} pod web-00001-deployment-abc123def-x1y2z started",
        f"{time.strftime('%H:%M:%S', time.localtime(START + 1.25))} pod web-00001-deployment-abc123def-x1y2z ready (1.2 s)",
        f"{time.strftime('%H:%M:%S', time.localtime(START + 1.25))} pod web-00001-deployment-abc123def-x1y2z stopped: scaled down (drained)",
    ]
    assert log._pods == {}  # nothing kept of a pod that is gone


def test_an_app_that_exits_is_reported_with_its_exit_code_and_ready_again():
    log, lines, _ = log_with_clock()
    pod = FakePod(phase="Running", ready=True)
    log.pod_changed("default", pod)
    pod.ready, pod.restarts, pod.last_exit_code = False, 1, 3
    log.pod_changed("default", pod)
    pod.ready = True
    log.pod_changed("default", pod)
    assert [line.split(" ", 1)[1] for line in lines] == [
        "pod web-00001-deployment-abc123def-x1y2z started",
        "pod web-00001-deployment-abc123def-x1y2z ready (0.0 s)",
        "pod web-00001-deployment-abc123def-x1y2z app stopped: exit code 3; restart 1",
        "pod web-00001-deployment-abc123def-x1y2z ready (0.0 s)",
    ]


def test_a_pod_that_ended_without_being_told_names_its_exit_code():
    log, lines, _ = log_with_clock()
    pod = FakePod(phase="Running", last_exit_code=137)
    log.pod_changed("default", pod)
    pod.done.set()
    log.pod_changed("default", pod)
    assert lines[-1].endswith("stopped: exit code 137")


def test_scale_lines_only_when_desired_or_panic_change():
    log, lines, _ = log_with_clock()
    log.decision(outcome(-1))  # not decided yet
    log.decision(outcome(1, ready=0))
    log.decision(outcome(1, ready=1))  # ready moved, desired did not
    log.decision(outcome(4, ready=1, panic=True))
    log.decision(outcome(4, ready=4, panic=False))
    log.decision(outcome(2, ready=1, name="api-00003", namespace="shop"))
    assert [line.split(" ", 1)[1] for line in lines] == [
        "scale web-00001: desired 1, ready 0, panic off",
        "scale web-00001: desired 4, ready 1, panic on",
        "scale web-00001: desired 4, ready 4, panic off",
        "scale shop/api-00003: desired 2, ready 1, panic off",
    ]
    log.forget([("default", "web-00001")])
    assert set(log._scale) == {("default", "web-00001")}


def test_activator_events_become_cold_start_and_shed_lines():
    log, lines, _ = log_with_clock()
    log.activator_event({"type": "coldStart", "namespace": "default", "name": "web-00001", "waitSeconds": 1.26, "requests": 1})
    log.activator_event({"type": "coldStart", "namespace": "default", "name": "web-00001", "waitSeconds": 0.4, "requests": 3})
    log.activator_event({"type": "shed", "namespace": "default", "name": "web-00001", "requests": 7})
    log.activator_event({"type": "somethingNew", "namespace": "default", "name": "web-00001"})  # a newer activator's: skipped
    assert [line.split(" ", 1)[1] for line in lines] == [
        "cold start web-00001: waited 1.3 s (1 request)",
        "cold start web-00001: waited 0.4 s (3 requests)",
        "shed web-00001: 7 requests answered 503 (activator queue bounds)",
    ]


def test_names_cannot_write_control_characters_to_the_terminal():
    """Names reach the log from the store and from a socket: an escape sequence is printed harmless."""
    log, lines, _ = log_with_clock()
    log.activator_event({"type": "shed", "namespace": "default", "name": "x\x1b[2J\x1b]0;owned\x07\nfake line", "requests": 1})
    assert len(lines) == 1
    assert all(ord(c) >= 32 and ord(c) != 127 for c in lines[0]), repr(lines[0])
    assert "x?[2J?]0;owned??fake line" in lines[0]


def test_malformed_activator_events_are_skipped_without_raising():
    log, lines, _ = log_with_clock()
    for bad in (
        {"type": "coldStart", "namespace": "default", "name": "w", "waitSeconds": "soon"},
        {"type": "coldStart", "namespace": "default", "name": "w", "waitSeconds": 1.0, "requests": None},
        {"type": "shed", "namespace": "default", "name": "w", "requests": float("inf")},
        {"type": "shed", "namespace": "default", "name": "w", "requests": [1]},
    ):
        log.activator_event(bad)
    assert lines == []


def test_a_closed_stdout_stops_the_lines_not_the_caller():
    calls = []

    def broken(line: str) -> None:
        calls.append(line)
        raise BrokenPipeError(32, "Broken pipe")

    log = EventLog(broken, Clock())
    log.decision(outcome(1))
    log.decision(outcome(2))  # not even tried again
    assert len(calls) == 1
