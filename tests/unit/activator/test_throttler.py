"""RevisionThrottler: which pod takes a request, and the bounded FIFO queue of those that wait."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from dataplane.activator.throttler import (
    QUEUED,
    REJECTED,
    PodTracker,
    QueueLimits,
    RevisionThrottler,
)

KEY = ("default", "hello-00001")


class Waiter:
    """Records the pod it was admitted to, and the order of admissions in a shared log."""

    def __init__(self, name: str, log: list | None = None):
        self.name = name
        self.log = log if log is not None else []
        self.pod: PodTracker | None = None

    def admitted_to(self, pod: PodTracker) -> None:
        assert self.pod is None, f"{self.name} admitted twice"
        self.pod = pod
        self.log.append((self.name, pod.name))

    def __repr__(self) -> str:
        return f"Waiter({self.name})"


def throttler(cc: int, pods: int = 0, limits: QueueLimits = QueueLimits(), seed: int = 1) -> RevisionThrottler:
    t = RevisionThrottler(KEY, cc, limits, rng=random.Random(seed))
    for _ in range(pods):
        add(t)
    return t


def add(t: RevisionThrottler, ready: bool = True) -> PodTracker:
    i = len(t.pods)
    pod = PodTracker(f"pod-{i}", f"10.0.0.{i + 1}:8012", pool=None)
    t.add_pod(pod)
    if ready:
        t.mark_ready(pod)
    return pod


def loads(t: RevisionThrottler, *in_flight: int) -> list[PodTracker]:
    pods = sorted(t.pods.values(), key=lambda p: p.address)
    for pod, n in zip(pods, in_flight, strict=True):
        pod.in_flight = n
    return pods


# -- picking a pod -----------------------------------------------------------------------------


def test_pick_takes_the_least_loaded_pod_with_room():
    t = throttler(cc=5, pods=4)
    pods = loads(t, 3, 4, 1, 2)
    assert {t.pick().name for _ in range(200)} == {pods[2].name}


def test_pick_skips_full_pods_and_is_none_when_all_are_full():
    t = throttler(cc=2, pods=3)
    pods = loads(t, 2, 1, 2)
    assert {t.pick().name for _ in range(100)} == {pods[1].name}
    pods[1].in_flight = 2
    assert t.pick() is None


def test_pick_breaks_ties_uniformly_among_the_least_loaded():
    t = throttler(cc=10, pods=5, seed=12345)
    pods = loads(t, 1, 0, 1, 0, 0)  # a more loaded pod first and between the tied ones
    counts = Counter(t.pick().name for _ in range(3000))
    assert set(counts) == {pods[1].name, pods[3].name, pods[4].name}
    for name in (pods[1].name, pods[3].name, pods[4].name):
        assert 900 <= counts[name] <= 1100, counts


def test_power_of_two_choices_takes_the_less_loaded_of_two_when_cc_is_0():
    t = throttler(cc=0, pods=2)
    pods = loads(t, 7, 2)
    assert {t.pick().name for _ in range(100)} == {pods[1].name}


def test_power_of_two_choices_never_takes_the_most_loaded_of_three():
    # least-loaded would always take pods[0]; two random choices take it 2/3 of the time
    t = throttler(cc=0, pods=3, seed=99)
    pods = loads(t, 0, 10, 20)
    counts = Counter(t.pick().name for _ in range(3000))
    assert counts[pods[2].name] == 0
    assert 1800 <= counts[pods[0].name] <= 2200, counts
    assert 900 <= counts[pods[1].name] <= 1100, counts


def test_single_pod_takes_everything_when_cc_is_0():
    t = throttler(cc=0, pods=1)
    (pod,) = loads(t, 1000)
    assert t.pick() is pod
    assert t.acquire(Waiter("w"), 0, 0.0) is pod
    assert pod.in_flight == 1001


@pytest.mark.parametrize(
    ("cc", "ready", "unready", "capacity"),
    [(3, 2, 1, 6), (1, 4, 0, 4), (3, 0, 2, 0), (0, 2, 1, -1), (0, 0, 2, 0)],
)
def test_capacity(cc, ready, unready, capacity):
    t = throttler(cc=cc)
    for _ in range(ready):
        add(t)
    for _ in range(unready):
        add(t, ready=False)
    assert t.capacity == capacity


# -- acquiring and queueing ----------------------------------------------------------------------


def test_acquire_takes_a_pod_while_there_is_room_then_queues():
    t = throttler(cc=1, pods=2)
    first, second = t.acquire(Waiter("a"), 0, 0.0), t.acquire(Waiter("b"), 0, 0.0)
    assert {first.name, second.name} == {"pod-0", "pod-1"}
    assert t.in_flight == 2 and first.in_flight == second.in_flight == 1
    w = Waiter("c")
    assert t.acquire(w, 10, 5.0) == QUEUED
    assert list(t.queue.values()) == [(w, 10, 5.0)]
    assert t.queued_bytes == 10 and t.oldest_wait_start() == 5.0
    assert w.pod is None


def test_acquire_rejects_beyond_max_requests():
    t = throttler(cc=1, limits=QueueLimits(max_requests=2))
    assert [t.acquire(Waiter(str(i)), 0, 0.0) for i in range(3)] == [QUEUED, QUEUED, REJECTED]
    assert len(t.queue) == 2


def test_acquire_rejects_beyond_max_bytes():
    t = throttler(cc=1, limits=QueueLimits(max_bytes=100))
    assert t.acquire(Waiter("a"), 60, 0.0) == QUEUED
    assert t.acquire(Waiter("b"), 40, 0.0) == QUEUED  # exactly at the bound
    assert t.acquire(Waiter("c"), 1, 0.0) == REJECTED
    assert t.acquire(Waiter("d"), 0, 0.0) == QUEUED  # no body: only the request bound applies
    assert t.queued_bytes == 100 and len(t.queue) == 3


def test_release_dispatches_waiters_in_fifo_order():
    log: list = []
    t = throttler(cc=1, pods=1)
    pod = t.acquire(Waiter("first", log), 0, 0.0)
    waiters = [Waiter(f"w{i}", log) for i in range(4)]
    for i, w in enumerate(waiters):
        assert t.acquire(w, 1, float(i)) == QUEUED
    for _ in range(4):
        t.release(pod)
        assert pod.in_flight == 1 and t.in_flight == 1
    assert log == [("w0", "pod-0"), ("w1", "pod-0"), ("w2", "pod-0"), ("w3", "pod-0")]
    assert not t.queue and t.queued_bytes == 0
    t.release(pod)
    assert pod.in_flight == 0 and t.in_flight == 0


def test_a_new_arrival_queues_behind_waiters_even_if_it_could_take_a_slot():
    t = throttler(cc=1, pods=1)
    pod = t.acquire(Waiter("busy"), 0, 0.0)
    old = Waiter("old")
    assert t.acquire(old, 0, 0.0) == QUEUED
    pod.in_flight = 0  # room without a release (nothing dispatched yet)
    new = Waiter("new")
    assert t.acquire(new, 0, 1.0) == QUEUED
    assert [e[0] for e in t.queue.values()] == [old, new]


def test_a_pod_becoming_ready_takes_queued_requests_at_once_up_to_cc():
    log: list = []
    t = throttler(cc=2)
    waiters = [Waiter(f"w{i}", log) for i in range(5)]
    for w in waiters:
        assert t.acquire(w, 0, 0.0) == QUEUED
    a = add(t)
    assert log == [("w0", "pod-0"), ("w1", "pod-0")]
    assert a.in_flight == 2 and len(t.queue) == 3
    b = add(t)
    assert log[2:] == [("w2", "pod-1"), ("w3", "pod-1")]
    assert b.in_flight == 2 and t.in_flight == 4
    assert [e[0] for e in t.queue.values()] == [waiters[4]]


def test_mark_ready_ignores_pods_not_added_and_pods_already_ready():
    t = throttler(cc=1)
    w = Waiter("w")
    assert t.acquire(w, 0, 0.0) == QUEUED
    stranger = PodTracker("stranger", "10.9.9.9:8012", None)
    t.mark_ready(stranger)
    assert not stranger.ready and t.ready == [] and w.pod is None
    pod = add(t)
    t.mark_ready(pod)
    assert t.ready == [pod] and t.capacity == 1


def test_cancel_frees_the_queue_place_and_its_bytes():
    log: list = []
    t = throttler(cc=1, limits=QueueLimits(max_requests=2))
    a, b, c = Waiter("a", log), Waiter("b", log), Waiter("c", log)
    assert t.acquire(a, 10, 0.0) == QUEUED
    assert t.acquire(b, 20, 1.0) == QUEUED
    assert t.acquire(c, 0, 2.0) == REJECTED
    assert t.cancel(a) is True
    assert t.queued_bytes == 20 and t.oldest_wait_start() == 1.0
    assert t.cancel(a) is False  # only once
    assert t.acquire(c, 5, 2.0) == QUEUED
    add(t)
    assert log == [("b", "pod-0")]  # the cancelled one is never admitted


def test_expire_returns_exactly_the_waiters_older_than_max_wait_in_order():
    t = throttler(cc=1, limits=QueueLimits(max_wait=10.0))
    waiters = {since: Waiter(f"since-{since}") for since in (0.0, 1.0, 2.0, 5.0)}
    for since, w in waiters.items():
        assert t.acquire(w, int(since) + 1, since) == QUEUED
    assert t.expire(9.5) == []
    assert t.expire(11.5) == [waiters[0.0], waiters[1.0]]
    assert t.queued_bytes == 3 + 6 and t.oldest_wait_start() == 2.0
    assert t.expire(12.0) == [waiters[2.0]]  # waited exactly max_wait: expired
    assert [e[0] for e in t.queue.values()] == [waiters[5.0]]
    assert t.expire(100.0) == [waiters[5.0]]
    assert t.queued_bytes == 0 and t.oldest_wait_start() is None


def test_remove_pod_stops_choosing_it():
    t = throttler(cc=3, pods=2)
    a, b = loads(t, 0, 2)
    assert t.remove_pod(a.address) is a
    assert not a.ready and a.address not in t.pods and t.ready == [b]
    assert {t.pick().name for _ in range(50)} == {b.name}
    assert t.capacity == 3
    assert t.remove_pod(a.address) is None


def test_remove_pod_forgets_an_unready_pod():
    t = throttler(cc=1)
    pod = add(t, ready=False)
    assert t.remove_pod(pod.address) is pod
    assert t.pods == {} and t.ready == []


def test_mark_unready_stops_choosing_the_pod_but_keeps_it():
    t = throttler(cc=3, pods=2)
    a, b = loads(t, 0, 2)
    t.mark_unready(a)
    assert not a.ready and t.pods[a.address] is a and t.ready == [b]
    assert {t.pick().name for _ in range(50)} == {b.name}
    t.mark_unready(a)  # twice is harmless
    assert t.ready == [b]
    t.mark_unready(b)
    assert t.pick() is None and t.capacity == 0
    t.mark_ready(a)  # passes its probe again
    assert t.pick() is a


def test_raising_concurrency_dispatches_waiters():
    log: list = []
    t = throttler(cc=1, pods=1)
    t.acquire(Waiter("busy", log), 0, 0.0)
    for i in range(4):
        assert t.acquire(Waiter(f"w{i}", log), 0, float(i)) == QUEUED
    t.set_concurrency(3)
    assert log == [("w0", "pod-0"), ("w1", "pod-0")]
    assert t.capacity == 3 and len(t.queue) == 2
    t.set_concurrency(0)  # unlimited
    assert [name for name, _ in log] == ["w0", "w1", "w2", "w3"]
    assert not t.queue and t.in_flight == 5


def test_lowering_concurrency_admits_nothing_until_load_drops_below_it():
    log: list = []
    t = throttler(cc=3, pods=1)
    pod = t.pick()
    for i in range(3):
        assert t.acquire(Waiter(f"in{i}"), 0, 0.0) is pod
    assert t.acquire(Waiter("w", log), 0, 0.0) == QUEUED
    t.set_concurrency(1)
    t.release(pod)
    t.release(pod)
    assert log == [] and pod.in_flight == 1
    t.release(pod)
    assert log == [("w", "pod-0")]
