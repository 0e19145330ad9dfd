"""The queue-proxy's concurrency breaker: a hard limit plus a FIFO queue.

Knative's queue-proxy admits ``containerConcurrency`` requests at a time and
lets ``10 × containerConcurrency`` more wait; this breaker does the same
without a task or future per request. ``acquire(waiter)`` answers at once:

* ``ADMITTED``: the caller holds a slot and must ``release()`` it later;
* ``QUEUED``: the caller waits; the breaker calls ``waiter.admitted()``
  (synchronously, from ``release()`` or ``set_capacity()``) when the slot is
  its, after which it is a holder like any other; ``cancel(waiter)`` takes
  it out of the queue instead (a client that went away);
* ``REJECTED``: the queue is full (Knative answers 503).

Unlike upstream's channel-based breaker, waiters are admitted in strict
arrival order. The compiled build and the pure-Python twin share this API.
"""

from __future__ import annotations

from dataplane._twins import pick

_impl = pick("dataplane.queueproxy._breaker_c", "dataplane.queueproxy._breaker_py")

Breaker = _impl.Breaker
ADMITTED: int = _impl.ADMITTED
QUEUED: int = _impl.QUEUED
REJECTED: int = _impl.REJECTED

__all__ = ["ADMITTED", "QUEUED", "REJECTED", "Breaker"]
