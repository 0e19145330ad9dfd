"""Scrape rounds with a fake fetch: which pods are asked, replacement, partial samples, pods in flight."""

from __future__ import annotations

import asyncio
import random
from contextlib import contextmanager

import pytest

from dataplane.autoscaler.scraper import DURATION_BUCKETS, ScrapeResult, Scraper, ScrapeTally, sample_order
from dataplane.directory import PodInfo
from dataplane.stats.wire import Stat

NOW = 1_800_000_000.0
WINDOW = 60.0


def pod(name: str, age: float, ready: bool = True, stats: str | None = None) -> PodInfo:
    return PodInfo(name, f"{name}:8012", ready, f"{name}:9090" if stats is None else stats, NOW - age)


class FakeFetch:
    """Answers each address with a stat, fails the ones in ``failing``, holds the ones in ``held``."""

    def __init__(self, concurrency: dict[str, float] | None = None, failing: set[str] = frozenset()) -> None:
        self.concurrency = concurrency or {}
        self.failing = set(failing)
        self.held: dict[str, asyncio.Future] = {}
        self.calls: list[str] = []

    def hold(self, address: str) -> None:
        self.held[address] = asyncio.get_running_loop().create_future()

    async def __call__(self, address: str) -> Stat:
        self.calls.append(address)
        if address in self.held:
            await self.held[address]
        if address in self.failing:
            raise ConnectionRefusedError(address)
        return Stat(pod_name=address, average_concurrent_requests=self.concurrency.get(address, 1.0), request_count=10.0)


def addresses(count: int, prefix: str = "p") -> list[str]:
    return [f"{prefix}{i}:9090" for i in range(count)]


async def test_sample_order_puts_old_pods_first_and_skips_unready_or_unscrapable():
    pods = [pod("young1", 5), pod("old1", 120), pod("young2", 1), pod("old2", 61), pod("sick", 500, ready=False), pod("nostats", 500, stats="")]
    order = sample_order(pods, NOW, WINDOW, random.Random(1))
    assert set(order[:2]) == {"old1:9090", "old2:9090"}
    assert set(order[2:]) == {"young1:9090", "young2:9090"}


async def test_sample_order_counts_a_pod_without_start_time_as_old():
    pods = [pod("young", 5), PodInfo("unknown", "u:8012", True, "unknown:9090", 0.0)]
    assert sample_order(pods, NOW, WINDOW, random.Random(0))[0] == "unknown:9090"


async def test_sample_order_shuffles_within_each_group():
    pods = [pod(f"old{i}", 100 + i) for i in range(6)] + [pod(f"young{i}", i) for i in range(6)]
    orders = {tuple(sample_order(pods, NOW, WINDOW, random.Random(seed))) for seed in range(20)}
    assert len({o[:6] for o in orders}) > 1
    assert len({o[6:] for o in orders}) > 1
    assert all(all(a.startswith("old") for a in o[:6]) for o in orders)


@pytest.mark.parametrize("population, asked", [(1, 1), (3, 3), (4, 4), (10, 7), (20, 9)])
async def test_round_asks_sample_size_of_the_population(population, asked):
    fetch = FakeFetch()
    result = await Scraper(fetch).scrape(addresses(population), population)
    assert fetch.calls == addresses(population)[:asked]
    assert result.answered == asked
    assert result.errors == 0


async def test_round_prefers_old_pods():
    pods = [pod(f"old{i}", 300) for i in range(7)] + [pod(f"young{i}", 2) for i in range(3)]
    scraper = Scraper(FakeFetch(), rng=random.Random(3))
    fetch = scraper.fetch
    await scraper.scrape(scraper.order(pods, NOW, WINDOW), len(pods))
    assert sorted(fetch.calls) == sorted(f"old{i}:9090" for i in range(7))


async def test_failed_pod_is_replaced_by_the_next_unscraped_one():
    candidates = addresses(10)
    fetch = FakeFetch(failing={candidates[0], candidates[3]})
    result = await Scraper(fetch).scrape(candidates, 10)
    # 7 wanted: two failures pull in the next two pods of the list.
    assert sorted(fetch.calls) == sorted(candidates[:9])
    assert (result.answered, result.failed) == (7, 2)


async def test_aggregate_is_scaled_to_the_population():
    candidates = addresses(10)
    fetch = FakeFetch({a: 2.0 for a in candidates})
    result = await Scraper(fetch).scrape(candidates, 10)
    assert result.stat.average_concurrent_requests == pytest.approx(20.0)
    assert result.stat.request_count == pytest.approx(100.0)
    assert result.stat.pod_name == "service-scraper"


async def test_partial_sample_is_scaled_by_the_pods_that_answered():
    candidates = addresses(3)
    fetch = FakeFetch({candidates[0]: 1.0, candidates[1]: 5.0, candidates[2]: 3.0}, failing={candidates[1]})
    result = await Scraper(fetch).scrape(candidates, 3)
    assert (result.answered, result.failed) == (2, 1)
    # (1 + 3) / 2 answered × 3 pods
    assert result.stat.average_concurrent_requests == pytest.approx(6.0)


async def test_population_larger_than_the_scrapable_list_still_scales_to_the_population():
    # 4 ready pods but only 2 can be scraped (no stats address for the others).
    fetch = FakeFetch()
    result = await Scraper(fetch).scrape(addresses(2), 4)
    assert result.answered == 2
    assert result.stat.average_concurrent_requests == pytest.approx(4.0)


async def test_round_where_nobody_answers_has_no_stat():
    candidates = addresses(2)
    result = await Scraper(FakeFetch(failing=set(candidates))).scrape(candidates, 2)
    assert result.stat is None
    assert result.failed == 2


async def test_empty_round_finishes_at_once():
    result = await Scraper(FakeFetch()).scrape([], 0)
    assert result == ScrapeResult(None, 0, 0, 0, result.duration)


async def test_pod_with_a_scrape_in_flight_is_not_asked_again():
    candidates = addresses(2)
    fetch = FakeFetch()
    fetch.hold(candidates[0])
    scraper = Scraper(fetch)
    first = asyncio.ensure_future(scraper.scrape(candidates[:1], 1))
    await yield_to_loop()
    assert candidates[0] in scraper.busy
    second = await scraper.scrape(candidates, 2)
    assert second.answered == 1
    assert fetch.calls == [candidates[0], candidates[1]]
    fetch.held[candidates[0]].set_result(None)
    assert (await first).answered == 1
    assert scraper.busy == set()


@contextmanager
def frozen_loop_clock():
    """Stop the event loop's clock so a test moves timers forward by hand."""
    loop = asyncio.get_running_loop()
    now = [loop.time()]
    loop.time = lambda: now[0]
    try:
        yield now
    finally:
        del loop.time


async def yield_to_loop(times: int = 5) -> None:
    for _ in range(times):
        await asyncio.sleep(0)


async def test_round_ends_at_its_deadline_and_the_slow_pod_stays_busy_until_it_answers():
    candidates = addresses(2)
    fetch = FakeFetch()
    fetch.hold(candidates[0])
    scraper = Scraper(fetch, round_timeout=0.9)
    results: list[ScrapeResult] = []
    with frozen_loop_clock() as now:
        scraper.start(candidates, 2, results.append)
        await yield_to_loop()
        assert results == []  # one pod answered, the other is still being asked
        now[0] += 0.9
        await yield_to_loop()
    [result] = results
    assert (result.answered, result.unanswered, result.errors) == (1, 1, 1)
    assert result.stat.average_concurrent_requests == pytest.approx(2.0)
    assert result.duration == pytest.approx(0.9)
    assert scraper.busy == {candidates[0]}
    fetch.held[candidates[0]].set_result(None)
    await yield_to_loop()
    assert scraper.busy == set()
    assert len(results) == 1  # the late answer changes nothing


async def test_close_cancels_requests_in_flight():
    fetch = FakeFetch()
    fetch.hold("p0:9090")
    scraper = Scraper(fetch)
    done = []
    scraper.start(["p0:9090"], 1, done.append)
    await yield_to_loop()
    await scraper.close()
    assert scraper.busy == set()
    assert done == []  # an abandoned round reports nothing


def test_tally_counts_rounds_errors_and_durations():
    tally = ScrapeTally()
    tally.add(ScrapeResult(None, 0, 2, 1, 0.0005))
    tally.add(ScrapeResult(None, 3, 0, 0, 0.3))
    tally.add(ScrapeResult(None, 3, 0, 0, 9.0))
    assert (tally.rounds, tally.answered, tally.errors) == (3, 6, 3)
    assert tally.bucket_counts[0] == 1
    assert tally.bucket_counts[DURATION_BUCKETS.index(0.5)] == 1
    assert tally.bucket_counts[-1] == 1
    assert tally.duration_sum == pytest.approx(9.3005)
