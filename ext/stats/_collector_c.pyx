"""Compiled twin of ``dataplane.stats._collector_py``: see ``collector`` for the contract."""

import time

from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec


cdef class Collector:
    """Time-weighted request concurrency over windows that end at each report."""

    cdef object _clock
    # time.monotonic read straight from C: it is clock_gettime(CLOCK_MONOTONIC)
    # underneath, and skipping the Python call took a request_in+request_out
    # pair from ~165 to ~115 ns here
    cdef bint _native_monotonic
    cdef double _window_start
    cdef long long _concurrency
    cdef long long _proxied_concurrency
    # see the pure twin
    cdef double _area
    cdef double _proxied_area
    cdef long long _requests
    cdef long long _proxied_requests

    def __init__(self, clock):
        self._clock = clock
        self._native_monotonic = clock is time.monotonic
        self._window_start = self._now()
        self._concurrency = 0
        self._proxied_concurrency = 0
        self._area = 0.0
        self._proxied_area = 0.0
        self._requests = 0
        self._proxied_requests = 0

    cdef inline double _now(self) except? -1.0:
        cdef timespec ts
        if self._native_monotonic:
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return ts.tv_sec + ts.tv_nsec * 1e-9
        return self._clock()

    def request_in(self, bint proxied):
        """A request arrived (``proxied``: it came through the activator)."""
        cdef double now = self._now() - self._window_start
        self._area -= now
        self._concurrency += 1
        self._requests += 1
        if proxied:
            self._proxied_area -= now
            self._proxied_concurrency += 1
            self._proxied_requests += 1

    def request_out(self, bint proxied):
        """A request finished; ``proxied`` must match its ``request_in``."""
        if self._concurrency <= 0 or (proxied and self._proxied_concurrency <= 0):
            raise RuntimeError("request_out() without a matching request_in()")
        cdef double now = self._now() - self._window_start
        self._area += now
        self._concurrency -= 1
        if proxied:
            self._proxied_area += now
            self._proxied_concurrency -= 1

    def report(self):
        """Close the window: ``(avg_concurrency, avg_proxied_concurrency, requests, proxied_requests)``.

        The averages are weighted by time since the previous report; the
        counts are arrivals in that time. A zero-length window reports the
        current concurrency (the limit of the average as the window shrinks;
        upstream reports 0). The next window starts now, with the current
        concurrency carried over.
        """
        cdef double now = self._now()
        cdef double elapsed = now - self._window_start
        cdef double average, proxied_average
        if elapsed > 0:
            average = (self._area + self._concurrency * elapsed) / elapsed
            proxied_average = (self._proxied_area + self._proxied_concurrency * elapsed) / elapsed
        else:
            average = <double>self._concurrency
            proxied_average = <double>self._proxied_concurrency
        result = (average, proxied_average, self._requests, self._proxied_requests)
        self._window_start = now
        self._area = 0.0
        self._proxied_area = 0.0
        self._requests = 0
        self._proxied_requests = 0
        return result

    @property
    def concurrency(self):
        """Requests in progress right now (proxied ones included)."""
        return self._concurrency

    @property
    def proxied_concurrency(self):
        """Proxied requests in progress right now."""
        return self._proxied_concurrency
