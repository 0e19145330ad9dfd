"""p50/p99 latency of the revisions someone is looking at, from the histogram each queue-proxy already keeps.

Every queue-proxy counts its requests' durations in Knative's latency buckets for its Prometheus
port; nothing is added per request to learn it. The console asks for a revision's series once a
second while it shows it: that marks the revision watched, and while it is (``WATCH_SECONDS``) each
of its pods' histograms is read once a second and the difference from the last read gives the
second's quantiles. A revision nobody watches is never read: the first read of a pod's Prometheus
port loads prometheus-client into that queue-proxy (about 5 MB), a cost only a viewer should bring.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterable

import aiohttp

from dataplane.platform.local.series import quantile

WATCH_SECONDS = 5.0
"""A revision stays watched this long after its series was last asked for."""
READ_TIMEOUT = 0.8
"""Seconds one pod's histogram may take to read: it must not hold up the next second's."""
# the request-duration histogram in either dialect: OpenCensus's in milliseconds, OpenTelemetry's in seconds
_BUCKET = re.compile(
    r'^(revision_request_latencies|http_server_request_duration_seconds)_bucket\{[^}]*\ble="([^"]+)"[^}]*\}\s+(\S+)'
)
_SCALE = {"revision_request_latencies": 0.001, "http_server_request_duration_seconds": 1.0}

Key = tuple[str, str]


def parse_buckets(text: str) -> dict[float, float]:
    """Cumulative counts by upper bound in seconds (``+Inf`` as ``math.inf``) of every duration histogram in a Prometheus
    text, in either metrics dialect."""
    counts: dict[float, float] = {}
    for line in text.splitlines():
        found = _BUCKET.match(line)
        if found is None:
            continue
        try:
            bound, value = float(found.group(2)) * _SCALE[found.group(1)], float(found.group(3))
        except ValueError:
            continue
        counts[bound] = counts.get(bound, 0.0) + value
    return counts


def second_quantiles(before: dict[float, float] | None, now: dict[float, float]) -> tuple[tuple[float, ...], list[int]]:
    """Bounds and per-bucket counts of the requests between two reads of one pod: none at a first read (which
    only sets the baseline: its counts span the pod's whole life), all of ``now`` when the counters went back
    (a restarted queue-proxy)."""
    finite = tuple(sorted(b for b in now if math.isfinite(b)))
    cumulative = [now[b] for b in finite] + [now.get(math.inf, now[finite[-1]] if finite else 0.0)]
    if before is None:
        return finite, [0] * len(cumulative)
    if all(before.get(b, 0.0) <= now.get(b, 0.0) for b in now):
        previous = [before.get(b, 0.0) for b in finite] + [before.get(math.inf, 0.0)]
        cumulative = [c - p for c, p in zip(cumulative, previous)]
    per_bucket = [int(round(c - (cumulative[i - 1] if i else 0.0))) for i, c in enumerate(cumulative)]
    return finite, [max(0, n) for n in per_bucket]


class LatencyWatch:
    """Reads watched revisions' pods once a second; ``latest(key)`` is the last second's (p50, p99)."""

    def __init__(self) -> None:
        self.watched: dict[Key, float] = {}
        self.results: dict[Key, tuple[float | None, float | None]] = {}
        self._last: dict[str, dict[float, float]] = {}
        self._session: aiohttp.ClientSession | None = None

    def watch(self, key: Key, now: float) -> None:
        """Someone is looking at ``key``'s series: read its pods for the next ``WATCH_SECONDS``."""
        self.watched[key] = now

    def latest(self, key: Key) -> tuple[float | None, float | None]:
        return self.results.get(key, (None, None))

    async def read(self, pods: Iterable[tuple[Key, str, str]], now: float) -> None:
        """Read every watched revision's pods, given as (revision key, pod name, metrics address)."""
        for key in [k for k, seen in self.watched.items() if now - seen > WATCH_SECONDS]:
            del self.watched[key]
            self.results.pop(key, None)
        wanted = [(key, pod, address) for key, pod, address in pods if key in self.watched]
        if not wanted:
            self._last.clear()
            return
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=READ_TIMEOUT))
        texts = await asyncio.gather(*(self._get(address) for _, _, address in wanted))
        merged: dict[Key, tuple[tuple[float, ...], list[int]]] = {}
        seen_pods = set()
        for (key, pod, _), text in zip(wanted, texts):
            if text is None:
                continue
            seen_pods.add(pod)
            now_counts = parse_buckets(text)
            if not now_counts:
                continue
            bounds, counts = second_quantiles(self._last.get(pod), now_counts)
            self._last[pod] = now_counts
            if key in merged and merged[key][0] == bounds:
                counts = [a + b for a, b in zip(merged[key][1], counts)]
            merged[key] = (bounds, counts)
        for pod in [p for p in self._last if p not in seen_pods]:
            del self._last[pod]
        for key in self.watched:
            bounds, counts = merged.get(key, ((), []))
            self.results[key] = (quantile(0.5, bounds, counts), quantile(0.99, bounds, counts)) if bounds else (None, None)

    async def _get(self, address: str) -> str | None:
        try:
            async with self._session.get(f"http://{address}/metrics") as resp:
                return await resp.text() if resp.status == 200 else None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
