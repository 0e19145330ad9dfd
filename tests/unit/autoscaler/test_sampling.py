"""Scrape sample sizes and scaling a (possibly partial) sample to the revision."""

from __future__ import annotations

import pytest

from dataplane.autoscaler.core.sampling import SCRAPER_POD_NAME, UNBOUNDED_SAMPLE, sample_size, scale_to_population
from dataplane.stats.wire import Stat


@pytest.mark.parametrize(
    ("population", "expected"),
    [(-1, 0), (0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 4), (10, 7), (20, 9), (100, 14), (1000, 16), (10**9, 16)],
)
def test_sample_size(population: int, expected: int) -> None:
    assert sample_size(population) == expected


def test_unbounded_sample() -> None:
    assert UNBOUNDED_SAMPLE == pytest.approx(15.3664)


def pod(concurrency: float, requests: float = 0.0, proxied: float = 0.0, proxied_requests: float = 0.0) -> Stat:
    return Stat(
        pod_name="p",
        average_concurrent_requests=concurrency,
        average_proxied_concurrent_requests=proxied,
        request_count=requests,
        proxied_request_count=proxied_requests,
    )


def test_full_sample_scales_to_the_population() -> None:
    sample = [pod(10.0, 5.0, 1.0, 2.0)] * 7
    stat = scale_to_population(sample, 10, now=42.0)
    assert stat == Stat(
        pod_name=SCRAPER_POD_NAME,
        average_concurrent_requests=100.0,
        average_proxied_concurrent_requests=10.0,
        request_count=50.0,
        proxied_request_count=20.0,
        timestamp=42.0,
    )


@pytest.mark.parametrize(("answered", "expected"), [(7, 100.0), (3, 100.0), (1, 100.0)])
def test_partial_sample_uses_the_pods_that_answered(answered: int, expected: float) -> None:
    stat = scale_to_population([pod(10.0)] * answered, 10)
    assert stat is not None
    assert stat.average_concurrent_requests == pytest.approx(expected)


def test_uneven_partial_sample_averages_what_answered() -> None:
    stat = scale_to_population([pod(2.0), pod(4.0), pod(9.0)], 20)
    assert stat is not None
    assert stat.average_concurrent_requests == pytest.approx(5.0 * 20)


def test_empty_sample_yields_nothing() -> None:
    assert scale_to_population([], 10) is None
