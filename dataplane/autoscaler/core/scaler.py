"""From a decision to replicas: bounds, initial scale, and the scale-to-zero state machine.

Knative's KPA reconciler (``kpa/kpa.go``, ``kpa/scaler.go``) without I/O. The
caller reports what it observed (ready pods, reachability, whether the
activator answers in the revision's path) and applies what comes back:
replicas to patch, the serving mode for the revision's public endpoints,
and when to reconcile again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dataplane.autoscaler.core.spec import ScalingSpec

SCALE_UNKNOWN = -1
PROBE_PERIOD = 1.0
"""Seconds between checks while waiting for the activator to appear in the path."""
PROXY_RECHECK = 3.0
"""Seconds before re-checking a deactivation whose serving mode was already proxy."""


class Activity(enum.Enum):
    """The PA's Active condition."""

    ACTIVATING = "Unknown"
    ACTIVE = "True"
    INACTIVE = "False"


class ServingMode(enum.Enum):
    """Who the revision's public endpoints point at."""

    SERVE = "Serve"
    PROXY = "Proxy"


@dataclass(frozen=True, slots=True)
class ScaleOutcome:
    """What one reconcile decided."""

    want: int
    """Desired scale after bounds and scale-to-zero rules; -1 while unknown."""
    replicas: int | None
    """Replicas to set on the workload now; ``None`` leaves them as they are."""
    mode: ServingMode
    """Proxy (activator in path) or Serve (pods directly)."""
    activity: Activity
    """The Active condition after this reconcile."""
    reason: str
    """Why ``want`` is what it is, for logs and events."""
    requeue_at: float | None
    """Reconcile again at this time (caller's clock) even if nothing else changes."""


def scale_bounds(spec: ScalingSpec, reachable: bool) -> tuple[int, int]:
    """(min, max) replicas; min does not hold for a revision no route reaches; max 0 = none."""
    return (spec.min_scale if reachable else 0), spec.max_scale


def apply_bounds(low: int, high: int, value: int) -> int:
    """Clamp ``value`` into [low, high], where high 0 means unbounded."""
    if value < low:
        return low
    if high != 0 and value > high:
        return high
    return value


class PodAutoscalerState:
    """A revision's KPA status (Active condition, initialisation, serving mode) with transition times."""

    __slots__ = ("activity", "activity_reason", "activity_since", "scale_target_initialized", "mode", "mode_since")

    def __init__(self, now: float) -> None:
        self.activity = Activity.ACTIVATING
        self.activity_reason = ""
        self.activity_since = now
        self.scale_target_initialized = False
        """Set once the revision first reached its activation threshold of ready pods."""
        self.mode = ServingMode.SERVE
        self.mode_since = now

    def reconcile(
        self,
        spec: ScalingSpec,
        now: float,
        *,
        desired: int,
        excess_burst_capacity: int,
        ready: int,
        reachable: bool = True,
        activator_in_path: bool = True,
    ) -> ScaleOutcome:
        """Turn the decider's ``desired``/EBC into replicas, mode and status at ``now``.

        ``activator_in_path`` is the result of probing the revision's public
        service for the activator; it is only consulted on the way to zero.
        """
        if desired < 0 and self.activity is not Activity.ACTIVATING:
            want, apply, requeue_at, reason = desired, False, None, "no metrics yet"
        else:
            low, high = scale_bounds(spec, reachable)
            # A revision no route reaches is not brought up to its initial scale.
            if spec.initial_scale > 1 and not self.scale_target_initialized and reachable:
                low = max(low, spec.initial_scale)
            want, apply, requeue_at, reason = self._scale_to_zero(
                spec, now, apply_bounds(low, high, desired), activator_in_path
            )

        if want == 0 or excess_burst_capacity < 0 or (want == SCALE_UNKNOWN and self.activity is Activity.INACTIVE):
            mode = ServingMode.PROXY
        else:
            mode = ServingMode.SERVE
        if mode is not self.mode:
            self.mode = mode
            self.mode_since = now

        self._update_activity(spec, now, want, ready, reachable)
        return ScaleOutcome(want, want if apply else None, mode, self.activity, reason, requeue_at)

    def _scale_to_zero(
        self, spec: ScalingSpec, now: float, desired: int, activator_in_path: bool
    ) -> tuple[int, bool, float | None, str]:
        """(want, apply replicas?, requeue at, reason) for a bounded desired scale."""
        if desired != 0:
            return desired, True, None, "scale"
        if not spec.enable_scale_to_zero:
            return 1, True, None, "scale to zero disabled"
        since = self.activity_since
        if self.activity is Activity.ACTIVATING:
            deadline = since + spec.activation_timeout
            if now >= deadline:
                return 0, True, None, "activation timed out"
            return SCALE_UNKNOWN, False, deadline, "activating"
        if self.activity is Activity.ACTIVE:
            idle_until = since + spec.stable_window
            if now >= idle_until:
                # Report 0 so the PA goes inactive and the activator takes over;
                # the pod stays until the grace period has passed.
                requeue = now + PROXY_RECHECK if self.mode is ServingMode.PROXY else None
                return 0, False, requeue, "deactivating"
            return 1, True, idle_until, "keeping one pod for a stable window"
        if not (activator_in_path or spec.target_burst_capacity == -1):
            return 0, False, now + PROBE_PERIOD, "waiting for the activator in the path"
        inactive_for = now - since
        retention = spec.scale_to_zero_pod_retention
        grace = spec.scale_to_zero_grace_period
        if inactive_for >= max(grace, retention):
            return 0, True, None, "scaled to zero"
        if retention > 0 and inactive_for < retention:
            return 0, False, since + retention, "pod retention period"
        # Fast path: the activator may have been in the path for longer than
        # the revision has been inactive (e.g. kept there by burst capacity).
        proxy_for = now - self.mode_since if self.mode is ServingMode.PROXY else 0.0
        remaining = grace - proxy_for
        if remaining <= 0:
            return 0, True, None, "scaled to zero (activator in path for the grace period)"
        return 0, False, now + remaining, "grace period"

    def _update_activity(self, spec: ScalingSpec, now: float, want: int, ready: int, reachable: bool) -> None:
        low, _ = scale_bounds(spec, reachable)
        if self.scale_target_initialized:
            min_ready = max(low, 1)
        else:
            min_ready = max(low, spec.initial_scale)
        if ready >= min_ready:
            self.scale_target_initialized = True

        if want == 0 or min_ready == 0:
            if self.activity is Activity.ACTIVATING and min_ready > 0:
                self._mark(Activity.INACTIVE, "TimedOut", now)
            else:
                self._mark(Activity.INACTIVE, "NoTraffic", now)
        elif ready < min_ready:
            if want > 0 or self.activity is not Activity.INACTIVE:
                self._mark(Activity.ACTIVATING, "Queued", now)
            else:
                self._mark(Activity.INACTIVE, "NoTraffic", now)
        elif want > 0 or self.activity is not Activity.INACTIVE:
            self._mark(Activity.ACTIVE, "", now)

    def _mark(self, activity: Activity, reason: str, now: float) -> None:
        # Like a Kubernetes condition: the transition time moves only on a change.
        if activity is not self.activity or reason != self.activity_reason:
            self.activity = activity
            self.activity_reason = reason
            self.activity_since = now
