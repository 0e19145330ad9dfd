"""Compiled twin of ``dataplane.queueproxy._breaker_py``: see ``breaker`` for the contract."""

from collections import OrderedDict

cdef enum:
    _ADMITTED = 1
    _QUEUED = 0
    _REJECTED = -1

ADMITTED = _ADMITTED
QUEUED = _QUEUED
REJECTED = _REJECTED


cdef class Breaker:
    """A concurrency limit with a bounded, strictly FIFO waiting queue.

    At most ``capacity`` holders at once; up to ``queue_depth`` more callers
    wait in arrival order; anyone beyond that is rejected. Waiters are told
    of their slot by a synchronous call to ``waiter.admitted()``.
    """

    cdef Py_ssize_t _capacity
    cdef Py_ssize_t _queue_depth
    cdef Py_ssize_t _in_flight
    # id(waiter) -> waiter.admitted; see the pure twin for why.
    cdef object _waiters

    def __init__(self, Py_ssize_t concurrency, Py_ssize_t queue_depth):
        if concurrency < 0:
            raise ValueError(f"concurrency must be >= 0, got {concurrency}")
        if queue_depth < 0:
            raise ValueError(f"queue_depth must be >= 0, got {queue_depth}")
        self._capacity = concurrency
        self._queue_depth = queue_depth
        self._in_flight = 0
        self._waiters = OrderedDict()

    def acquire(self, waiter):
        """Take a slot (ADMITTED), join the queue (QUEUED) or give up (REJECTED).

        A queued ``waiter`` gets ``waiter.admitted()`` later, from inside
        ``release()`` or ``set_capacity()``, unless it is cancelled first.
        Queueing a waiter that is already queued is a ``ValueError``.
        """
        if self._in_flight < self._capacity:
            self._in_flight += 1
            return _ADMITTED
        waiters = self._waiters
        if len(waiters) >= self._queue_depth:
            return _REJECTED
        admitted = waiter.admitted
        # one lookup instead of `in` + store: a fresh bound method is never
        # the value already there
        if waiters.setdefault(id(waiter), admitted) is not admitted:
            raise ValueError("waiter is already queued")
        return _QUEUED

    def release(self):
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

    def cancel(self, waiter):
        """Drop a queued waiter; True if it was queued. Its place is free at once."""
        return self._waiters.pop(id(waiter), None) is not None

    def set_capacity(self, Py_ssize_t capacity):
        """Change the number of holders allowed.

        Raising it admits waiters immediately (errors as in ``release``);
        lowering it lets current holders finish, and no waiter is admitted
        until the holders drop below the new capacity.
        """
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self._capacity = capacity
        if self._waiters:
            self._admit_waiters()

    @property
    def in_flight(self):
        """Holders of a slot right now."""
        return self._in_flight

    @property
    def queued(self):
        """Waiters still in the queue (cancelled ones are gone at once)."""
        return len(self._waiters)

    @property
    def capacity(self):
        """Holders allowed at once."""
        return self._capacity

    @property
    def queue_depth(self):
        """Waiters allowed at once."""
        return self._queue_depth

    cdef _admit_waiters(self):
        error = None
        waiters = self._waiters
        while waiters and self._in_flight < self._capacity:
            admitted = waiters.popitem(False)[1]  # positional: no kwargs dict per call
            # Count the holder before the callback: it may release or
            # acquire re-entrantly and must see a consistent breaker.
            self._in_flight += 1
            try:
                admitted()
            except BaseException as exc:
                self._in_flight -= 1
                if error is None:
                    error = exc
        if error is not None:
            raise error

    def __repr__(self):
        return (
            f"<Breaker in_flight={self._in_flight} capacity={self._capacity} "
            f"queued={len(self._waiters)}/{self._queue_depth}>"
        )
