"""The activator's live view of the directory: a throttler per revision, pools and a probe per pod.

A pod's HTTP/1.1 pool is made with it; its h2c pool at its first HTTP/2 stream, so an
activator that never sees HTTP/2 never loads the HTTP/2 session (about 1.3 MB).
"""

from __future__ import annotations

import asyncio

from dataplane.directory import RouteTable, Snapshot
from dataplane.http.probe import probe_until_ready
from dataplane.activator.subset import UNKNOWN, activator_share
from dataplane.activator.throttler import PodTracker, QueueLimits, RevisionThrottler
from dataplane.http.engine import UpstreamPool


class ActivatorState:
    """Applies directory snapshots; probes new pods and releases waiting requests to them."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limits: QueueLimits,
        probe_interval: float,
        probe_timeout: float,
        pod_name: str = "",
    ):
        self.loop = loop
        self.pod_name = pod_name
        """This activator's name, looked up in the snapshot's ``activators`` for its share of capacity."""
        self.share = (UNKNOWN, 1)
        self.limits = limits
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self.version = -1
        self.revisions: dict = {}
        self.routes = RouteTable()
        self.throttlers: dict[tuple[str, str], RevisionThrottler] = {}
        self.probes: set[asyncio.Task] = set()
        self.on_removed = None  # callable(throttler): waiting requests of a deleted revision
        self.on_failed = None  # callable(throttler, reason): no pod can serve the revision's waiting requests
        self.on_applied = None  # callable(): a new snapshot is in place (lookups cached from the last one are stale)
        self.on_cold_start = None  # callable(key, waited_s, requests): a revision's first ready pod took waiting requests

    def apply(self, snapshot: Snapshot) -> None:
        self.version = snapshot.version
        self.revisions = snapshot.revisions
        self.routes = snapshot.routes
        self.share = share = activator_share(snapshot.activators, self.pod_name, self.share)
        for key, info in snapshot.revisions.items():
            throttler = self.throttlers.get(key)
            if throttler is None:
                throttler = self.throttlers[key] = RevisionThrottler(key, info.container_concurrency, self.limits, share=share)
            else:
                if throttler.concurrency != info.container_concurrency:
                    throttler.set_concurrency(info.container_concurrency)
                throttler.set_share(share)
            seen = set()
            for pod in info.pods:
                seen.add(pod.address)
                tracker = throttler.pods.get(pod.address)
                if tracker is None:
                    host, _, port = pod.address.rpartition(":")
                    pool = UpstreamPool(self.loop, host, int(port), max_idle=max(info.container_concurrency, 100))
                    tracker = PodTracker(pod.name, pod.address, pool)
                    throttler.add_pod(tracker)
                    self._probe(throttler, tracker)
                elif not pod.ready and tracker.ready:
                    # the backend saw it go unready: stop sending until it passes a probe again
                    throttler.mark_unready(tracker)
                    self._probe(throttler, tracker)
            for address in [a for a in throttler.pods if a not in seen]:
                gone = throttler.remove_pod(address)
                if gone is not None:
                    close_pools(gone)
            if info.failure and not throttler.ready and throttler.queue and self.on_failed is not None:
                self.on_failed(throttler, info.failure)
        for key in [k for k in self.throttlers if k not in snapshot.revisions]:
            throttler = self.throttlers.pop(key)
            for pod in throttler.pods.values():
                close_pools(pod)
            if self.on_removed is not None:
                self.on_removed(throttler)
        if self.on_applied is not None:
            self.on_applied()

    def h2_pool(self, pod: PodTracker):
        """``pod``'s h2c pool: its HTTP/2 streams multiplexed on a few connections to its queue-proxy."""
        pool = pod.h2_pool
        if pool is None:
            from dataplane.http.h2upstream import H2UpstreamPool

            host, _, port = pod.address.rpartition(":")
            pool = pod.h2_pool = H2UpstreamPool(self.loop, host, int(port))
        return pool

    def reprobe(self, throttler: RevisionThrottler, pod: PodTracker) -> None:
        self._probe(throttler, pod)

    def _probe(self, throttler: RevisionThrottler, pod: PodTracker) -> None:
        if pod.probing:
            return
        pod.probing = True

        def wanted() -> bool:
            return throttler.pods.get(pod.address) is pod and not pod.ready and self.throttlers.get(throttler.key) is throttler

        async def run() -> None:
            try:
                if await probe_until_ready(pod.address, self.probe_interval, self.probe_timeout, wanted):
                    # requests waiting while no pod was ready: a cold start, measured once per pod, not per request
                    since = throttler.oldest_wait_start() if not throttler.ready else None
                    waiting = len(throttler.queue)
                    throttler.mark_ready(pod)
                    if since is not None and self.on_cold_start is not None:
                        self.on_cold_start(throttler.key, self.loop.time() - since, waiting)
            finally:
                pod.probing = False

        task = self.loop.create_task(run())
        self.probes.add(task)
        task.add_done_callback(self.probes.discard)

    def close(self) -> None:
        for task in self.probes:
            task.cancel()
        for throttler in self.throttlers.values():
            for pod in throttler.pods.values():
                close_pools(pod)


def close_pools(pod: PodTracker) -> None:
    """Close ``pod``'s connections; requests waiting for one of them fail as not sent (and are retried)."""
    pod.pool.close()
    if pod.h2_pool is not None:
        pod.h2_pool.close()
