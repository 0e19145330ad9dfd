"""Once a second, what the data plane is doing: per revision, desired and ready pods and in-flight requests.

Three sources, each polled by a loop of its own so that a slow one (a control
plane busy starting pods) leaves gaps in its own fields only:

* the autoscaler's decisions (``/autoscaler/revisions``): desired pods, panic, window averages;
* the pods list (``/v1/pods``), then each local pod's queue-proxy metrics: ready pods, in flight in the pods;
* the activator's Prometheus metrics: in flight and queued at the router, requests routed.

A reading is stamped with the time its answer arrived.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields

import aiohttp

from loadtests._scenario_api import ApiError, ControlApi, pod_port, pod_ready, pod_revision
from loadtests._scenario_prom import by_revision, parse

READ_TIMEOUT = 5.0
"""Seconds one reading may take before it is given up (and that second left empty)."""


@dataclass
class RevisionSample:
    """One revision as one source saw it; None where that source says nothing."""

    desired: int | None = None
    """The autoscaler's desired pods (-1 while it has no data)."""
    ready: int | None = None
    """Ready pods (all containers ready, not terminating)."""
    pods: int | None = None
    """Pods of any state, terminating ones included."""
    router_in_flight: float | None = None
    """Requests the activator has sent to this revision's pods and not yet seen answered."""
    router_queued: float | None = None
    """Requests waiting in the activator for capacity (e.g. a cold start)."""
    pod_in_flight: float | None = None
    """Sum over the revision's pods of the queue-proxies' in-flight requests."""
    stable_concurrency: float | None = None
    panic_concurrency: float | None = None
    panic: bool | None = None
    routed_total: float | None = None
    """The activator's count of requests for this revision so far."""

    def merge(self, other: RevisionSample) -> None:
        """Take every field ``other`` knows."""
        for f in fields(self):
            value = getattr(other, f.name)
            if value is not None:
                setattr(self, f.name, value)


@dataclass
class Sample:
    """One reading of one source."""

    at: float
    """Unix time the answer arrived."""
    revisions: dict[str, RevisionSample]


async def fetch_text(session: aiohttp.ClientSession, url: str, timeout: float = 1.0) -> str | None:
    """GET ``url`` as text, None on any error or timeout."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status != 200:
                return None
            return await resp.text()
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return None


class Sampler:
    """Polls the sources every ``interval`` seconds until stopped; :attr:`samples` holds the readings."""

    def __init__(self, api: ControlApi, session: aiohttp.ClientSession, namespace: str, activator_metrics_url: str | None, local_pods: bool):
        self.api = api
        self.session = session
        self.namespace = namespace
        self.activator_metrics_url = activator_metrics_url
        self.local_pods = local_pods
        self.samples: list[Sample] = []

    # -- the sources ------------------------------------------------------------------------------

    async def read_decisions(self) -> dict[str, RevisionSample]:
        out = {}
        for (ns, name), d in (await self.api.decisions()).items():
            if ns == self.namespace:
                out[name] = RevisionSample(
                    desired=d.get("desired"),
                    stable_concurrency=d.get("stableConcurrency"),
                    panic_concurrency=d.get("panicConcurrency"),
                    panic=d.get("panic"),
                )
        return out

    async def read_pods(self) -> dict[str, RevisionSample]:
        revisions, pods = await asyncio.gather(self.api.list("revisions", self.namespace), self.api.pods(self.namespace))
        in_flight = 0.0 if self.local_pods else None
        # every revision gets a reading, so "no pods" shows as 0 rather than as a gap
        out = {r["metadata"]["name"]: RevisionSample(ready=0, pods=0, pod_in_flight=in_flight) for r in revisions}
        for pod in pods:
            r = out.setdefault(pod_revision(pod), RevisionSample(ready=0, pods=0, pod_in_flight=in_flight))
            r.pods += 1
            r.ready += pod_ready(pod)
        if self.local_pods:
            for name, value in (await self._pod_in_flight(pods)).items():
                out[name].pod_in_flight = value  # None: unknown this second (merge leaves the field empty)
        return out

    async def read_activator(self) -> dict[str, RevisionSample]:
        text = await fetch_text(self.session, self.activator_metrics_url, READ_TIMEOUT)
        if text is None:
            raise OSError("the activator's metrics did not answer")
        metrics = parse(text)
        out: dict[str, RevisionSample] = {}
        for field_name, metric in (
            ("router_in_flight", "activator_in_flight_requests"),
            ("router_queued", "activator_queued_requests"),
            ("routed_total", "activator_request_count"),
        ):
            for (ns, name), value in by_revision(metrics, metric).items():
                if ns == self.namespace:
                    setattr(out.setdefault(name, RevisionSample()), field_name, value)
        return out

    async def _pod_in_flight(self, pods: list[dict]) -> dict[str, float | None]:
        """Queue-proxy in-flight requests summed per revision.

        A pod that is not ready yet and does not answer holds nothing (its
        queue-proxy may not listen yet); a ready one that does not answer makes
        the revision's sum unknown (None) rather than wrongly low.
        """
        urls = []
        for pod in pods:
            port = pod_port(pod, "metrics")
            if port is not None:
                urls.append((pod_revision(pod), pod_ready(pod), f"http://127.0.0.1:{port}/metrics"))
        texts = await asyncio.gather(*(fetch_text(self.session, url) for _, _, url in urls))
        out: dict[str, float | None] = {}
        for (revision, ready, _), text in zip(urls, texts):
            total = out.get(revision, 0.0)
            if text is not None:
                value = sum(m.value for m in parse(text) if m.name == "revision_in_flight_requests")
                out[revision] = None if total is None else total + value
            else:
                out[revision] = None if ready else total
        return out

    # -- the loops --------------------------------------------------------------------------------

    async def _poll(self, read: Callable[[], Awaitable[dict[str, RevisionSample]]], stop: asyncio.Event, limit_s: float, interval: float) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while not stop.is_set() and loop.time() - start < limit_s:
            began = loop.time()
            try:
                revisions = await asyncio.wait_for(read(), READ_TIMEOUT)
            except (asyncio.TimeoutError, aiohttp.ClientError, OSError, ValueError, KeyError, ApiError):
                revisions = None
            if revisions is not None:
                self.samples.append(Sample(time.time(), revisions))
            # the next whole interval after this reading; a slow reading skips the ticks it overran
            delay = interval - (loop.time() - began) % interval
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except asyncio.TimeoutError:
                pass

    async def run(self, stop: asyncio.Event, limit_s: float, interval: float = 1.0) -> list[Sample]:
        """Poll every source every ``interval`` until ``stop`` is set or ``limit_s`` seconds have passed."""
        readers = [self.read_decisions, self.read_pods]
        if self.activator_metrics_url:
            readers.append(self.read_activator)
        await asyncio.gather(*(self._poll(read, stop, limit_s, interval) for read in readers))
        return sorted(self.samples, key=lambda s: s.at)
