"""A fake-clock harness that drives the decision core the way the service layer will.

Every simulated second: the load for that second is recorded (scraped from
the pods when there are any, otherwise pushed by the activator), a decision
is made every tick or on a poke, and the PA is reconciled when the decision
changed, a requeue fell due, or the ready pod count moved. Pods become ready
the moment replicas are set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from dataplane.autoscaler.core.decider import TICK_INTERVAL
from dataplane.autoscaler.core.revision import RevisionAutoscaler
from dataplane.autoscaler.core.scaler import Activity, PodAutoscalerState, ScaleOutcome, ServingMode
from dataplane.autoscaler.core.spec import ScalingSpec
from dataplane.stats.wire import Stat


@dataclass
class Sample:
    second: int
    replicas: int
    desired: int
    activity: Activity
    mode: ServingMode


@dataclass
class Simulation:
    spec: ScalingSpec
    replicas: int = 1
    start: int = 0
    reachable: bool = True
    activator_in_path: bool = True
    history: list[Sample] = field(default_factory=list)
    outcomes: list[tuple[int, ScaleOutcome]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.now = self.start
        self.autoscaler = RevisionAutoscaler(self.spec, float(self.start), self.replicas)
        self.state = PodAutoscalerState(float(self.start))
        self.requeue_at: float | None = None
        self._reconcile()

    def _reconcile(self) -> None:
        # A mode or activity change wakes the PA again (SKS and PA status events).
        for _ in range(4):
            before = (self.state.mode, self.state.activity)
            outcome = self.state.reconcile(
                self.spec,
                float(self.now),
                desired=self.autoscaler.desired,
                excess_burst_capacity=self.autoscaler.excess_burst_capacity,
                ready=self.replicas,
                reachable=self.reachable,
                activator_in_path=self.activator_in_path,
            )
            self.outcomes.append((self.now, outcome))
            self.requeue_at = outcome.requeue_at
            if outcome.replicas is not None:
                self.replicas = outcome.replicas
            if (self.state.mode, self.state.activity) == before:
                return

    def run(self, seconds: int, load: Callable[[int], float]) -> None:
        """Advance ``seconds`` seconds with ``load(second)`` concurrent requests."""
        for _ in range(seconds):
            self.now += 1
            concurrency = load(self.now)
            if self.replicas > 0:
                poke = self.autoscaler.record_scraped(Stat(average_concurrent_requests=concurrency), self.now)
            elif concurrency > 0:
                poke = self.autoscaler.record_pushed(Stat(average_concurrent_requests=concurrency, request_count=1), self.now)
            else:
                poke = False
            reconcile = False
            if poke or self.now % int(TICK_INTERVAL) == 0:
                decision = self.autoscaler.tick(float(self.now), self.replicas, self.reachable)
                reconcile = decision is not None and decision.changed
            if self.requeue_at is not None and self.now >= math.ceil(self.requeue_at):
                reconcile = True
            if reconcile:
                self._reconcile()
            self.history.append(
                Sample(self.now, self.replicas, self.autoscaler.desired, self.state.activity, self.state.mode)
            )

    def first_second(self, predicate: Callable[[Sample], bool]) -> int | None:
        """The first simulated second whose sample satisfies ``predicate``."""
        return next((s.second for s in self.history if predicate(s)), None)
