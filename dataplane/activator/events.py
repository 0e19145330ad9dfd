"""Events the activator sends along with its stat push: cold starts and shed requests.

Gathered once per report interval from what the activator already keeps (the
per-revision shed counter its metrics read, a cold start noted when a
revision's first ready pod takes waiting requests), so nothing is added per
request. The autoscaler's stat server hands them to whoever listens
(`dataplane up` prints them); others ignore the frame.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping

# seconds; buckets of the time a cold start kept its first request waiting
COLD_START_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class ColdStarts:
    """One revision's cold starts: a histogram of how long the first waiting request waited."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(COLD_START_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, waited: float) -> None:
        self.counts[bisect_left(COLD_START_BUCKETS, waited)] += 1
        self.total += waited


class ActivatorEvents:
    """Cold starts as they happen, shed counts as differences since the last ``collect``."""

    def __init__(self) -> None:
        self.pending: list[dict] = []
        self.shed_seen: dict[tuple[str, str], int] = {}
        self.cold_starts: dict[tuple[str, str], ColdStarts] = {}
        """Every cold start so far, per revision, for the metrics endpoint."""

    def cold_start(self, key: tuple[str, str], waited: float, requests: int) -> None:
        """A revision's first ready pod took ``requests`` that had waited up to ``waited`` seconds."""
        tally = self.cold_starts.get(key)
        if tally is None:
            tally = self.cold_starts[key] = ColdStarts()
        tally.observe(waited)
        self.pending.append(
            {"type": "coldStart", "namespace": key[0], "name": key[1], "waitSeconds": round(waited, 3), "requests": requests}
        )

    def collect(self, stats: Mapping[tuple[str, str], object]) -> list[dict]:
        """The events since the last call; ``stats`` maps revisions to objects with a ``shed`` count."""
        events, self.pending = self.pending, []
        for key, st in stats.items():
            shed = st.shed
            before = self.shed_seen.get(key, 0)
            if shed > before:
                events.append({"type": "shed", "namespace": key[0], "name": key[1], "requests": shed - before})
            self.shed_seen[key] = shed
        for key in [k for k in self.shed_seen if k not in stats]:
            del self.shed_seen[key]
        for key in [k for k in self.cold_starts if k not in stats]:
            del self.cold_starts[key]
        return events
