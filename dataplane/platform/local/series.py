"""Per-revision time series for the console: one sample a second from what the control process already hears.

Each second's sample reads the activator's latest stat push for the revision (request rate and
concurrency, buffered requests included), the autoscaler's latest decision (desired and ready pods,
panic mode, window averages, the per-pod target) and the activator's events (a cold start with its
wait, requests shed), plus p50/p99 latency when a source for it is given. Nothing on the request path
takes part: the activator sends these once a second anyway, and the autoscaler keeps its decisions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

KEEP_SECONDS = 600
"""Samples kept per revision: ten minutes at one a second."""

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Sample:
    """One second of one revision."""

    t: int
    """Unix second the sample was taken in."""
    rps: float
    """Requests per second the activator received for the revision (its last report)."""
    concurrency: float
    """Requests in flight or waiting at the activator, averaged over its last report's second."""
    stable: float
    """The autoscaler's stable-window average concurrency (the whole revision)."""
    panic_window: float
    """The autoscaler's panic-window average concurrency (the whole revision)."""
    target: float
    """Per-pod target of the scaling metric."""
    desired: int
    """Pods the autoscaler wants (-1 while it has not decided)."""
    ready: int
    """Ready pods the autoscaler saw."""
    panic: bool
    """Whether the autoscaler is in panic mode."""
    p50: float | None
    """Median request latency over the second, seconds; None without requests or a latency source."""
    p99: float | None
    """99th percentile request latency over the second, seconds."""
    cold_start: float | None
    """Seconds the oldest request waited, when a cold start ended in this second."""
    shed: int
    """Requests the activator answered 503 in this second (queue bounds)."""


class SeriesBook:
    """The last ``keep`` samples of every revision, with the events heard since the last sample."""

    def __init__(self, keep: int = KEEP_SECONDS):
        self.keep = keep
        self.series: dict[Key, deque[Sample]] = {}
        self._cold: dict[Key, float] = {}
        self._shed: dict[Key, int] = {}

    def note_events(self, events: Iterable[Mapping]) -> None:
        """The activator's events (``coldStart``, ``shed``), kept for the next sample of their revision."""
        for event in events:
            key = (str(event.get("namespace", "")), str(event.get("name", "")))
            try:
                if event.get("type") == "coldStart":
                    wait = float(event.get("waitSeconds", 0.0))
                    self._cold[key] = max(wait, self._cold.get(key, 0.0))
                elif event.get("type") == "shed":
                    self._shed[key] = self._shed.get(key, 0) + max(0, int(event.get("requests", 0)))
            except (TypeError, ValueError, OverflowError):
                continue  # not from our activator

    def record(self, t: int, key: Key, values: Mapping) -> Sample:
        """Add the sample of ``key`` for second ``t``: ``values`` has every field but the time and the events."""
        sample = Sample(t=t, cold_start=self._cold.pop(key, None), shed=self._shed.pop(key, 0), **values)
        line = self.series.get(key)
        if line is None:
            line = self.series[key] = deque(maxlen=self.keep)
        if line and line[-1].t == t:
            line.pop()  # a late loop sampled this second twice: the newer one holds
        line.append(sample)
        return sample

    def retain(self, keys: Iterable[Key]) -> None:
        """Forget revisions that are not in ``keys`` (deleted ones), events included."""
        keep = set(keys)
        for table in (self.series, self._cold, self._shed):
            for key in [k for k in table if k not in keep]:
                del table[key]

    def since(self, key: Key, t: float) -> list[dict] | None:
        """Samples of ``key`` after second ``t`` as JSON objects, oldest first; None for a revision never sampled."""
        line = self.series.get(key)
        if line is None:
            return None
        return [asdict(s) for s in line if s.t > t]


def sample_values(outcome, pushed: tuple[float, float], latency: tuple[float | None, float | None]) -> dict:
    """A sample's values from an autoscaler ``RevisionScale`` (or None), its ``pushed`` (concurrency, rate) and latency."""
    concurrency, rate = pushed
    return {
        "rps": round(rate, 3),
        "concurrency": round(concurrency, 3),
        "stable": round(outcome.stable_concurrency, 3) if outcome is not None else 0.0,
        "panic_window": round(outcome.panic_concurrency, 3) if outcome is not None else 0.0,
        "target": outcome.target if outcome is not None else 0.0,
        "desired": outcome.desired if outcome is not None else -1,
        "ready": outcome.ready if outcome is not None else 0,
        "panic": bool(outcome.panic) if outcome is not None else False,
        "p50": latency[0],
        "p99": latency[1],
    }


def quantile(q: float, bounds: tuple[float, ...], counts: list[int]) -> float | None:
    """The ``q`` quantile of a histogram (``counts[i]`` requests at most ``bounds[i]``, the last past every bound),
    interpolated within its bucket as Prometheus' ``histogram_quantile`` does; None when it is empty."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            if i >= len(bounds):
                return bounds[-1]  # past the last bound: its lower edge is all a histogram can say
            lower = bounds[i - 1] if i else 0.0
            return lower + (bounds[i] - lower) * (rank - seen) / count
        seen += count
    return bounds[-1]


Clock = Callable[[], float]
