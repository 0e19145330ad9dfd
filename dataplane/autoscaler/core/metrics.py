"""A revision's collected load: stable and panic windows for concurrency and rps.

Mirrors Knative's per-revision ``collection``. Scraped stats and activator
pushes land in the same one-second buckets; the split between
``record_scraped`` and ``record_pushed`` makes the double-counting rule
explicit: a pod's report subtracts what came through the activator, because
the activator reports that traffic itself.
"""

from __future__ import annotations

import math

from dataplane.api.annotations import RPS
from dataplane.autoscaler.core.spec import ScalingSpec
from dataplane.autoscaler.core.window import make_window
from dataplane.stats.wire import Stat


class RevisionMetrics:
    """Four windows per revision; reads answer ``None`` when there is no data to scale on."""

    __slots__ = ("concurrency_stable", "concurrency_panic", "rps_stable", "rps_panic", "scrape_target", "_aggregation")

    def __init__(self, spec: ScalingSpec) -> None:
        self.scrape_target = spec.scrape_target
        self._fresh_windows(spec)

    def _fresh_windows(self, spec: ScalingSpec) -> None:
        self._aggregation = spec.aggregation
        self.concurrency_stable = make_window(spec.stable_window, spec.aggregation)
        self.concurrency_panic = make_window(spec.panic_window, spec.aggregation)
        self.rps_stable = make_window(spec.stable_window, spec.aggregation)
        self.rps_panic = make_window(spec.panic_window, spec.aggregation)

    def _record(self, now: float, concurrency: float, rps: float) -> None:
        second = math.floor(now)
        self.concurrency_stable.record(second, concurrency)
        self.concurrency_panic.record(second, concurrency)
        self.rps_stable.record(second, rps)
        self.rps_panic.record(second, rps)

    def record_scraped(self, stat: Stat, now: float) -> None:
        """Record a scrape of the revision's pods, minus the traffic the activator proxied to them."""
        self._record(
            now,
            stat.average_concurrent_requests - stat.average_proxied_concurrent_requests,
            stat.request_count - stat.proxied_request_count,
        )

    def record_pushed(self, stat: Stat, now: float) -> None:
        """Record an activator's report in full: it is the only count of proxied traffic."""
        self._record(now, stat.average_concurrent_requests, stat.request_count)

    def stable_and_panic(self, metric: str, now: float) -> tuple[float, float] | None:
        """(stable, panic) averages of ``metric`` at ``now``; ``None`` = no data, skip the tick.

        "No data" means the stable window saw nothing while pods are being
        scraped; with no scrape target (TBC -1) silence reads as zero load.
        """
        second = math.floor(now)
        if metric == RPS:
            stable, panic = self.rps_stable, self.rps_panic
        else:
            stable, panic = self.concurrency_stable, self.concurrency_panic
        if self.scrape_target and stable.is_empty(second):
            return None
        return stable.average(second), panic.average(second)

    def update(self, spec: ScalingSpec, now: float) -> None:
        """Follow a changed spec: resize windows keeping recent data, and the scrape target."""
        self.scrape_target = spec.scrape_target
        if spec.aggregation != self._aggregation:
            # Knative fixes the algorithm at creation; a change starts afresh.
            self._fresh_windows(spec)
            return
        second = math.floor(now)
        stable_size = max(1, math.ceil(spec.stable_window))
        panic_size = max(1, math.ceil(spec.panic_window))
        if stable_size != self.concurrency_stable.size:
            self.concurrency_stable = self.concurrency_stable.resized(stable_size, second)
            self.rps_stable = self.rps_stable.resized(stable_size, second)
        if panic_size != self.concurrency_panic.size:
            self.concurrency_panic = self.concurrency_panic.resized(panic_size, second)
            self.rps_panic = self.rps_panic.resized(panic_size, second)
