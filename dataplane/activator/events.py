"""Events the activator sends along with its stat push: cold starts and shed requests.

Gathered once per report interval from what the activator already keeps (the
per-revision shed counter its metrics read, a cold start noted when a
revision's first ready pod takes waiting requests), so nothing is added per
request. The autoscaler's stat server hands them to whoever listens
(`dataplane up` prints them); others ignore the frame.
"""

from __future__ import annotations

from collections.abc import Mapping


class ActivatorEvents:
    """Cold starts as they happen, shed counts as differences since the last ``collect``."""

    def __init__(self) -> None:
        self.pending: list[dict] = []
        self.shed_seen: dict[tuple[str, str], int] = {}

    def cold_start(self, key: tuple[str, str], waited: float, requests: int) -> None:
        """A revision's first ready pod took ``requests`` that had waited up to ``waited`` seconds."""
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
        return events
