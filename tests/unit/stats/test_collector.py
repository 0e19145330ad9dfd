"""The concurrency collector on a fake clock; both builds."""

from __future__ import annotations

import random
import time
from fractions import Fraction

import pytest

from tests.twins import load, twin_params


@pytest.fixture(params=twin_params("dataplane.stats._collector"))
def mod(request):
    return load(request.param)


class FakeClock:
    def __init__(self, now=100.0):
        self.now = now
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


def at(clock, offset):
    clock.now = 100.0 + offset


def test_two_sequential_half_second_requests_average_one(mod, clock):
    c = mod.Collector(clock)
    c.request_in(False)
    at(clock, 0.5)
    c.request_out(False)
    c.request_in(False)
    at(clock, 1.0)
    c.request_out(False)
    assert c.report() == (1.0, 0.0, 2, 0)


def test_two_overlapping_half_second_requests_average_one(mod, clock):
    c = mod.Collector(clock)
    at(clock, 0.25)
    c.request_in(False)
    c.request_in(False)
    at(clock, 0.75)
    c.request_out(False)
    c.request_out(False)
    at(clock, 1.0)
    assert c.report() == (1.0, 0.0, 2, 0)


def test_concurrency_carries_over_into_the_next_windows(mod, clock):
    c = mod.Collector(clock)
    at(clock, 0.5)
    c.request_in(False)
    at(clock, 1.0)
    assert c.report() == (0.5, 0.0, 1, 0)
    at(clock, 2.0)
    assert c.report() == (1.0, 0.0, 0, 0)  # still running, but not a new arrival
    at(clock, 2.25)
    c.request_out(False)
    at(clock, 3.0)
    assert c.report() == (0.25, 0.0, 0, 0)
    at(clock, 4.0)
    assert c.report() == (0.0, 0.0, 0, 0)


def test_proxied_requests_are_part_of_the_total_and_counted_apart(mod, clock):
    c = mod.Collector(clock)
    c.request_in(True)
    c.request_in(False)
    at(clock, 0.5)
    c.request_out(False)
    at(clock, 1.0)
    c.request_out(True)
    assert c.report() == (1.5, 1.0, 2, 1)
    assert (c.concurrency, c.proxied_concurrency) == (0, 0)


def test_counts_are_arrivals_in_the_window(mod, clock):
    c = mod.Collector(clock)
    for _ in range(3):
        c.request_in(False)
    c.request_in(True)
    at(clock, 1.0)
    assert c.report()[2:] == (4, 1)
    for _ in range(3):
        c.request_out(False)
    c.request_out(True)
    at(clock, 2.0)
    assert c.report()[2:] == (0, 0)


def test_windows_follow_the_reports_not_a_fixed_second(mod, clock):
    c = mod.Collector(clock)
    c.request_in(False)
    at(clock, 2.0)
    c.request_out(False)
    at(clock, 4.0)
    avg, proxied, count, _ = c.report()
    assert avg == pytest.approx(0.5)
    assert (proxied, count) == (0.0, 1)


def test_a_zero_length_window_reports_current_concurrency(mod, clock):
    c = mod.Collector(clock)
    c.request_in(True)
    c.request_in(False)
    assert c.report() == (2.0, 1.0, 2, 1)
    assert c.report() == (2.0, 1.0, 0, 0)


def reference_report(events, start, end):
    """Upstream's way, in exact arithmetic: area += concurrency × dt at every event."""
    area = Fraction(0)
    concurrency = proxied_concurrency = 0
    proxied_area = Fraction(0)
    last = Fraction(start)
    for t, kind, proxied in events:
        t = Fraction(t)
        area += concurrency * (t - last)
        proxied_area += proxied_concurrency * (t - last)
        last = t
        step = 1 if kind == "in" else -1
        concurrency += step
        proxied_concurrency += step if proxied else 0
    area += concurrency * (Fraction(end) - last)
    proxied_area += proxied_concurrency * (Fraction(end) - last)
    window = Fraction(end) - Fraction(start)
    return float(area / window), float(proxied_area / window)


@pytest.mark.parametrize("origin", [0.0, 1e7])  # a clock that has run for four months
def test_random_windows_match_upstreams_arithmetic(mod, origin):
    rng = random.Random(7)
    clock = FakeClock(origin)
    c = mod.Collector(clock)
    in_flight = []  # proxied flag of each request in flight
    for _ in range(12):
        start = clock.now
        events = [(start, "in", p) for p in in_flight]  # carried over from the last window
        arrivals = proxied_arrivals = 0
        for _ in range(rng.randint(0, 1000)):
            clock.now += rng.random() * 1e-3
            if in_flight and rng.random() < 0.5:
                proxied = in_flight.pop(rng.randrange(len(in_flight)))
                c.request_out(proxied)
                events.append((clock.now, "out", proxied))
            else:
                proxied = rng.random() < 0.3
                in_flight.append(proxied)
                c.request_in(proxied)
                events.append((clock.now, "in", proxied))
                arrivals += 1
                proxied_arrivals += proxied
        clock.now += rng.random() * 1e-3 + 1e-6
        avg, proxied_avg, count, proxied_count = c.report()
        want_avg, want_proxied_avg = reference_report(events, start, clock.now)
        assert avg == pytest.approx(want_avg, rel=1e-9, abs=1e-9)
        assert proxied_avg == pytest.approx(want_proxied_avg, rel=1e-9, abs=1e-9)
        assert (count, proxied_count) == (arrivals, proxied_arrivals)


def test_unmatched_out_is_an_error_and_leaves_state_alone(mod, clock):
    c = mod.Collector(clock)
    with pytest.raises(RuntimeError):
        c.request_out(False)
    c.request_in(False)
    with pytest.raises(RuntimeError):
        c.request_out(True)  # nothing proxied is in flight
    assert (c.concurrency, c.proxied_concurrency) == (1, 0)
    at(clock, 1.0)
    assert c.report() == (1.0, 0.0, 1, 0)


def test_each_event_reads_the_clock_once(mod, clock):
    c = mod.Collector(clock)
    before = clock.calls
    c.request_in(False)
    c.request_out(False)
    c.report()
    assert clock.calls - before == 3


def test_the_real_monotonic_clock_works(mod):
    """The compiled build reads time.monotonic from C; the result must be the same kind of seconds."""
    c = mod.Collector(time.monotonic)
    c.request_in(True)
    first = c.report()
    assert 0.0 <= first[0] <= 1.0 and first[2:] == (1, 1)
    assert c.report() == (1.0, 1.0, 0, 0)  # in flight for the whole window
    c.request_out(True)
    assert c.concurrency == 0


def test_public_module_exports_the_chosen_build():
    from dataplane import _twins
    from dataplane.stats import collector

    build = _twins.chosen["dataplane.stats._collector_py"]
    suffix = {"compiled": "_c", "pure": "_py"}[build]
    assert collector.Collector.__module__ == "dataplane.stats._collector" + suffix
