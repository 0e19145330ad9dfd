"""Knative's request-concurrency collector, fed per request on the hot path.

Every request calls ``request_in(proxied)`` when it arrives (before the
breaker, so queued requests count) and ``request_out(proxied)`` when it ends;
``proxied`` is true for requests the activator forwarded (``K-Proxy-Request:
activator``). ``report()`` (every second) returns the window's time-weighted
average concurrency, e.g. two requests of 0.5 s each inside one second
average 1.0, and the number of arrivals.

Upstream adds ``concurrency × seconds since the last event`` at every event.
The same area is kept here as the sum, over the window, of each departure's
time minus each arrival's time, plus ``concurrency × window`` at the report
for requests still in flight: one float operation per event, and times are
taken relative to the window start so the sum stays precise however long the
clock has been running.

``Collector(clock)`` takes a non-decreasing ``clock() -> seconds``
(``time.monotonic``; a fake in tests). The compiled build and the pure-Python
twin share this API.
"""

from __future__ import annotations

from dataplane._twins import pick

_impl = pick("dataplane.stats._collector_c", "dataplane.stats._collector_py")

Collector = _impl.Collector

__all__ = ["Collector"]
