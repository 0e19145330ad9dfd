"""kn's wait for Ready on a fake clock: a timed line per new message, a failure only once it lasts."""

from __future__ import annotations

import io

from dataplane.cli.waiting import wait_for_ready


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def obj(status: str, reason: str = "", message: str = "", generation: int = 1) -> dict:
    cond = {"type": "Ready", "status": status, "reason": reason, "message": message}
    return {"metadata": {"generation": generation}, "status": {"observedGeneration": 1, "conditions": [cond]}}


def waiting(states: list[dict], timeout: float = 60, window: float = 2):
    clock, out = Clock(), io.StringIO()
    seen = iter(states)
    last = {}

    def get() -> dict:
        nonlocal last
        last = next(seen, last)
        return last

    outcome = wait_for_ready(get, out, timeout, window, clock=clock, sleep=clock.sleep, interval=0.5)
    return outcome, out.getvalue().splitlines(), clock.now - 100.0


def test_each_new_message_is_shown_until_ready():
    outcome, lines, _ = waiting([obj("Unknown", message="waiting for a Revision"), obj("Unknown", message="waiting for a Revision"),
                                 obj("Unknown", message="traffic not yet migrated"), obj("True")])
    assert outcome.error is None
    assert lines == ["   0.000s waiting for a Revision", "   1.000s traffic not yet migrated", "   1.500s Ready to serve."]


def test_an_unobserved_generation_is_not_ready_yet():
    outcome, lines, _ = waiting([obj("True", generation=2), obj("True")])
    assert outcome.error is None and lines[0] == "   0.000s generation 2 not yet observed"


def test_a_lasting_failure_ends_the_wait_with_its_reason():
    outcome, lines, elapsed = waiting([obj("False", "RevisionFailed", "exit 1")])
    assert outcome.error == "RevisionFailed: exit 1"
    assert elapsed == 2.0 and lines == ["   0.000s exit 1"]


def test_a_passing_failure_is_waited_through():
    outcome, _, _ = waiting([obj("False", "X", "briefly"), obj("Unknown", message="again"), obj("True")])
    assert outcome.error is None


def test_a_timeout_says_so():
    outcome, _, elapsed = waiting([obj("Unknown", message="slow")], timeout=5)
    assert outcome.error == "timeout: not ready after 5 seconds: slow" and elapsed == 5.0
