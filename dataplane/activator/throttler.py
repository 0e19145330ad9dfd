"""Per-revision capacity: which pod takes a request now, and the bounded queue of those that wait.

Capacity is the ready pods × containerConcurrency (unlimited per pod when it is 0),
or, with more than one activator, this activator's share of it (``subset``): the
slots of each pod it may use are worked out when pods or the share change, never
per request. A request goes to the least-loaded pod with room (random tie-break), or to the
better of two random pods when containerConcurrency is 0. A request that finds no
room waits in a FIFO queue bounded in requests, in bytes of body and in time; the
moment a slot frees or a pod becomes ready, the oldest waiter is handed to it.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass

from dataplane.activator.subset import UNKNOWN, pod_slots

ACQUIRED, QUEUED, REJECTED = 1, 0, -1


@dataclass(frozen=True)
class QueueLimits:
    """Bounds of one revision's queue of waiting requests."""

    max_requests: int = 10_000
    """Requests that may wait at once (503 beyond)."""
    max_bytes: int = 64 * 1024 * 1024
    """Bytes of request bodies (by Content-Length) that may wait at once (503 beyond)."""
    max_wait: float = 600.0
    """Seconds a request may wait for a pod before a 503 (its own timeout may end it sooner, with 504)."""


class PodTracker:
    """One pod of a revision, as the activator sees it."""

    __slots__ = ("address", "name", "pool", "h2_pool", "in_flight", "ready", "probing", "slots")

    def __init__(self, name: str, address: str, pool, h2_pool=None) -> None:
        self.name = name
        self.address = address
        self.pool = pool  # HTTP/1.1 connections to its queue-proxy
        self.h2_pool = h2_pool  # h2c connections to it, made at its first HTTP/2 stream
        self.in_flight = 0
        self.ready = False  # passed a queue-proxy probe
        self.probing = False
        self.slots = 0  # requests this activator may have on it at once (its share of containerConcurrency)


class RevisionThrottler:
    """Admission to one revision's pods. Waiters get ``waiter.admitted_to(pod)``."""

    def __init__(
        self,
        key: tuple[str, str],
        concurrency: int,
        limits: QueueLimits,
        rng: random.Random | None = None,
        share: tuple[int, int] = (UNKNOWN, 1),
    ):
        self.key = key
        self.concurrency = concurrency
        self.limits = limits
        self.rng = rng or random.Random()
        self.share = share
        """(this activator's index, how many activators) among those the directory lists."""
        self.pods: dict[str, PodTracker] = {}
        self.ready: list[PodTracker] = []
        """Pods that passed a probe, by address."""
        self.assigned: list[PodTracker] = []
        """The ready pods this activator has slots on; requests go only there."""
        self.queue: OrderedDict[int, tuple[object, int, float]] = OrderedDict()  # id -> (waiter, bytes, since)
        self.queued_bytes = 0
        self.in_flight = 0

    # -- capacity -----------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """Requests the ready pods can take at once (-1: unlimited)."""
        if self.concurrency == 0:
            return -1 if self.ready else 0
        return sum(pod.slots for pod in self.assigned)

    def set_concurrency(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._assign()
        self.dispatch()

    def set_share(self, share: tuple[int, int]) -> None:
        """The activators changed: take this one's new share of the pods."""
        if share != self.share:
            self.share = share
            self._assign()
            self.dispatch()

    def _assign(self) -> None:
        cc = self.concurrency
        ready = self.ready
        if cc == 0:  # no limit to share: every activator uses every pod, as Knative's
            self.assigned = list(ready)
            return
        assigned = []
        for pod, slots in zip(ready, pod_slots(len(ready), cc, *self.share)):
            pod.slots = slots
            if slots:
                assigned.append(pod)
        self.assigned = assigned

    def pick(self) -> PodTracker | None:
        ready = self.assigned
        n = len(ready)
        if n == 0:
            return None
        cc = self.concurrency
        if cc == 0:
            if n == 1:
                return ready[0]
            a, b = self.rng.sample(ready, 2)
            if a.in_flight == b.in_flight:
                return a
            return a if a.in_flight < b.in_flight else b
        best = None
        ties = 0
        for pod in ready:
            load = pod.in_flight
            if load >= pod.slots:
                continue
            if best is None or load < best.in_flight:
                best, ties = pod, 1
            elif load == best.in_flight:
                ties += 1
                if self.rng.random() * ties < 1.0:  # reservoir sampling: uniform among the least loaded
                    best = pod
        return best

    # -- requests ------------------------------------------------------------------------------

    def acquire(self, waiter, body_bytes: int, now: float):
        """A pod for the request now, ``QUEUED`` (waiter told later) or ``REJECTED``."""
        if not self.queue:
            pod = self.pick()
            if pod is not None:
                pod.in_flight += 1
                self.in_flight += 1
                return pod
        limits = self.limits
        if len(self.queue) >= limits.max_requests or self.queued_bytes + body_bytes > limits.max_bytes:
            return REJECTED
        self.queue[id(waiter)] = (waiter, body_bytes, now)
        self.queued_bytes += body_bytes
        return QUEUED

    def release(self, pod: PodTracker) -> None:
        pod.in_flight -= 1
        self.in_flight -= 1
        if self.queue:
            self.dispatch()

    def cancel(self, waiter) -> bool:
        entry = self.queue.pop(id(waiter), None)
        if entry is None:
            return False
        self.queued_bytes -= entry[1]
        return True

    def dispatch(self) -> None:
        """Hand waiting requests, oldest first, to pods with room."""
        queue = self.queue
        while queue:
            pod = self.pick()
            if pod is None:
                return
            _, (waiter, nbytes, _since) = queue.popitem(last=False)
            self.queued_bytes -= nbytes
            pod.in_flight += 1
            self.in_flight += 1
            waiter.admitted_to(pod)

    def expire(self, now: float) -> list:
        """Remove and return waiters queued longer than ``max_wait``."""
        out = []
        cutoff = now - self.limits.max_wait
        queue = self.queue
        while queue:
            key, (waiter, nbytes, since) = next(iter(queue.items()))
            if since > cutoff:
                break
            del queue[key]
            self.queued_bytes -= nbytes
            out.append(waiter)
        return out

    def oldest_wait_start(self) -> float | None:
        if not self.queue:
            return None
        return next(iter(self.queue.values()))[2]

    # -- pods ----------------------------------------------------------------------------------

    def add_pod(self, pod: PodTracker) -> None:
        self.pods[pod.address] = pod

    def remove_pod(self, address: str) -> PodTracker | None:
        pod = self.pods.pop(address, None)
        if pod is not None and pod.ready:
            pod.ready = False
            self.ready.remove(pod)
            self._assign()
            self.dispatch()  # the share of the pods left may have grown
        return pod

    def mark_ready(self, pod: PodTracker) -> None:
        """``pod`` passed its probe: it takes waiting requests at once."""
        if pod.ready or pod.address not in self.pods:
            return
        pod.ready = True
        self.ready.append(pod)
        self.ready.sort(key=lambda p: p.address)
        self._assign()
        self.dispatch()

    def mark_unready(self, pod: PodTracker) -> None:
        if pod.ready:
            pod.ready = False
            self.ready.remove(pod)
            self._assign()
            self.dispatch()
