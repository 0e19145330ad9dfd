"""One revision's autoscaler: its metrics, its decider, and the poke rule.

This is the unit the service layer keeps per revision: feed it stats as they
arrive, call ``tick`` every ``TICK_INTERVAL`` seconds (and at once when a
record asks for a poke), and pass a changed decision to the scale-to-zero
state machine.
"""

from __future__ import annotations

from dataplane.autoscaler.core.decider import Decider, ScaleDecision
from dataplane.autoscaler.core.metrics import RevisionMetrics
from dataplane.autoscaler.core.spec import ScalingSpec
from dataplane.stats.wire import Stat


class RevisionAutoscaler:
    """Collected windows plus decision state for one revision; pure, clock passed in."""

    __slots__ = ("spec", "metrics", "decider")

    def __init__(self, spec: ScalingSpec, now: float, ready_pods: int = 0) -> None:
        """``ready_pods`` is the ready count when the autoscaler (re)starts; above 1 it starts in panic."""
        self.spec = spec
        self.metrics = RevisionMetrics(spec)
        self.decider = Decider(spec, now, ready_pods)

    @property
    def desired(self) -> int:
        """Last desired scale; -1 until the first decision with data."""
        return self.decider.desired

    @property
    def excess_burst_capacity(self) -> int:
        """Last excess burst capacity (initially from TBC and initial scale)."""
        return self.decider.excess_burst_capacity

    def _wants_poke(self, stat: Stat) -> bool:
        # A revision at zero should not wait up to a tick for its first request.
        return self.decider.desired == 0 and stat.average_concurrent_requests != 0

    def record_scraped(self, stat: Stat, now: float) -> bool:
        """Record an aggregated scrape; True asks the caller to ``tick`` now."""
        self.metrics.record_scraped(stat, now)
        return self._wants_poke(stat)

    def record_pushed(self, stat: Stat, now: float) -> bool:
        """Record an activator's stat; True asks the caller to ``tick`` now."""
        self.metrics.record_pushed(stat, now)
        return self._wants_poke(stat)

    def tick(self, now: float, ready: int, reachable: bool = True) -> ScaleDecision | None:
        """Decide at ``now`` with ``ready`` Running+Ready pods; ``None`` when there is no data yet."""
        values = self.metrics.stable_and_panic(self.spec.metric, now)
        if values is None:
            return None
        return self.decider.decide(now, ready, values[0], values[1], reachable)

    def update(self, spec: ScalingSpec, now: float) -> None:
        """Adopt a changed spec (e.g. after a ``config-autoscaler`` change)."""
        self.spec = spec
        self.metrics.update(spec, now)
        self.decider.update(spec)
