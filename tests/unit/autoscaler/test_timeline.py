"""End-to-end timelines on a fake clock: windows → decider → scale-to-zero state machine."""

from __future__ import annotations

import pytest

from dataplane.api.autoscaling import AutoscalerConfig
from dataplane.autoscaler.core.scaler import Activity, ServingMode
from dataplane.autoscaler.core.spec import ScalingSpec, resolve_spec
from .sim import Simulation

A = "autoscaling.knative.dev/"


def make_spec(cc: int = 0, config: AutoscalerConfig | None = None, **annotations: str) -> ScalingSpec:
    return resolve_spec({A + k.replace("_", "-"): v for k, v in annotations.items()}, config or AutoscalerConfig(), cc)


def load_until(last: int, value: float = 10.0):
    return lambda second: value if second <= last else 0.0


@pytest.mark.parametrize(
    ("annotations", "zero_at"),
    [
        # stable window of zero load (last load at 100 leaves the window at 160) + 30 s grace
        ({"target_burst_capacity": "0"}, 190),
        # burst capacity kept the activator in the path all along: no grace wait
        ({}, 160),
        # retention longer than grace: it decides
        ({"target_burst_capacity": "0", "scale_to_zero_pod_retention_period": "2m"}, 280),
        # retention shorter than grace: grace decides
        ({"target_burst_capacity": "0", "scale_to_zero_pod_retention_period": "10s"}, 190),
        # retention, then the fast path once it has passed
        ({"scale_to_zero_pod_retention_period": "10s"}, 170),
        ({"target_burst_capacity": "0", "window": "30s"}, 160),
    ],
)
def test_scale_to_zero_timing(annotations: dict[str, str], zero_at: int) -> None:
    sim = Simulation(make_spec(**annotations))
    sim.run(400, load_until(100))
    assert sim.first_second(lambda s: s.replicas == 0) == zero_at
    assert sim.history[-1].replicas == 0
    assert sim.history[-1].activity is Activity.INACTIVE
    assert sim.history[-1].mode is ServingMode.PROXY


def test_deactivation_happens_when_the_stable_window_empties() -> None:
    sim = Simulation(make_spec(target_burst_capacity="0"))
    sim.run(200, load_until(100))
    assert sim.first_second(lambda s: s.desired == 0) == 160
    assert sim.first_second(lambda s: s.activity is Activity.INACTIVE) == 160
    assert all(s.mode is ServingMode.SERVE for s in sim.history if s.second < 160)


def test_enable_scale_to_zero_false_keeps_one_pod() -> None:
    sim = Simulation(make_spec(config=AutoscalerConfig(enable_scale_to_zero=False)))
    sim.run(600, load_until(100))
    assert min(s.replicas for s in sim.history) == 1
    assert sim.history[-1].activity is Activity.ACTIVE


def test_min_scale_keeps_pods_and_blocks_zero() -> None:
    sim = Simulation(make_spec(min_scale="2"), replicas=2)
    sim.run(400, load_until(100, value=300.0))
    assert max(s.replicas for s in sim.history) == 5
    assert sim.history[-1].replicas == 2


def test_unreachable_revision_ignores_min_scale() -> None:
    sim = Simulation(make_spec(min_scale="2"), replicas=2, reachable=False)
    sim.run(400, load_until(100))
    assert sim.history[-1].replicas == 0


def test_scale_from_zero_on_poke_with_activation_scale() -> None:
    sim = Simulation(make_spec(target_burst_capacity="0", activation_scale="3"))
    sim.run(298, load_until(100))
    assert sim.history[-1].replicas == 0
    sim.run(20, lambda second: 1.0)
    # The first request arrives at 299, an odd second with no tick: the
    # activator's report pokes the decider, so replicas are set at once.
    first = sim.first_second(lambda s: s.second > 298 and s.replicas > 0)
    assert first == 299
    assert sim.history[first - 1].replicas == 3
    assert sim.history[first - 1].activity is Activity.ACTIVE


def test_burst_from_one_pod_panics_and_holds_for_a_stable_window() -> None:
    sim = Simulation(make_spec(cc=1))  # target 0.7

    def load(second: int) -> float:
        return 20.0 if 100 <= second <= 130 else 0.5

    sim.run(99, load)
    assert sim.history[-1].replicas == 1
    sim.run(101, load)
    by_second = {s.second: s for s in sim.history}
    # Panic window (6 s): (5 × 0.5 + 20) / 6 = 3.75 → ceil(3.75 / 0.7) = 6 ≥ 2 × 1 ready.
    assert by_second[100].desired == 6
    assert [by_second[t].desired for t in (102, 104, 106)] == [15, 24, 29]
    assert sim.autoscaler.decider.panicking is False
    # The burst ended at 130; the last over-threshold tick was 102, so no
    # scale-down until 102 + 60 < now.
    assert {by_second[t].desired for t in range(106, 164)} == {29}
    assert by_second[164].desired == 14  # halved at most, stable wants 13


def test_steady_load_settles_on_ceil_load_over_target() -> None:
    sim = Simulation(make_spec(), replicas=1)
    sim.run(300, lambda second: 450.0)
    assert sim.history[-1].replicas == 7  # ceil(450 / 70)
    assert sim.history[-1].mode is ServingMode.SERVE  # 7 × 100 − 211 − 450 ≥ 0


def test_scale_down_delay_keeps_pods_warm() -> None:
    sim = Simulation(make_spec(target_burst_capacity="0", scale_down_delay="60s"))
    sim.run(400, load_until(100))
    # Undelayed it would be 0 at 160; the last tick wanting 1 was 158.
    assert sim.first_second(lambda s: s.desired == 0) == 158 + 60
    assert sim.first_second(lambda s: s.replicas == 0) == 158 + 60 + 30


def test_activator_not_in_path_blocks_scale_to_zero() -> None:
    sim = Simulation(make_spec(target_burst_capacity="0"), activator_in_path=False)
    sim.run(400, load_until(100))
    assert sim.history[-1].replicas == 1
    assert sim.history[-1].activity is Activity.INACTIVE
    sim.activator_in_path = True
    sim.run(5, lambda second: 0.0)
    assert sim.history[-1].replicas == 0
