"""Scraping a revision's queue-proxies: Knative's sample of pods, one round per second.

A round picks ``sample_size(N)`` of the N ready pods, older pods first (up
longer than the stable window: a young pod's window says little), each group
shuffled. Like Knative's scrapers, a failed pod is replaced by the next one in
the list. Unlike Knative, a round that reached fewer pods than wanted still
counts, scaled up by the pods that answered, and a round ends at a deadline
shorter than the scrape interval: a pod still answering then keeps its
request (up to the fetch's own timeout) but is skipped by later rounds until it
is done, so no pod ever has two scrapes in flight and rounds never overlap.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial

import aiohttp
import yarl

from dataplane.autoscaler.core import sample_size, scale_to_population
from dataplane.directory import PodInfo
from dataplane.stats.wire import Stat

Fetch = Callable[[str], Awaitable[Stat]]
"""Scrape one pod's stats address (``host:port``); raises when the pod does not answer."""

ROUND_TIMEOUT = 0.9
"""Seconds a round waits for answers: less than the 1 s scrape interval, so rounds never overlap."""
FETCH_TIMEOUT = 3.0
"""Seconds one HTTP scrape may take (Knative's client timeout)."""
DURATION_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
"""Upper bounds (seconds) of the scrape duration histogram."""


def sample_order(pods: Iterable[PodInfo], now: float, stable_window: float, rng: random.Random) -> list[str]:
    """Stats addresses of the ready pods to try, in order: old pods shuffled, then young pods shuffled.

    ``now`` and ``PodInfo.started_at`` are Unix seconds; a pod with no start
    time counts as old.
    """
    old: list[str] = []
    young: list[str] = []
    cutoff = now - stable_window
    for pod in pods:
        if not pod.ready or not pod.stats_address:
            continue
        (old if pod.started_at <= cutoff else young).append(pod.stats_address)
    rng.shuffle(old)
    rng.shuffle(young)
    old.extend(young)
    return old


@dataclass(frozen=True, slots=True)
class ScrapeResult:
    """One round over a revision's pods."""

    stat: Stat | None
    """The answers summed and scaled to the population; ``None`` when no pod answered."""
    answered: int
    """Pods whose stats are in ``stat``."""
    failed: int
    """Pods that answered with an error or not at all (connection refused, bad body...)."""
    unanswered: int
    """Pods still being asked when the round ended."""
    duration: float
    """Seconds from the round's start to its end."""

    @property
    def errors(self) -> int:
        """Pods that were asked and did not contribute."""
        return self.failed + self.unanswered


class ScrapeTally:
    """A revision's scrape counters for metrics: rounds, errors, duration histogram."""

    __slots__ = ("rounds", "answered", "errors", "bucket_counts", "duration_sum")

    def __init__(self) -> None:
        self.rounds = 0
        self.answered = 0
        """Pod scrapes that contributed to a round."""
        self.errors = 0
        self.bucket_counts = [0] * (len(DURATION_BUCKETS) + 1)
        """Per bucket (not cumulative); the last one is above every bound."""
        self.duration_sum = 0.0

    def add(self, result: ScrapeResult) -> None:
        """Count one finished round."""
        self.rounds += 1
        self.answered += result.answered
        self.errors += result.errors
        self.duration_sum += result.duration
        index = 0
        for bound in DURATION_BUCKETS:
            if result.duration <= bound:
                break
            index += 1
        self.bucket_counts[index] += 1


class _Round:
    """Walks the candidate list with ``want`` requests in flight until enough answers or the deadline."""

    __slots__ = ("scraper", "candidates", "want", "population", "on_done", "started", "timer", "open", "in_flight", "answers", "failed")

    def __init__(self, scraper: Scraper, candidates: list[str], want: int, population: int, on_done) -> None:
        loop = scraper.loop
        self.scraper = scraper
        self.candidates = iter(candidates)
        self.want = want
        self.population = population
        self.on_done = on_done
        self.started = loop.time()
        self.timer = loop.call_later(scraper.round_timeout, self.finish)
        self.open = True
        self.in_flight = 0
        self.answers: list[Stat] = []
        self.failed = 0

    def launch(self) -> None:
        busy = self.scraper.busy
        while self.in_flight + len(self.answers) < self.want:
            address = next((a for a in self.candidates if a not in busy), None)
            if address is None:
                break
            self.in_flight += 1
            self.scraper.request(address).add_done_callback(self.landed)
        if self.in_flight == 0:
            self.finish()

    def landed(self, task: asyncio.Task) -> None:
        self.in_flight -= 1
        if not self.open:
            return  # a late answer: its second has been recorded already
        if task.cancelled() or task.exception() is not None:
            self.failed += 1
        else:
            self.answers.append(task.result())
        if len(self.answers) >= self.want:
            self.finish()
        else:
            self.launch()

    def finish(self) -> None:
        if not self.open:
            return
        self.open = False
        self.timer.cancel()
        self.scraper.rounds.discard(self)
        stat = scale_to_population(self.answers, self.population)
        duration = self.scraper.loop.time() - self.started
        self.on_done(ScrapeResult(stat, len(self.answers), self.failed, self.in_flight, duration))

    def abandon(self) -> None:
        self.open = False
        self.timer.cancel()


class Scraper:
    """Runs scrape rounds for any number of revisions over one ``fetch`` function."""

    def __init__(self, fetch: Fetch, *, round_timeout: float = ROUND_TIMEOUT, rng: random.Random | None = None) -> None:
        self.fetch = fetch
        self.round_timeout = round_timeout
        self.rng = rng or random.Random()
        self.busy: set[str] = set()
        """Stats addresses with a request in flight."""
        self.rounds: set[_Round] = set()
        self._requests: set[asyncio.Task] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def order(self, pods: Iterable[PodInfo], now: float, stable_window: float) -> list[str]:
        """The candidate list for a round (see ``sample_order``), using this scraper's random source."""
        return sample_order(pods, now, stable_window, self.rng)

    def start(self, candidates: list[str], population: int, on_done: Callable[[ScrapeResult], None]) -> None:
        """Begin a round over ``candidates`` for a revision of ``population`` ready pods.

        ``on_done`` gets the result once ``sample_size(population)`` pods
        answered, the list ran out, or the round's deadline passed; it may be
        called before ``start`` returns.
        """
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        round_ = _Round(self, candidates, sample_size(population), population, on_done)
        self.rounds.add(round_)
        round_.launch()

    async def scrape(self, candidates: list[str], population: int) -> ScrapeResult:
        """One round, awaited."""
        done: asyncio.Future[ScrapeResult] = asyncio.get_running_loop().create_future()
        self.start(candidates, population, done.set_result)
        return await done

    def request(self, address: str) -> asyncio.Task:
        """Start fetching ``address``; it stays busy until the fetch ends."""
        task = self.loop.create_task(self.fetch(address))
        self.busy.add(address)
        self._requests.add(task)
        # Registered first, so the pod is free again before any round hears of it.
        task.add_done_callback(partial(self._request_done, address))
        return task

    def _request_done(self, address: str, task: asyncio.Task) -> None:
        self.busy.discard(address)
        self._requests.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here so a late failure is never reported as unhandled

    async def close(self) -> None:
        """Drop open rounds and cancel requests in flight."""
        for round_ in list(self.rounds):
            round_.abandon()
        self.rounds.clear()
        requests = list(self._requests)
        for task in requests:
            task.cancel()
        await asyncio.gather(*requests, return_exceptions=True)
        close = getattr(self.fetch, "close", None)
        if close is not None:
            await close()


class ScrapeError(Exception):
    """A pod answered the scrape with something other than a stat."""


_ACCEPT_PROTOBUF = {"Accept": "application/protobuf"}


class HttpStatFetcher:
    """``GET http://<address>/metrics`` asking for protobuf, on kept-alive connections.

    JSON answers are decoded too. A ``Fetch``; ``close`` ends its session.
    """

    def __init__(self, timeout: float = FETCH_TIMEOUT) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, yarl.URL] = {}

    def _open(self) -> aiohttp.ClientSession:
        # limit=0: one kept-alive connection per pod, however many pods.
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=15.0)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout), skip_auto_headers=("User-Agent",)
        )
        return self._session

    def _url(self, address: str) -> yarl.URL:
        url = self._urls.get(address)
        if url is None:
            if len(self._urls) > 100_000:  # pods come and go; keep the cache from growing forever
                self._urls.clear()
            # Parsing a URL costs more than the rest of a scrape's Python work.
            url = self._urls[address] = yarl.URL(f"http://{address}/metrics")
        return url

    async def __call__(self, address: str) -> Stat:
        session = self._session or self._open()
        async with session.get(self._url(address), headers=_ACCEPT_PROTOBUF) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise ScrapeError(f"{address}: status {resp.status}")
            content_type = resp.content_type
        try:
            if content_type == "application/json":
                return Stat.from_json(body)
            return Stat.from_proto(body)
        except ValueError as exc:
            raise ScrapeError(f"{address}: {exc}") from None

    async def close(self) -> None:
        """Close the HTTP session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
