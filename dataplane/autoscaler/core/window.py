"""Time-bucketed metric windows: Knative's ``aggregation/bucketing.go``, kept O(1).

A window is a ring of one-second buckets. Every source (the scraper and each
activator) adds into the bucket of the second its stat arrived in. Reads are
made at whole seconds (``int`` indexes, the caller floors its clock).

Both averages keep running sums so a read costs O(1) plus the seconds elapsed
since the last write (normally one or two); Knative re-sums the weighted
window on every read, which is too slow for 10,000 revisions per tick here.
"""

from __future__ import annotations

import math
from functools import lru_cache

_NEVER = -(1 << 62)
"""Index of a write that never happened; far enough back to look expired."""
_WEIGHT_PRECISION = 0.9999
_MIN_SMOOTHING = 0.2


def _floor6(value: float) -> float:
    # Knative rounds linear averages down to 6 digits, which also hides
    # drift left in the running sum by additions and subtractions.
    return math.floor(value * 1e6) / 1e6


def smoothing_coefficient(buckets: int) -> float:
    """Weight of the newest bucket: max(0.2, 1 − 0.0001^(1/buckets))."""
    return max(_MIN_SMOOTHING, 1.0 - (1.0 - _WEIGHT_PRECISION) ** (1.0 / buckets))


@lru_cache(maxsize=None)
def _decay_powers(buckets: int) -> tuple[float, ...]:
    # (1 − c)^k for k in 0..buckets, shared by every window of that length.
    decay = 1.0 - smoothing_coefficient(buckets)
    return tuple(decay**k for k in range(buckets + 1))


class LinearWindow:
    """Sum of the buckets in the window divided by the seconds seen.

    The divisor counts seconds from the first write (capped at the window)
    and leaves out trailing seconds with no write, so a fresh or idle
    revision averages only what it saw. A whole window without writes
    resets it.
    """

    __slots__ = ("size", "_buckets", "_first", "_last", "_last_nonzero", "_total")

    def __init__(self, size: int) -> None:
        self.size = size
        self._buckets = [0.0] * size
        self._first = _NEVER
        self._last = _NEVER
        self._last_nonzero = _NEVER
        self._total = 0.0

    def record(self, second: int, value: float) -> None:
        """Add ``value`` to the bucket of ``second``; older than a window is dropped."""
        last = self._last
        size = self.size
        buckets = self._buckets
        if second != last:
            if second > last:
                if second - last >= size:
                    buckets = self._buckets = [0.0] * size
                    self._total = 0.0
                    self._first = second
                else:
                    total = self._total
                    for index in range(last + 1, second + 1):
                        slot = index % size
                        total -= buckets[slot]
                        buckets[slot] = 0.0
                    self._total = total
                self._last = second
            elif second + size <= last:
                return
            elif second < self._first:
                self._first = second
        buckets[second % size] += value
        self._total += value
        if value and second > self._last_nonzero:
            self._last_nonzero = second

    def is_empty(self, now: int) -> bool:
        """True when nothing was written in the window ending at ``now``."""
        return now - self._last > self.size

    def average(self, now: int) -> float:
        """Window average as of second ``now``."""
        size = self.size
        last = self._last
        elapsed = now - last
        if elapsed >= size or now - self._last_nonzero >= size:
            return 0.0
        seen = last - self._first + 1
        if elapsed <= 0:
            return _floor6(self._total / (seen if seen < size else size))
        total = self._total
        buckets = self._buckets
        # Buckets for last+1..now still hold the seconds now outside the window.
        for index in range(last + 1, now + 1):
            total -= buckets[index % size]
        span = size - elapsed
        return _floor6(total / (seen if seen < span else span))

    def resized(self, size: int, now: int) -> "LinearWindow":
        """A window of ``size`` buckets carrying over the newest data."""
        fresh = LinearWindow(size)
        if self.is_empty(now) or self._last == _NEVER:
            return fresh
        _replay(self._buckets, self.size, self._last, fresh)
        fresh._first = max(self._first, fresh._first)
        fresh._last_nonzero = self._last_nonzero
        return fresh


class WeightedWindow:
    """Exponentially weighted window: newest-first weights c·(1 − c)^i.

    Seconds with no write since the last one count as zeros, so the value
    decays while a revision is idle. The running sum ``acc`` is
    Σ (1 − c)^i · bucket(last − i) over the window.
    """

    __slots__ = ("size", "_buckets", "_last", "_last_nonzero", "_acc", "_coeff", "_powers")

    def __init__(self, size: int) -> None:
        self.size = size
        self._buckets = [0.0] * size
        self._last = _NEVER
        self._last_nonzero = _NEVER
        self._acc = 0.0
        self._coeff = smoothing_coefficient(size)
        self._powers = _decay_powers(size)

    def record(self, second: int, value: float) -> None:
        """Add ``value`` to the bucket of ``second``; older than a window is dropped."""
        last = self._last
        size = self.size
        buckets = self._buckets
        if second == last:
            self._acc += value
        elif second > last:
            if second - last >= size:
                buckets = self._buckets = [0.0] * size
                acc = 0.0
            else:
                acc = self._acc
                decay = self._powers[1]
                leaving = self._powers[size]
                for index in range(last + 1, second + 1):
                    slot = index % size
                    acc = acc * decay - leaving * buckets[slot]
                    buckets[slot] = 0.0
            self._acc = acc + value
            self._last = second
        else:
            age = last - second
            if age >= size:
                return
            self._acc += self._powers[age] * value
        buckets[second % size] += value
        if value and second > self._last_nonzero:
            self._last_nonzero = second

    def is_empty(self, now: int) -> bool:
        """True when nothing was written in the window ending at ``now``."""
        return now - self._last > self.size

    def average(self, now: int) -> float:
        """Weighted average as of second ``now``."""
        size = self.size
        last = self._last
        elapsed = now - last
        # The second test also returns an exact 0 once only zeros remain,
        # where the running sum may keep a rounding residue.
        if elapsed >= size or now - self._last_nonzero >= size:
            return 0.0
        if elapsed <= 0:
            return self._coeff * self._acc
        acc = self._acc
        powers = self._powers
        buckets = self._buckets
        # The oldest ``elapsed`` buckets have left the window by ``now``.
        for age in range(size - elapsed, size):
            acc -= powers[age] * buckets[(last - age) % size]
        return self._coeff * powers[elapsed] * acc

    def resized(self, size: int, now: int) -> "WeightedWindow":
        """A window of ``size`` buckets carrying over the newest data."""
        fresh = WeightedWindow(size)
        if self.is_empty(now) or self._last == _NEVER:
            return fresh
        _replay(self._buckets, self.size, self._last, fresh)
        fresh._last_nonzero = self._last_nonzero
        return fresh


Window = LinearWindow | WeightedWindow
"""Either kind of window; both answer ``record``, ``average``, ``is_empty`` and ``resized``."""


def _replay(buckets: list[float], old_size: int, last: int, into: Window) -> None:
    for age in range(min(old_size, into.size) - 1, -1, -1):
        into.record(last - age, buckets[(last - age) % old_size])


def make_window(seconds: float, aggregation: str) -> Window:
    """A window of ``ceil(seconds)`` one-second buckets for the named aggregation."""
    size = max(1, math.ceil(seconds))
    if aggregation == "weighted-exponential":
        return WeightedWindow(size)
    return LinearWindow(size)
