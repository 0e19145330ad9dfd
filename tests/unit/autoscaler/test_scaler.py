"""Bounds, initial scale, serving mode and the Active condition, one reconcile at a time."""

from __future__ import annotations

import pytest

from dataplane.api.autoscaling import AutoscalerConfig
from dataplane.autoscaler.core.scaler import Activity, PodAutoscalerState, ServingMode, apply_bounds
from dataplane.autoscaler.core.spec import ScalingSpec, resolve_spec

A = "autoscaling.knative.dev/"


def make_spec(config: AutoscalerConfig | None = None, **annotations: str) -> ScalingSpec:
    return resolve_spec({A + k.replace("_", "-"): v for k, v in annotations.items()}, config or AutoscalerConfig())


def active_state(spec: ScalingSpec, since: float = 0.0, ebc: int = 0) -> PodAutoscalerState:
    state = PodAutoscalerState(since)
    ready = max(1, spec.initial_scale, spec.min_scale)
    state.reconcile(spec, since, desired=1, excess_burst_capacity=ebc, ready=ready)
    assert state.activity is Activity.ACTIVE
    return state


@pytest.mark.parametrize(
    ("low", "high", "value", "expected"),
    [(0, 0, 5, 5), (2, 0, 1, 2), (0, 3, 5, 3), (2, 4, 3, 3), (0, 0, -1, 0), (1, 0, -1, 1)],
)
def test_apply_bounds(low: int, high: int, value: int, expected: int) -> None:
    assert apply_bounds(low, high, value) == expected


@pytest.mark.parametrize(
    ("annotations", "desired", "reachable", "want"),
    [
        ({"min_scale": "3"}, 1, True, 3),
        ({"min_scale": "3"}, 0, True, 3),
        ({"min_scale": "3"}, 1, False, 1),  # min does not hold while unreachable
        ({"max_scale": "5"}, 10, True, 5),
        ({"max_scale": "0"}, 10_000, True, 10_000),
        ({"min_scale": "2", "max_scale": "4"}, 3, True, 3),
    ],
)
def test_min_and_max(annotations: dict[str, str], desired: int, reachable: bool, want: int) -> None:
    spec = make_spec(**annotations)
    state = active_state(spec)
    outcome = state.reconcile(spec, 1.0, desired=desired, excess_burst_capacity=0, ready=3, reachable=reachable)
    assert (outcome.want, outcome.replicas) == (want, want)


def test_initial_scale_holds_until_the_target_is_initialised() -> None:
    spec = make_spec(initial_scale="3")
    state = PodAutoscalerState(0.0)
    outcome = state.reconcile(spec, 0.0, desired=1, excess_burst_capacity=0, ready=0)
    assert (outcome.replicas, outcome.activity, state.scale_target_initialized) == (3, Activity.ACTIVATING, False)
    outcome = state.reconcile(spec, 5.0, desired=1, excess_burst_capacity=0, ready=2)
    assert (outcome.replicas, outcome.activity) == (3, Activity.ACTIVATING)
    outcome = state.reconcile(spec, 10.0, desired=1, excess_burst_capacity=0, ready=3)
    assert (outcome.replicas, outcome.activity, state.scale_target_initialized) == (3, Activity.ACTIVE, True)
    outcome = state.reconcile(spec, 12.0, desired=1, excess_burst_capacity=0, ready=3)
    assert outcome.replicas == 1


def test_initial_scale_is_not_forced_on_an_unreachable_revision() -> None:
    spec = make_spec(initial_scale="3")
    state = PodAutoscalerState(0.0)
    outcome = state.reconcile(spec, 0.0, desired=1, excess_burst_capacity=0, ready=0, reachable=False)
    assert outcome.replicas == 1


def test_unknown_desired_changes_nothing_unless_activating() -> None:
    spec = make_spec()
    state = active_state(spec)
    outcome = state.reconcile(spec, 5.0, desired=-1, excess_burst_capacity=0, ready=1)
    assert (outcome.want, outcome.replicas, outcome.activity) == (-1, None, Activity.ACTIVE)
    assert outcome.mode is ServingMode.SERVE


def test_new_revision_waits_in_proxy_mode_for_its_first_pod() -> None:
    spec = make_spec()
    state = PodAutoscalerState(0.0)
    outcome = state.reconcile(spec, 0.0, desired=-1, excess_burst_capacity=-111, ready=0)
    assert (outcome.want, outcome.replicas, outcome.activity, outcome.mode) == (
        -1,
        None,
        Activity.ACTIVATING,
        ServingMode.PROXY,
    )
    assert outcome.requeue_at == 630.0
    outcome = state.reconcile(spec, 3.0, desired=-1, excess_burst_capacity=-111, ready=1)
    assert outcome.activity is Activity.ACTIVE


@pytest.mark.parametrize(
    ("desired", "ebc", "activity", "mode"),
    [
        (3, 10, Activity.ACTIVE, ServingMode.SERVE),
        (3, 0, Activity.ACTIVE, ServingMode.SERVE),
        (3, -1, Activity.ACTIVE, ServingMode.PROXY),
        (-1, 5, Activity.ACTIVE, ServingMode.SERVE),
        (-1, 5, Activity.INACTIVE, ServingMode.PROXY),
    ],
)
def test_serving_mode(desired: int, ebc: int, activity: Activity, mode: ServingMode) -> None:
    spec = make_spec()
    state = active_state(spec)
    state.activity = activity
    assert state.reconcile(spec, 1.0, desired=desired, excess_burst_capacity=ebc, ready=3).mode is mode


def test_keeps_one_pod_until_active_for_a_stable_window() -> None:
    spec = make_spec(target_burst_capacity="0")
    state = active_state(spec, since=100.0)
    outcome = state.reconcile(spec, 130.0, desired=0, excess_burst_capacity=0, ready=1)
    assert (outcome.want, outcome.replicas, outcome.requeue_at) == (1, 1, 160.0)
    assert (outcome.activity, outcome.mode) == (Activity.ACTIVE, ServingMode.SERVE)
    outcome = state.reconcile(spec, 160.0, desired=0, excess_burst_capacity=0, ready=1)
    assert (outcome.want, outcome.replicas) == (0, None)  # deactivate first, pod stays
    assert (outcome.activity, outcome.mode) == (Activity.INACTIVE, ServingMode.PROXY)
    assert state.activity_reason == "NoTraffic"


def test_inactive_waits_for_the_grace_period_then_scales_to_zero() -> None:
    spec = make_spec(target_burst_capacity="0")
    state = active_state(spec)
    state.reconcile(spec, 100.0, desired=0, excess_burst_capacity=0, ready=1)
    outcome = state.reconcile(spec, 100.0, desired=0, excess_burst_capacity=0, ready=1)
    assert (outcome.replicas, outcome.requeue_at, outcome.reason) == (None, 130.0, "grace period")
    outcome = state.reconcile(spec, 129.0, desired=0, excess_burst_capacity=0, ready=1)
    assert outcome.replicas is None
    outcome = state.reconcile(spec, 130.0, desired=0, excess_burst_capacity=0, ready=1)
    assert (outcome.replicas, outcome.activity) == (0, Activity.INACTIVE)


@pytest.mark.parametrize("ebc", [0, -5])  # -5: activator in the path all along (fast path)
def test_pod_retention_longer_than_grace_holds_the_last_pod(ebc: int) -> None:
    spec = make_spec(scale_to_zero_pod_retention_period="2m")
    state = active_state(spec, ebc=ebc)
    state.reconcile(spec, 100.0, desired=0, excess_burst_capacity=ebc, ready=1)
    for now in (100.0, 160.0, 219.0):
        outcome = state.reconcile(spec, now, desired=0, excess_burst_capacity=ebc, ready=1)
        assert (outcome.replicas, outcome.requeue_at, outcome.reason) == (None, 220.0, "pod retention period")
    assert state.reconcile(spec, 220.0, desired=0, excess_burst_capacity=0, ready=1).replicas == 0


def test_scale_to_zero_waits_for_the_activator_in_the_path() -> None:
    spec = make_spec(target_burst_capacity="0")
    state = active_state(spec)
    state.reconcile(spec, 100.0, desired=0, excess_burst_capacity=0, ready=1)
    outcome = state.reconcile(spec, 200.0, desired=0, excess_burst_capacity=0, ready=1, activator_in_path=False)
    assert (outcome.replicas, outcome.requeue_at) == (None, 201.0)
    outcome = state.reconcile(spec, 201.0, desired=0, excess_burst_capacity=0, ready=1, activator_in_path=True)
    assert outcome.replicas == 0


def test_tbc_minus_one_needs_no_activator_probe() -> None:
    spec = make_spec(target_burst_capacity="-1")
    state = active_state(spec)
    state.reconcile(spec, 100.0, desired=0, excess_burst_capacity=-1, ready=1)
    outcome = state.reconcile(spec, 130.0, desired=0, excess_burst_capacity=-1, ready=1, activator_in_path=False)
    assert outcome.replicas == 0


def test_scale_to_zero_disabled_keeps_one() -> None:
    spec = make_spec(AutoscalerConfig(enable_scale_to_zero=False))
    state = active_state(spec)
    for now in (100.0, 200.0, 1000.0):
        outcome = state.reconcile(spec, now, desired=0, excess_burst_capacity=0, ready=1)
        assert (outcome.want, outcome.replicas, outcome.activity) == (1, 1, Activity.ACTIVE)


def test_activation_times_out_back_to_zero() -> None:
    spec = make_spec()
    state = PodAutoscalerState(0.0)
    outcome = state.reconcile(spec, 0.0, desired=1, excess_burst_capacity=-111, ready=0)
    assert (outcome.replicas, outcome.activity) == (1, Activity.ACTIVATING)
    outcome = state.reconcile(spec, 100.0, desired=0, excess_burst_capacity=-111, ready=0)
    assert (outcome.want, outcome.replicas, outcome.requeue_at) == (-1, None, 630.0)
    outcome = state.reconcile(spec, 629.0, desired=0, excess_burst_capacity=-111, ready=0)
    assert outcome.replicas is None
    outcome = state.reconcile(spec, 630.0, desired=0, excess_burst_capacity=-111, ready=0)
    assert (outcome.want, outcome.replicas, outcome.activity) == (0, 0, Activity.INACTIVE)
    assert state.activity_reason == "TimedOut"


def test_activation_timeout_follows_the_progress_deadline() -> None:
    spec = resolve_spec({"serving.knative.dev/progress-deadline": "60s"}, AutoscalerConfig())
    state = PodAutoscalerState(0.0)
    state.reconcile(spec, 0.0, desired=1, excess_burst_capacity=-111, ready=0)
    assert state.reconcile(spec, 89.0, desired=0, excess_burst_capacity=-111, ready=0).replicas is None
    assert state.reconcile(spec, 90.0, desired=0, excess_burst_capacity=-111, ready=0).replicas == 0


def test_zero_initial_scale_starts_inactive() -> None:
    config = AutoscalerConfig(allow_zero_initial_scale=True, initial_scale=0)
    spec = make_spec(config)
    state = PodAutoscalerState(0.0)
    outcome = state.reconcile(spec, 0.0, desired=-1, excess_burst_capacity=-211, ready=0)
    assert (outcome.want, outcome.activity, outcome.mode) == (-1, Activity.INACTIVE, ServingMode.PROXY)
    outcome = state.reconcile(spec, 1.0, desired=-1, excess_burst_capacity=-211, ready=0)
    assert (outcome.replicas, outcome.activity) == (None, Activity.INACTIVE)
    outcome = state.reconcile(spec, 2.0, desired=1, excess_burst_capacity=-211, ready=0)
    assert (outcome.replicas, outcome.activity) == (1, Activity.ACTIVATING)


def test_transition_time_moves_only_on_change() -> None:
    spec = make_spec()
    state = active_state(spec, since=10.0)
    state.reconcile(spec, 20.0, desired=2, excess_burst_capacity=0, ready=2)
    assert state.activity_since == 10.0
    state.reconcile(spec, 30.0, desired=2, excess_burst_capacity=-5, ready=2)
    assert (state.mode, state.mode_since) == (ServingMode.PROXY, 30.0)
    state.reconcile(spec, 40.0, desired=2, excess_burst_capacity=-5, ready=2)
    assert state.mode_since == 30.0
