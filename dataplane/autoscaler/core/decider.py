"""The KPA decision: desired pods and excess burst capacity from window averages.

Knative's ``scaling/autoscaler.go`` formula for formula, plus the status its
``multiscaler`` keeps per revision (last desired scale, last EBC, whether
the PA reconciler needs telling).
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

from dataplane.autoscaler.core.spec import ScalingSpec

TICK_INTERVAL = 2.0
"""Seconds between decisions (a constant in Knative)."""
_TICK_SECONDS = 2


class ScaleDecision(NamedTuple):
    """One tick's outcome for a revision."""

    desired: int
    """Pods wanted, before min/max bounds and scale-to-zero rules."""
    excess_burst_capacity: int
    """Spare capacity beyond the burst target; negative keeps the activator in the path."""
    panic: bool
    """Whether the decider is in panic mode."""
    stable_value: float
    """Stable-window average of the scaling metric."""
    panic_value: float
    """Panic-window average of the scaling metric."""
    target: float
    """Per-pod target value used."""
    reason: str
    """``stable``, ``panic`` or ``delayed`` (held up by scale-down-delay)."""
    changed: bool
    """Desired scale changed or EBC changed sign: the PA reconciler should run."""


def initial_excess_burst_capacity(spec: ScalingSpec) -> int:
    """EBC before the first decision: TBC for 0/-1, else initialScale × TotalValue − TBC."""
    tbc = spec.target_burst_capacity
    if tbc in (0, -1):
        return int(tbc)
    # int() truncates toward zero like Go's int32 conversion.
    return int(spec.initial_scale * spec.total_value - tbc)


class MaxWindow:
    """Largest value recorded in the last ``size`` slots (descending-maxima queue)."""

    __slots__ = ("size", "_entries")

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: deque[tuple[int, int]] = deque()

    def record(self, slot: int, value: int) -> None:
        """Record ``value`` at ``slot``; slots only move forward."""
        entries = self._entries
        while entries and value >= entries[-1][1]:
            entries.pop()
        while entries and slot - entries[0][0] >= self.size:
            entries.popleft()
        if entries and entries[-1][0] == slot:
            return  # same slot already holds a larger value
        entries.append((slot, value))

    def current(self) -> int:
        """The maximum over the window as of the last record."""
        return self._entries[0][1]


def _delay_window(spec: ScalingSpec) -> MaxWindow | None:
    if spec.scale_down_delay <= 0:
        return None
    return MaxWindow(math.ceil(spec.scale_down_delay / TICK_INTERVAL))


class Decider:
    """Per-revision decision state: panic mode, the scale-down-delay window and the last result."""

    __slots__ = ("spec", "desired", "excess_burst_capacity", "_panic_since", "_max_panic_pods", "_delay")

    def __init__(self, spec: ScalingSpec, now: float, ready_pods: int = 0) -> None:
        self.spec = spec
        self.desired = -1
        """Last desired scale; -1 until the first decision with data."""
        self.excess_burst_capacity = initial_excess_burst_capacity(spec)
        # After a restart the windows are empty; starting in panic with the
        # current pods as the floor avoids a scale-down on no information.
        self._panic_since: float | None = now if ready_pods > 1 else None
        self._max_panic_pods = ready_pods
        self._delay = _delay_window(spec)

    @property
    def panicking(self) -> bool:
        """Whether panic mode is on."""
        return self._panic_since is not None

    def update(self, spec: ScalingSpec) -> None:
        """Adopt a changed spec; a new scale-down-delay starts an empty delay window."""
        if spec.scale_down_delay != self.spec.scale_down_delay:
            self._delay = _delay_window(spec)
        self.spec = spec

    def decide(self, now: float, ready: int, stable: float, panic: float, reachable: bool = True) -> ScaleDecision:
        """Decide from window averages and the ready pod count (0 if the pods are unknown)."""
        spec = self.spec
        target = spec.target_value
        ready_f = ready if ready > 1 else 1
        max_up = math.ceil(spec.max_scale_up_rate * ready_f)
        max_down = math.floor(ready_f / spec.max_scale_down_rate) if reachable else 0
        dspc = math.ceil(stable / target)
        dppc = math.ceil(panic / target)
        desired_stable = min(max(dspc, max_down), max_up)
        desired_panic = min(max(dppc, max_down), max_up)
        activation = spec.activation_scale
        if activation > 1:
            if dspc > 0 and activation > desired_stable:
                desired_stable = activation
            if dppc > 0 and activation > desired_panic:
                desired_panic = activation

        over_threshold = dppc / ready_f >= spec.panic_threshold
        if over_threshold:
            self._panic_since = now
        elif self._panic_since is not None and self._panic_since + spec.stable_window < now:
            # The burst has made its way into the stable window.
            self._panic_since = None
            self._max_panic_pods = 0

        desired = desired_stable
        reason = "stable"
        if self._panic_since is not None:
            reason = "panic"
            if desired_panic > desired:
                desired = desired_panic
            # No scale-down while panicking; only increases apply.
            if desired > self._max_panic_pods:
                self._max_panic_pods = desired
            desired = self._max_panic_pods

        if self._delay is not None:
            self._delay.record(math.floor(now) // _TICK_SECONDS, desired)
            delayed = self._delay.current()
            if delayed != desired:
                desired = delayed
                reason = "delayed"

        tbc = spec.target_burst_capacity
        if tbc == 0:
            ebc = 0
        elif tbc > 0:
            ebc = math.floor(ready * spec.total_value - tbc - panic)
        else:
            ebc = -1

        changed = desired != self.desired or (ebc < 0) != (self.excess_burst_capacity < 0)
        self.desired = desired
        self.excess_burst_capacity = ebc
        return ScaleDecision(desired, ebc, self._panic_since is not None, stable, panic, target, reason, changed)
