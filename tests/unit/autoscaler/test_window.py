"""Bucketed windows: linear and weighted-exponential averages, against naive references."""

from __future__ import annotations

import math
import random

import pytest

from dataplane.autoscaler.core.window import LinearWindow, WeightedWindow, make_window, smoothing_coefficient


class NaiveBuckets:
    """Knative's bucket semantics recomputed from scratch on every read (slow, obviously right)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: dict[int, float] = {}
        self.first: int | None = None
        self.last: int | None = None

    def record(self, second: int, value: float) -> None:
        if self.last is not None and second + self.size <= self.last:
            return  # older than a window
        if self.last is None or second - self.last >= self.size:
            self.values = {}
            self.first = second
        if self.last is None or second > self.last:
            self.last = second
        assert self.first is not None
        self.first = min(self.first, second)
        self.values[second] = self.values.get(second, 0.0) + value

    def _value(self, second: int) -> float:
        return self.values.get(second, 0.0)

    def linear(self, now: int) -> float:
        if self.last is None or now - self.last >= self.size:
            return 0.0
        assert self.first is not None
        top = max(now, self.last)
        total = sum(v for s, v in self.values.items() if top - self.size < s <= self.last)
        span = self.size - max(0, now - self.last)
        return total / min(self.last - self.first + 1, span)

    def weighted(self, now: int) -> float:
        if self.last is None or now - self.last > self.size:
            return 0.0
        c = smoothing_coefficient(self.size)
        idle = max(0, now - self.last)
        return sum(
            self._value(self.last - i) * c * (1 - c) ** (idle + i) for i in range(self.size - idle)
        )


def test_smoothing_coefficient() -> None:
    assert smoothing_coefficient(60) == 0.2
    assert smoothing_coefficient(6) == pytest.approx(0.7846, abs=1e-4)
    assert smoothing_coefficient(10) == pytest.approx(1 - 0.0001**0.1)
    assert smoothing_coefficient(3600) == 0.2


def test_linear_partial_window_averages_only_the_seconds_seen() -> None:
    window = LinearWindow(60)
    for second in range(10):
        window.record(second, 10.0)
    assert window.average(9) == 10.0
    # Seconds without a write after the last one are not counted as zeros.
    assert window.average(19) == 10.0
    assert window.average(68) == 10.0  # still 1 of the 10 seconds in the window
    assert window.average(69) == 0.0
    assert not window.is_empty(69)
    assert window.is_empty(70)


def test_linear_gap_between_writes_counts_as_zero() -> None:
    window = LinearWindow(60)
    window.record(0, 60.0)
    window.record(10, 0.0)
    assert window.average(10) == math.floor(60 / 11 * 1e6) / 1e6


def test_linear_resets_after_a_window_of_silence() -> None:
    window = LinearWindow(60)
    window.record(0, 100.0)
    window.record(60, 5.0)
    assert window.average(60) == 5.0


def test_linear_full_window_slides() -> None:
    window = LinearWindow(6)
    for second, value in enumerate([1, 2, 3, 4, 5, 6, 7, 8]):
        window.record(second, float(value))
    assert window.average(7) == pytest.approx((3 + 4 + 5 + 6 + 7 + 8) / 6)


def test_linear_rounds_down_to_six_digits() -> None:
    window = LinearWindow(60)
    for second in range(3):
        window.record(second, 1.0 if second == 0 else 0.0)
    assert window.average(2) == 0.333333


def test_sources_add_into_the_same_bucket() -> None:
    for window in (LinearWindow(60), WeightedWindow(60)):
        window.record(5, 3.0)
        window.record(5, 4.0)
        reference = NaiveBuckets(60)
        reference.record(5, 7.0)
        assert window.average(5) == pytest.approx(reference.linear(5) if isinstance(window, LinearWindow) else reference.weighted(5))


def test_out_of_order_records_land_in_their_own_second() -> None:
    window = LinearWindow(10)
    window.record(20, 1.0)
    window.record(15, 9.0)  # five seconds late: still in the window
    window.record(5, 100.0)  # a window late: dropped
    # The late write moved the first second back to 15: six seconds are counted.
    assert window.average(20) == 1.666666
    weighted = WeightedWindow(10)
    weighted.record(20, 1.0)
    weighted.record(15, 9.0)
    weighted.record(5, 100.0)
    c = smoothing_coefficient(10)
    assert weighted.average(20) == pytest.approx(c * 1.0 + c * (1 - c) ** 5 * 9.0)


def test_weighted_values_by_hand() -> None:
    window = WeightedWindow(60)
    window.record(100, 10.0)
    assert window.average(100) == pytest.approx(2.0)  # 0.2 × 10
    assert window.average(101) == pytest.approx(1.6)  # one idle second decays it
    assert window.average(102) == pytest.approx(1.28)
    window.record(102, 10.0)
    assert window.average(102) == pytest.approx(2.0 + 1.28)
    assert window.average(161) == pytest.approx(10 * 0.2 * 0.8**59)
    assert window.average(162) == 0.0  # only the newest second is still inside
    assert window.average(163) == 0.0


def test_weighted_six_second_window() -> None:
    window = WeightedWindow(6)
    for second in range(6):
        window.record(second, 10.0)
    c = smoothing_coefficient(6)
    assert window.average(5) == pytest.approx(10 * sum(c * (1 - c) ** i for i in range(6)))
    assert window.average(5) == pytest.approx(9.999, abs=1e-3)


def test_zero_load_reads_exactly_zero_once_it_leaves_the_window() -> None:
    for window in (LinearWindow(60), WeightedWindow(60)):
        readings = {}
        for second in range(1000):
            window.record(second, 1e6 / 3 if second < 500 else 0.0)
            readings[second] = window.average(second)
        assert readings[558] > 0.0
        # Second 499 has just left the window; the running sums may still
        # hold a rounding residue, but the reading is an exact zero.
        assert readings[559] == 0.0
        assert set(readings[s] for s in range(559, 1000)) == {0.0}


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("size", [1, 6, 7, 60])
def test_matches_naive_reference(seed: int, size: int) -> None:
    rng = random.Random(seed * 1000 + size)
    linear, weighted, reference = LinearWindow(size), WeightedWindow(size), NaiveBuckets(size)
    second = rng.randrange(1000)
    for _ in range(300):
        step = rng.choice([0, 0, 1, 1, 1, 2, 3, size - 1, size, size + 3])
        second += step
        written = second - rng.randrange(size + 2) if rng.random() < 0.1 else second
        value = rng.choice([0.0, 0.0, rng.uniform(0, 500), float(rng.randrange(50))])
        for window in (linear, weighted, reference):
            window.record(written, value)
        now = max(second, reference.last or second) + rng.choice([0, 0, 1, 2, size - 1, size, size + 1])
        assert linear.average(now) == pytest.approx(reference.linear(now), abs=2e-6, rel=1e-9)
        assert weighted.average(now) == pytest.approx(reference.weighted(now), abs=1e-9, rel=1e-9)
        assert linear.is_empty(now) == weighted.is_empty(now) == (now - (reference.last or 0) > size)


@pytest.mark.parametrize("cls", [LinearWindow, WeightedWindow])
def test_resize_keeps_the_newest_buckets(cls: type) -> None:
    window = cls(60)
    for second in range(100, 160):
        window.record(second, float(second - 100))
    smaller = window.resized(10, 159)
    reference, bigger_reference = cls(10), cls(30)
    for second in range(150, 160):
        reference.record(second, float(second - 100))
        bigger_reference.record(second, float(second - 100))
    assert smaller.size == 10
    assert smaller.average(159) == pytest.approx(reference.average(159))
    bigger = smaller.resized(30, 160)
    assert bigger.size == 30
    assert bigger.average(160) == pytest.approx(bigger_reference.average(160))
    assert window.resized(10, 300).average(300) == 0.0  # nothing recent to carry over


def test_make_window() -> None:
    assert isinstance(make_window(60.0, "linear"), LinearWindow)
    window = make_window(6.0, "weighted-exponential")
    assert isinstance(window, WeightedWindow)
    assert window.size == 6
    assert make_window(0.4, "linear").size == 1
