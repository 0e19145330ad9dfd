"""The KPA autoscaler as an embeddable service: revisions in, scale decisions out.

Feed it the revisions the directory knows (``apply``), activator stats
(``record_pushed``, usually through the stat server) and ``config-autoscaler``
data (``update_config``); ``start`` runs Knative's loops (a decision for every
revision every 2 s, a scrape of every revision's pods every 1 s) and each
changed outcome goes to the ``ScaleTarget``. Locally the activator carries all
traffic, so it is always taken to be in the path.

    service = AutoscalerService(target, {"stable-window": "60s"})
    service.apply(snapshot.revisions.values())
    service.start()
    ...
    await service.close()
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial

from dataplane.api.autoscaling import KPA, AutoscalerConfig
from dataplane.autoscaler.core import TICK_INTERVAL, resolve_spec
from dataplane.autoscaler.outcome import RevisionScale, ScaleTarget
from dataplane.autoscaler.revision import ScaledRevision
from dataplane.autoscaler.scraper import Fetch, HttpStatFetcher, Scraper, ScrapeResult
from dataplane.directory import RevisionInfo
from dataplane.stats.wire import Stat

log = logging.getLogger("dataplane.autoscaler")

SCRAPE_INTERVAL = 1.0
"""Seconds between scrapes of a revision (Knative's scrape tick)."""
# Both loops keep to the clock's seconds: scrapes start just after a second
# begins and decisions come mid-second, so a decision sees the current
# second's scrape (a 1 s panic window would otherwise often read empty).
SCRAPE_OFFSET = 0.02
TICK_OFFSET = 0.5

Key = tuple[str, str]


@dataclass
class StatCounters:
    """What became of stats pushed to the service."""

    received: int = 0
    """Stats recorded for a known revision."""
    unknown: int = 0
    """Stats for revisions the service does not scale (unknown, or another class)."""
    rejected_frames: int = 0
    """Frames that could not be decoded."""


class AutoscalerService:
    """Per-revision decision cores fed by the directory, scrapes and pushed stats."""

    def __init__(
        self,
        target: ScaleTarget | None = None,
        config: Mapping[str, str] | AutoscalerConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        fetch: Fetch | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """``config`` is ``config-autoscaler`` data (``ConfigError`` if invalid) or a built config.

        ``clock`` gives Unix seconds (pod start times are compared with it);
        ``fetch`` scrapes one pod (HTTP by default); ``rng`` shuffles samples.
        """
        self.target = target
        if config is None:
            config = AutoscalerConfig()
        elif not isinstance(config, AutoscalerConfig):
            config = AutoscalerConfig.from_map(config)
        self.config: AutoscalerConfig = config
        self.clock = clock
        self.scraper = Scraper(fetch if fetch is not None else HttpStatFetcher(), rng=rng)
        self.revisions: dict[Key, ScaledRevision] = {}
        self.skipped: dict[Key, str] = {}
        """Revisions in the directory that this service does not scale, with the reason."""
        self.stats = StatCounters()
        self._known: dict[Key, RevisionInfo] = {}
        self._tasks: list[asyncio.Task] = []
        self._last_push: dict[tuple[str, str, str], tuple[int, Stat]] = {}

    # --- inputs --------------------------------------------------------------

    def apply(self, revisions: Iterable[RevisionInfo]) -> None:
        """Adopt the directory's full list of revisions: create, update and drop scalers."""
        self._known = {info.key: info for info in revisions}
        for key in [k for k in self._last_push if k[:2] not in self._known]:
            del self._last_push[key]
        self._sync(force=False)

    def update_config(self, data: Mapping[str, str] | AutoscalerConfig) -> None:
        """Adopt new ``config-autoscaler`` data or a built config; raises ``ConfigError`` and keeps the old one if invalid."""
        self.config = data if isinstance(data, AutoscalerConfig) else AutoscalerConfig.from_map(data)
        self._sync(force=True)

    def _sync(self, force: bool) -> None:
        now = self.clock()
        config = self.config
        for key, info in self._known.items():
            current = self.revisions.get(key)
            if current is not None and not force and _same_settings(current.info, info):
                current.refresh(info, current.spec, now)
                continue
            spec = resolve_spec(info.annotations, config, info.container_concurrency)
            if spec.autoscaler_class != KPA:
                self.revisions.pop(key, None)
                self.skipped[key] = f"autoscaling class is {spec.autoscaler_class}, not {KPA}"
                continue
            self.skipped.pop(key, None)
            if current is None:
                self.revisions[key] = revision = ScaledRevision(info, spec, now)
                self._decide(revision, now)
            else:
                current.refresh(info, spec, now)
        for key in [key for key in self.revisions if key not in self._known]:
            del self.revisions[key]
        for key in [key for key in self.skipped if key not in self._known]:
            del self.skipped[key]

    def record_pushed(self, namespace: str, name: str, stat: Stat) -> bool:
        """Record an activator's stat; decides at once when it asks for a poke. False for unknown revisions."""
        revision = self.revisions.get((namespace, name))
        if revision is None:
            self.stats.unknown += 1
            return False
        self.stats.received += 1
        now = self.clock()
        # One sender reports each window once: a second report from it in the same second is a late
        # duplicate (its loop or ours stalled), so it replaces the first instead of adding to it.
        second = math.floor(now)
        key = (namespace, name, stat.pod_name)
        previous = self._last_push.get(key)
        self._last_push[key] = (second, stat)
        recorded = stat if previous is None or previous[0] != second else _difference(stat, previous[1])
        poke = revision.autoscaler.record_pushed(recorded, now)
        poke = poke or (revision.autoscaler.desired == 0 and stat.average_concurrent_requests != 0)
        # A revision never decided and without pods (e.g. right after a restart)
        # is as good as at zero: the request waiting in the activator should not
        # wait for the next tick either.
        if not poke and revision.autoscaler.desired < 0 and revision.ready == 0:
            poke = stat.average_concurrent_requests != 0
        if poke:
            self._decide(revision, now)
        return True

    def pushed(self, namespace: str, name: str, since: float) -> tuple[float, float]:
        """What the senders' latest reports for a revision said, if made at ``since`` or later:
        (average concurrency, requests per second), summed over senders. For people reading; decisions use the windows."""
        concurrency = rate = 0.0
        for (ns, rev, _pod), (second, stat) in self._last_push.items():
            if ns == namespace and rev == name and second >= since:
                concurrency += stat.average_concurrent_requests
                rate += stat.request_count
        return concurrency, rate

    # --- decisions -----------------------------------------------------------

    def tick(self) -> None:
        """Decide every revision now (the 2 s loop calls this)."""
        now = self.clock()
        for revision in list(self.revisions.values()):
            self._decide(revision, now)

    def _decide(self, revision: ScaledRevision, now: float) -> None:
        outcome = revision.evaluate(now)
        key = outcome.publish_key()
        if key == revision.published:
            return
        revision.published = key
        if self.target is None:
            return
        try:
            self.target.scale(outcome.namespace, outcome.name, outcome)
        except Exception:
            log.exception("scale target failed for %s/%s", outcome.namespace, outcome.name)

    def status(self, namespace: str, name: str) -> RevisionScale | None:
        """The latest decision for a revision, or ``None`` if the service does not scale it."""
        revision = self.revisions.get((namespace, name))
        return None if revision is None else revision.latest

    def statuses(self) -> list[RevisionScale]:
        """The latest decision of every revision, in (namespace, name) order."""
        return [r.latest for _, r in sorted(self.revisions.items()) if r.latest is not None]

    # --- scraping ------------------------------------------------------------

    def scrape(self) -> None:
        """Start a scrape round for every revision with ready pods that is due one (the 1 s loop calls this)."""
        now = self.clock()
        second = math.floor(now)
        scraper = self.scraper
        for revision in self.revisions.values():
            # TBC -1 means no scrape target: only activator stats count.
            if revision.scraping or revision.ready == 0 or not revision.spec.scrape_target:
                continue
            # Two rounds in one second would add up in one bucket.
            if revision.last_scrape_second == second:
                continue
            candidates = scraper.order(revision.info.pods, now, revision.spec.stable_window)
            if not candidates:
                continue
            revision.scraping = True
            revision.last_scrape_second = second
            scraper.start(candidates, revision.ready, partial(self._scraped, revision, now))

    def _scraped(self, revision: ScaledRevision, started: float, result: ScrapeResult) -> None:
        revision.scraping = False
        revision.tally.add(result)
        if result.stat is None or self.revisions.get(revision.key) is not revision:
            return
        # Recorded in the second the round started, so rounds a second apart
        # never share a bucket however long each took.
        if revision.autoscaler.record_scraped(result.stat, started):
            self._decide(revision, self.clock())

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Run the decision and scrape loops on the running event loop until ``close``."""
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(_every(self.clock, TICK_INTERVAL, TICK_OFFSET, self.tick), name="autoscaler-tick"),
            loop.create_task(_every(self.clock, SCRAPE_INTERVAL, SCRAPE_OFFSET, self.scrape), name="autoscaler-scrape"),
        ]

    async def close(self) -> None:
        """Stop the loops and scrapes in flight."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.scraper.close()


def _difference(new: Stat, old: Stat) -> Stat:
    """What replacing ``old`` by ``new`` adds to a bucket (recording is a sum)."""
    return Stat(
        pod_name=new.pod_name,
        average_concurrent_requests=new.average_concurrent_requests - old.average_concurrent_requests,
        average_proxied_concurrent_requests=new.average_proxied_concurrent_requests
        - old.average_proxied_concurrent_requests,
        request_count=new.request_count - old.request_count,
        proxied_request_count=new.proxied_request_count - old.proxied_request_count,
    )


def _same_settings(old: RevisionInfo, new: RevisionInfo) -> bool:
    # The spec depends only on these; pods alone changing needs no re-resolve.
    return old.container_concurrency == new.container_concurrency and old.annotations == new.annotations


def _next_boundary(now: float, interval: float, offset: float) -> float:
    """The first time after ``now`` that is ``offset`` past a multiple of ``interval``."""
    return offset + (math.floor((now - offset) / interval) + 1) * interval


async def _every(clock: Callable[[], float], interval: float, offset: float, action: Callable[[], None]) -> None:
    """Call ``action`` at ``offset`` past each multiple of ``interval`` on ``clock``; missed ones are skipped."""
    target = _next_boundary(clock(), interval, offset)
    while True:
        delay = target - clock()
        while delay > 0:
            await asyncio.sleep(delay)
            delay = target - clock()
        try:
            action()
        except Exception:
            log.exception("autoscaler %s failed", getattr(action, "__name__", action))
        target = _next_boundary(clock(), interval, offset)
