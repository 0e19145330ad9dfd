"""The events the activator sends with its stat push: cold starts as noted, shed requests as differences."""

from __future__ import annotations

from dataplane.activator.events import ActivatorEvents
from dataplane.activator.policy import RevisionStats

A = ("default", "web-00001")
B = ("shop", "api-00002")


def stats(**shed: int) -> dict:
    out = {}
    for key, count in ((A, shed.get("a")), (B, shed.get("b"))):
        if count is not None:
            out[key] = RevisionStats()
            out[key].shed = count
    return out


def test_cold_starts_are_sent_once():
    events = ActivatorEvents()
    events.cold_start(A, 1.23456, 2)
    assert events.collect({}) == [{"type": "coldStart", "namespace": "default", "name": "web-00001", "waitSeconds": 1.235, "requests": 2}]
    assert events.collect({}) == []


def test_shed_requests_are_reported_as_the_count_since_the_last_report():
    events = ActivatorEvents()
    assert events.collect(stats(a=0, b=0)) == []
    assert events.collect(stats(a=3, b=0)) == [{"type": "shed", "namespace": "default", "name": "web-00001", "requests": 3}]
    assert events.collect(stats(a=3, b=0)) == []
    assert events.collect(stats(a=5, b=1)) == [
        {"type": "shed", "namespace": "default", "name": "web-00001", "requests": 2},
        {"type": "shed", "namespace": "shop", "name": "api-00002", "requests": 1},
    ]
    # a revision gone from the activator is forgotten; back again, it counts from zero
    assert events.collect(stats(b=1)) == []
    assert events.collect(stats(a=1, b=1)) == [{"type": "shed", "namespace": "default", "name": "web-00001", "requests": 1}]
