"""Activator subsetting: each activator's share of a revision's pods adds up to exactly containerConcurrency per pod."""

from __future__ import annotations

import random

import pytest

from dataplane.activator.subset import UNKNOWN, activator_share, pod_slots
from dataplane.activator.throttler import QUEUED, PodTracker, QueueLimits, RevisionThrottler

KEY = ("default", "hello-00001")


@pytest.mark.parametrize(
    ("pods", "cc", "count", "expected"),
    [
        # as many pods as activators: one whole pod each (Knative's slices)
        (2, 10, 2, [[10, 0], [0, 10]]),
        # Knative's slices plus the left-over pod split slot by slot
        (3, 10, 2, [[10, 0, 5], [0, 10, 5]]),
        (5, 4, 2, [[4, 4, 0, 0, 2], [0, 0, 4, 4, 2]]),
        # fewer pods than activators: each pod's slots split, the odd ones going round
        (1, 10, 2, [[5], [5]]),
        (1, 3, 2, [[2], [1]]),
        (2, 3, 3, [[1, 1], [1, 1], [1, 1]]),
        (2, 1, 3, [[1, 0], [0, 1], [0, 0]]),  # fewer slots than activators: one has none
        (1, 1, 2, [[1], [0]]),
        (0, 5, 2, [[], []]),
    ],
)
def test_shares_add_up_to_the_pods_slots(pods, cc, count, expected):
    shares = [pod_slots(pods, cc, i, count) for i in range(count)]
    assert shares == expected
    assert [sum(col) for col in zip(*shares)] == [cc] * pods


@pytest.mark.parametrize("pods", range(0, 9))
@pytest.mark.parametrize("cc", [1, 2, 3, 7, 100])
@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_no_pod_is_ever_given_more_than_its_concurrency(pods, cc, count):
    shares = [pod_slots(pods, cc, i, count) for i in range(count)]
    assert [sum(col) for col in zip(*shares)] == [cc] * pods
    # and no activator is worse off than a fair share allows (Knative's slices for the whole pods)
    assert max(map(sum, shares)) - min(map(sum, shares)) <= max(cc, 1)


def test_one_activator_or_an_unknown_place_takes_every_slot():
    assert pod_slots(3, 4, 0, 1) == [4, 4, 4]
    assert pod_slots(3, 4, UNKNOWN, 2) == [4, 4, 4]


def test_share_by_name_and_kept_when_missing():
    names = ("activator-a", "activator-b", "activator-c")
    assert activator_share(names, "activator-b", (UNKNOWN, 1)) == (1, 3)
    assert activator_share((), "activator-b", (1, 3)) == (UNKNOWN, 1)
    # not listed: starting (no traffic reaches it yet) or draining: it keeps what it had
    assert activator_share(names[:1], "activator-b", (1, 3)) == (1, 3)


def _throttler(share, pods=1, cc=4) -> RevisionThrottler:
    t = RevisionThrottler(KEY, cc, QueueLimits(), rng=random.Random(1), share=share)
    for i in range(pods):
        pod = PodTracker(f"pod-{i}", f"10.0.0.{i + 1}:8012", pool=None)
        t.add_pod(pod)
        t.mark_ready(pod)
    return t


class Waiter:
    def __init__(self):
        self.pod = None

    def admitted_to(self, pod):
        self.pod = pod


def test_two_activators_never_hand_one_pod_more_than_its_concurrency():
    a, b = _throttler((0, 2)), _throttler((1, 2))
    assert (a.capacity, b.capacity) == (2, 2)
    taken = [t.acquire(Waiter(), 0, 0.0) for t in (a, b) for _ in range(4)]
    assert sum(isinstance(x, PodTracker) for x in taken) == 4  # 2 + 2 = cc
    assert taken.count(QUEUED) == 4


def test_the_share_moves_with_the_activators_and_pods_and_releases_waiters():
    t = _throttler((0, 2), pods=1, cc=4)
    held = [t.acquire(Waiter(), 0, 0.0) for _ in range(2)]
    waiter = Waiter()
    assert t.acquire(waiter, 0, 0.0) == QUEUED
    t.set_share((UNKNOWN, 1))  # the other activator left: the whole pod is this one's
    assert t.capacity == 4 and waiter.pod is held[0]
    t.set_share((1, 2))
    assert t.capacity == 2 and t.ready[0].slots == 2
    second = PodTracker("pod-1", "10.0.0.2:8012", pool=None)
    t.add_pod(second)
    t.mark_ready(second)
    assert [p.slots for p in t.assigned] == [4] and t.assigned == [second]  # one whole pod each
    t.mark_unready(second)
    assert t.assigned[0].name == "pod-0" and t.capacity == 2


def test_unlimited_concurrency_is_not_shared():
    t = _throttler((1, 2), pods=2, cc=0)
    assert t.capacity == -1 and len(t.assigned) == 2
