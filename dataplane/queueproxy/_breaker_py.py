"""The breaker in plain Python: see ``breaker`` for the contract.

This file is also the source of the compiled twin ``_breaker_c``: ``setup.py``
compiles it as it is, with ``_breaker_c.pxd`` beside it giving C types.
"""

from __future__ import annotations

import operator
from collections import OrderedDict

ADMITTED = 1
QUEUED = 0
REJECTED = -1


class Breaker:
    """A concurrency limit with a bounded, strictly FIFO waiting queue.

    At most ``capacity`` holders at once; up to ``queue_depth`` more callers
    wait in arrival order; anyone beyond that is rejected. Waiters are told
    of their slot by a synchronous call to ``waiter.admitted()``.
    """

    __slots__ = ("_capacity", "_queue_depth", "_in_flight", "_waiters")

    def __init__(self, concurrency: int, queue_depth: int) -> None:
        # integers only, as the compiled build's C-typed arguments insist
        concurrency, queue_depth = operator.index(concurrency), operator.index(queue_depth)
        if concurrency < 0:
            raise ValueError(f"concurrency must be >= 0, got {concurrency}")
        if queue_depth < 0:
            raise ValueError(f"queue_depth must be >= 0, got {queue_depth}")
        self._capacity = concurrency
        self._queue_depth = queue_depth
        self._in_flight = 0
        # id(waiter) -> waiter.admitted. The bound method keeps the waiter
        # alive, so its id cannot be reused while queued; OrderedDict gives
        # O(1) removal from the middle (cancel) and from the front (release).
        self._waiters: OrderedDict[int, object] = OrderedDict()

    def acquire(self, waiter) -> int:
        """Take a slot (ADMITTED), join the queue (QUEUED) or give up (REJECTED).

        A queued ``waiter`` gets ``waiter.admitted()`` later, from inside
        ``release()`` or ``set_capacity()``, unless it is cancelled first.
        Queueing a waiter that is already queued is a ``ValueError``.
        """
        # Waiters exist only while every slot is taken, so a free slot
        # never jumps the queue.
        if self._in_flight < self._capacity:
            self._in_flight += 1
            return ADMITTED
        waiters = self._waiters
        if len(waiters) >= self._queue_depth:
            return REJECTED
        admitted = waiter.admitted
        # one lookup instead of `in` + store: a fresh bound method is never
        # the value already there
        if waiters.setdefault(id(waiter), admitted) is not admitted:
            raise ValueError("waiter is already queued")
        return QUEUED

    def release(self) -> None:
        """Free a slot; the oldest waiter, if any, takes it at once.

        If a waiter's ``admitted()`` raises, that waiter is taken not to
        hold the slot (it must not release it too): the slot goes on to the
        next waiter, and the first such error is re-raised once the breaker
        is consistent again.
        """
        if self._in_flight <= 0:
            raise RuntimeError("release() without a matching acquire()")
        self._in_flight -= 1
        if self._waiters:
            self._admit_waiters()

    def cancel(self, waiter) -> bool:
        """Drop a queued waiter; True if it was queued. Its place is free at once."""
        return self._waiters.pop(id(waiter), None) is not None

    def set_capacity(self, capacity: int) -> None:
        """Change the number of holders allowed.

        Raising it admits waiters immediately (errors as in ``release``);
        lowering it lets current holders finish, and no waiter is admitted
        until the holders drop below the new capacity.
        """
        capacity = operator.index(capacity)
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self._capacity = capacity
        if self._waiters:
            self._admit_waiters()

    @property
    def in_flight(self) -> int:
        """Holders of a slot right now."""
        return self._in_flight

    @property
    def queued(self) -> int:
        """Waiters still in the queue (cancelled ones are gone at once)."""
        return len(self._waiters)

    @property
    def capacity(self) -> int:
        """Holders allowed at once."""
        return self._capacity

    @property
    def queue_depth(self) -> int:
        """Waiters allowed at once."""
        return self._queue_depth

    def _admit_waiters(self) -> None:
        error = None
        waiters = self._waiters
        while waiters and self._in_flight < self._capacity:
            admitted = waiters.popitem(False)[1]
            # Count the holder before the callback: it may release or
            # acquire re-entrantly and must see a consistent breaker.
            self._in_flight += 1
            try:
                admitted()
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                self._in_flight -= 1
                if error is None:
                    error = exc
        if error is not None:
            raise error

    def __repr__(self) -> str:
        return (
            f"<Breaker in_flight={self._in_flight} capacity={self._capacity} "
            f"queued={len(self._waiters)}/{self._queue_depth}>"
        )
