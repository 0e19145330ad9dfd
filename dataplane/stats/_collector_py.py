"""The concurrency collector in plain Python: see ``collector`` for the contract.

This file is also the source of the compiled twin ``_collector_c``: ``setup.py``
compiles it as it is, with ``_collector_c.pxd`` beside it giving C types.
"""

from __future__ import annotations

from time import monotonic
from typing import Callable


class Collector:
    """Time-weighted request concurrency over windows that end at each report."""

    __slots__ = (
        "_clock",
        "_native_clock",
        "_window_start",
        "_concurrency",
        "_proxied_concurrency",
        "_area",
        "_proxied_area",
        "_requests",
        "_proxied_requests",
    )

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._native_clock = clock is monotonic
        self._window_start = self._now()
        self._concurrency = 0
        self._proxied_concurrency = 0
        # concurrency × seconds so far in the window, minus what requests in
        # flight will add by the time they end (see ``collector``)
        self._area = 0.0
        self._proxied_area = 0.0
        self._requests = 0
        self._proxied_requests = 0

    def request_in(self, proxied: bool) -> None:
        """A request arrived (``proxied``: it came through the activator)."""
        now = self._now() - self._window_start
        self._area -= now
        self._concurrency += 1
        self._requests += 1
        if proxied:
            self._proxied_area -= now
            self._proxied_concurrency += 1
            self._proxied_requests += 1

    def request_out(self, proxied: bool) -> None:
        """A request finished; ``proxied`` must match its ``request_in``."""
        if self._concurrency <= 0 or (proxied and self._proxied_concurrency <= 0):
            raise RuntimeError("request_out() without a matching request_in()")
        now = self._now() - self._window_start
        self._area += now
        self._concurrency -= 1
        if proxied:
            self._proxied_area += now
            self._proxied_concurrency -= 1

    def report(self) -> tuple[float, float, int, int]:
        """Close the window: ``(avg_concurrency, avg_proxied_concurrency, requests, proxied_requests)``.

        The averages are weighted by time since the previous report; the
        counts are arrivals in that time. A zero-length window reports the
        current concurrency (the limit of the average as the window shrinks;
        upstream reports 0). The next window starts now, with the current
        concurrency carried over.
        """
        now = self._now()
        elapsed = now - self._window_start
        if elapsed > 0:
            average = (self._area + self._concurrency * elapsed) / elapsed
            proxied_average = (self._proxied_area + self._proxied_concurrency * elapsed) / elapsed
        else:
            average = float(self._concurrency)
            proxied_average = float(self._proxied_concurrency)
        result = (average, proxied_average, self._requests, self._proxied_requests)
        # requests still in flight have covered the new window's zero seconds
        self._window_start = now
        self._area = 0.0
        self._proxied_area = 0.0
        self._requests = 0
        self._proxied_requests = 0
        return result

    def _now(self) -> float:
        # The same clock either way; compiled, ``monotonic`` is a C call (see the .pxd).
        if self._native_clock:
            return monotonic()
        return self._clock()

    @property
    def concurrency(self) -> int:
        """Requests in progress right now (proxied ones included)."""
        return self._concurrency

    @property
    def proxied_concurrency(self) -> int:
        """Proxied requests in progress right now."""
        return self._proxied_concurrency
