"""The KPA decision formulas, tick by tick on a fake clock."""

from __future__ import annotations

import math

import pytest

from dataplane.api.autoscaling import AutoscalerConfig
from dataplane.autoscaler.core.decider import Decider, MaxWindow, initial_excess_burst_capacity
from dataplane.autoscaler.core.spec import ScalingSpec, resolve_spec

A = "autoscaling.knative.dev/"


def make_spec(cc: int = 0, config: AutoscalerConfig | None = None, **annotations: str) -> ScalingSpec:
    return resolve_spec({A + k.replace("_", "-"): v for k, v in annotations.items()}, config or AutoscalerConfig(), cc)


def unit_target(**annotations: str) -> ScalingSpec:
    """Target exactly 1.0 per pod, so desired = ceil(load)."""
    return make_spec(target="1", target_utilization_percentage="100", **annotations)


@pytest.mark.parametrize(
    ("load", "expected"),
    [(0.0, 0), (0.5, 1), (1.0, 1), (70.0, 1), (70.01, 2), (140.0, 2), (700.0, 10), (1000.0, 15), (6999.0, 100)],
)
def test_steady_load_wants_ceil_load_over_target(load: float, expected: int) -> None:
    decider = Decider(make_spec(), now=0.0)
    ready = max(expected, 1)
    decision = decider.decide(0.0, ready, load, load)
    assert decision.desired == expected
    assert decision.target == 70.0
    assert not decision.panic
    assert decision.reason == "stable"


@pytest.mark.parametrize(("utilization", "expected"), [(None, 29), ("100", 20)])
@pytest.mark.parametrize("ready", [1, 20, 29])
def test_cc10_with_200_concurrent(utilization: str | None, expected: int, ready: int) -> None:
    annotations = {} if utilization is None else {"target_utilization_percentage": utilization}
    decider = Decider(make_spec(cc=10, **annotations), now=0.0)
    assert decider.decide(0.0, ready, 200.0, 200.0).desired == expected


def test_max_scale_up_rate_limits_each_tick() -> None:
    decider = Decider(unit_target(), now=0.0)
    assert decider.decide(0.0, 1, 1e9, 1e9).desired == 1000  # ceil(1000 × 1)
    assert decider.decide(2.0, 0, 1e9, 1e9).desired == 1000  # zero ready counts as one
    assert decider.decide(4.0, 2, 1e9, 1e9).desired == 2000
    config = AutoscalerConfig(max_scale_up_rate=1.1)
    slow = Decider(unit_target(config=config), now=0.0)
    # ceil keeps a slow rate growing by at least one pod
    assert slow.decide(0.0, 3, 100.0, 3.0).desired == 4


@pytest.mark.parametrize(
    ("ready", "reachable", "expected"),
    [(10, True, 5), (11, True, 5), (3, True, 1), (1, True, 0), (0, True, 0), (10, False, 0)],
)
def test_max_scale_down_rate_halves_per_tick(ready: int, reachable: bool, expected: int) -> None:
    decider = Decider(unit_target(), now=0.0)
    assert decider.decide(0.0, ready, 0.0, 0.0, reachable=reachable).desired == expected


def test_burst_of_20_with_cc1_from_one_pod_panics_and_is_rate_limited() -> None:
    config = AutoscalerConfig(max_scale_up_rate=10)
    decider = Decider(make_spec(cc=1, config=config), now=0.0)
    assert decider.spec.target_value == pytest.approx(0.7)
    first = decider.decide(0.0, 1, 20.0, 20.0)
    assert first.panic and first.reason == "panic"
    assert first.desired == 10  # ceil(20 / 0.7) = 29, capped at ceil(10 × 1)
    second = decider.decide(2.0, 10, 20.0, 20.0)
    assert second.desired == 29
    assert Decider(make_spec(cc=1), now=0.0).decide(0.0, 1, 20.0, 20.0).desired == 29


@pytest.mark.parametrize(("panic_value", "panics"), [(9.0, False), (9.5, True), (10.0, True), (20.0, True)])
def test_panic_starts_at_twice_the_ready_pods(panic_value: float, panics: bool) -> None:
    decider = Decider(unit_target(), now=0.0)
    decision = decider.decide(0.0, 5, 5.0, panic_value)
    assert decision.panic is panics
    assert decision.desired == (math.ceil(panic_value) if panics else 5)


def test_panic_threshold_annotation() -> None:
    decider = Decider(unit_target(panic_threshold_percentage="150"), now=0.0)
    assert decider.decide(0.0, 10, 10.0, 14.0).panic is False
    assert decider.decide(2.0, 10, 10.0, 15.0).panic is True


def test_no_scale_down_for_a_stable_window_after_the_burst() -> None:
    decider = Decider(unit_target(), now=0.0)
    assert decider.decide(100.0, 5, 5.0, 12.0).desired == 12  # panic starts
    assert decider.decide(102.0, 12, 5.0, 30.0).desired == 30  # 30/12 ≥ 2 extends panic at 102
    # The burst is over: stable wants 3, but panic holds the ratchet.
    for now in range(104, 163, 2):
        decision = decider.decide(float(now), 30, 3.0, 3.0)
        assert (decision.desired, decision.panic) == (30, True), now
    # Panic ends only once 102 + 60 < now.
    decision = decider.decide(164.0, 30, 3.0, 3.0)
    assert not decision.panic
    assert decision.desired == 15  # stable 3, limited by halving 30


def test_panic_ratchet_only_increases() -> None:
    decider = Decider(unit_target(), now=0.0)
    assert decider.decide(0.0, 2, 1.0, 10.0).desired == 10
    assert decider.decide(2.0, 2, 1.0, 8.0).desired == 10  # still over threshold, but lower
    assert decider.decide(4.0, 2, 12.0, 4.0).desired == 12  # stable may exceed panic


def test_activation_scale_raises_any_nonzero_want() -> None:
    decider = Decider(make_spec(activation_scale="3"), now=0.0)
    assert decider.decide(0.0, 0, 0.5, 0.5).desired == 3
    assert decider.decide(2.0, 3, 0.0, 0.0).desired == 1  # stable 0: halving from 3
    assert decider.decide(4.0, 1, 0.0, 0.0).desired == 0
    assert decider.decide(6.0, 5, 350.0, 350.0).desired == 5


def test_scale_down_delay_holds_the_maximum_over_the_delay() -> None:
    decider = Decider(unit_target(scale_down_delay="60s"), now=0.0)
    assert decider.decide(0.0, 10, 10.0, 10.0).desired == 10
    for now in range(2, 60, 2):
        decision = decider.decide(float(now), 10, 5.0, 5.0)
        assert (decision.desired, decision.reason) == (10, "delayed"), now
    decision = decider.decide(60.0, 10, 5.0, 5.0)
    assert (decision.desired, decision.reason) == (5, "stable")
    assert decider.decide(62.0, 5, 8.0, 8.0).desired == 8  # increases are never delayed


def test_max_window() -> None:
    window = MaxWindow(3)
    for slot, value, expected in [(0, 5, 5), (1, 3, 5), (2, 4, 5), (3, 1, 4), (4, 1, 4), (5, 1, 1), (5, 7, 7), (5, 2, 7)]:
        window.record(slot, value)
        assert window.current() == expected, (slot, value)


@pytest.mark.parametrize(
    ("tbc", "ready", "panic", "expected"),
    [
        ("211", 3, 50.0, 39),  # floor(3 × 100 − 211 − 50)
        ("211", 1, 0.0, -111),
        ("211", 0, 0.0, -211),  # raw ready count, not the floor of one
        ("100", 2, 50.5, 49),
        ("0", 3, 50.0, 0),
        ("-1", 3, 50.0, -1),
    ],
)
def test_excess_burst_capacity(tbc: str, ready: int, panic: float, expected: int) -> None:
    decider = Decider(make_spec(target_burst_capacity=tbc), now=0.0)
    assert decider.decide(0.0, ready, 0.0, panic).excess_burst_capacity == expected


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({}, -111),
        ({"target_burst_capacity": "0"}, 0),
        ({"target_burst_capacity": "-1"}, -1),
        ({"initial_scale": "3"}, 89),
        ({"target_burst_capacity": "50.5"}, 49),  # truncated toward zero
        ({"target_burst_capacity": "150.5"}, -50),
    ],
)
def test_initial_status(annotations: dict[str, str], expected: int) -> None:
    spec = make_spec(**annotations)
    decider = Decider(spec, now=0.0)
    assert decider.desired == -1
    assert decider.excess_burst_capacity == initial_excess_burst_capacity(spec) == expected


def test_changed_flags_desired_changes_and_ebc_sign_flips() -> None:
    decider = Decider(make_spec(target_burst_capacity="100"), now=0.0)
    assert decider.decide(0.0, 1, 10.0, 10.0).changed  # -1 → 1
    assert not decider.decide(2.0, 1, 10.0, 10.0).changed  # same scale, EBC still negative
    assert decider.decide(4.0, 1, 10.0, 10.0).excess_burst_capacity == -10
    assert decider.decide(6.0, 2, 10.0, 10.0).changed  # EBC -10 → 90
    assert not decider.decide(8.0, 2, 20.0, 20.0).changed  # EBC 90 → 80: same sign


def test_restart_with_ready_pods_starts_in_panic() -> None:
    decider = Decider(unit_target(), now=100.0, ready_pods=8)
    assert decider.panicking
    decision = decider.decide(102.0, 8, 1.0, 1.0)
    assert (decision.desired, decision.panic) == (8, True)
    assert decider.decide(160.0, 8, 1.0, 1.0).desired == 8
    decision = decider.decide(162.0, 8, 1.0, 1.0)
    assert (decision.desired, decision.panic) == (4, False)


@pytest.mark.parametrize("ready_pods", [0, 1])
def test_restart_with_one_pod_or_none_starts_calm(ready_pods: int) -> None:
    decider = Decider(unit_target(), now=100.0, ready_pods=ready_pods)
    assert not decider.panicking
    assert decider.decide(102.0, ready_pods, 0.0, 0.0).desired == 0


def test_update_starts_a_new_delay_window() -> None:
    decider = Decider(unit_target(), now=0.0)
    decider.update(unit_target(scale_down_delay="10s"))
    assert decider.decide(0.0, 4, 4.0, 4.0).desired == 4
    assert decider.decide(2.0, 4, 1.0, 1.0).desired == 4
    decider.update(unit_target())
    assert decider.decide(4.0, 4, 1.0, 1.0).desired == 2
