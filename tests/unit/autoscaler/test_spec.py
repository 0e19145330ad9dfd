"""Resolving a revision's ScalingSpec: targets, windows, bounds, fallbacks."""

from __future__ import annotations

import pytest

from dataplane.api.autoscaling import AutoscalerConfig
from dataplane.autoscaler.core.spec import panic_window, resolve_spec

A = "autoscaling.knative.dev/"
DEFAULT = AutoscalerConfig()


@pytest.mark.parametrize(
    ("annotations", "cc", "target", "total", "utilization"),
    [
        ({}, 0, 70.0, 100.0, 0.7),
        ({}, 10, 7.0, 10.0, 0.7),
        ({}, 1, 0.7, 1.0, 0.7),
        ({A + "target-utilization-percentage": "100"}, 10, 10.0, 10.0, 1.0),
        ({A + "metric": "rps"}, 0, 140.0, 200.0, 0.7),
        ({A + "metric": "rps", A + "target": "300"}, 0, 210.0, 300.0, 0.7),
        # rps ignores containerConcurrency, even for the target cap
        ({A + "metric": "rps", A + "target": "300"}, 5, 210.0, 300.0, 0.7),
        ({A + "target": "50"}, 0, 35.0, 50.0, 0.7),
        # a concurrency target above CC is capped at CC
        ({A + "target": "50"}, 10, 7.0, 10.0, 0.7),
        ({A + "target": "5"}, 10, 3.5, 5.0, 0.7),
        ({A + "target": "0.01", A + "target-utilization-percentage": "1"}, 0, 0.01, 0.01, 0.01),
        ({A + "targetUtilizationPercentage": "50"}, 0, 50.0, 100.0, 0.5),
    ],
)
def test_target_resolution(annotations: dict[str, str], cc: int, target: float, total: float, utilization: float) -> None:
    spec = resolve_spec(annotations, DEFAULT, container_concurrency=cc)
    assert spec.target_value == pytest.approx(target)
    assert spec.total_value == pytest.approx(total)
    assert spec.target_utilization == pytest.approx(utilization)


def test_rps_utilization_is_not_the_concurrency_percentage() -> None:
    config = AutoscalerConfig.from_map({"container-concurrency-target-percentage": "50"})
    assert resolve_spec({}, config).target_value == 50.0
    assert resolve_spec({A + "metric": "rps"}, config).target_value == pytest.approx(140.0)


@pytest.mark.parametrize(
    ("stable", "percentage", "expected"),
    [(60, 10, 6.0), (7, 10, 1.0), (6, 1, 1.0), (65, 10, 7.0), (25, 10, 3.0), (24, 10, 2.0), (3600, 100, 3600.0)],
)
def test_panic_window_rounds_to_whole_seconds(stable: float, percentage: float, expected: float) -> None:
    assert panic_window(stable, percentage) == expected


def test_defaults() -> None:
    spec = resolve_spec({}, DEFAULT)
    assert spec.autoscaler_class == "kpa.autoscaling.knative.dev"
    assert spec.metric == "concurrency"
    assert (spec.stable_window, spec.panic_window, spec.panic_threshold) == (60.0, 6.0, 2.0)
    assert (spec.min_scale, spec.max_scale, spec.initial_scale, spec.activation_scale) == (0, 0, 1, 1)
    assert (spec.target_burst_capacity, spec.scale_down_delay, spec.scale_to_zero_pod_retention) == (211.0, 0.0, 0.0)
    assert spec.aggregation == "linear"
    assert spec.activation_timeout == 630.0
    assert spec.scrape_target


def test_annotations_override_config() -> None:
    annotations = {
        A + "window": "2m",
        A + "panic-window-percentage": "5",
        A + "panic-threshold-percentage": "150",
        A + "min-scale": "2",
        A + "max-scale": "9",
        A + "initial-scale": "3",
        A + "activation-scale": "4",
        A + "target-burst-capacity": "-1",
        A + "scale-down-delay": "20s",
        A + "scale-to-zero-pod-retention-period": "45s",
        A + "metric-aggregation-algorithm": "weightedExponential",
        "serving.knative.dev/progress-deadline": "100s",
    }
    spec = resolve_spec(annotations, DEFAULT)
    assert (spec.stable_window, spec.panic_window, spec.panic_threshold) == (120.0, 6.0, 1.5)
    assert (spec.min_scale, spec.max_scale, spec.initial_scale, spec.activation_scale) == (2, 9, 3, 4)
    assert (spec.target_burst_capacity, spec.scale_down_delay, spec.scale_to_zero_pod_retention) == (-1.0, 20.0, 45.0)
    assert spec.aggregation == "weighted-exponential"
    assert spec.activation_timeout == 130.0
    assert not spec.scrape_target


def test_config_defaults_flow_through() -> None:
    config = AutoscalerConfig.from_map(
        {
            "min-scale": "1",
            "max-scale": "5",
            "initial-scale": "2",
            "scale-to-zero-pod-retention-period": "10s",
            "scale-down-delay": "4s",
            "enable-scale-to-zero": "false",
            "scale-to-zero-grace-period": "15s",
            "max-scale-up-rate": "3",
            "max-scale-down-rate": "4",
        }
    )
    spec = resolve_spec({}, config, progress_deadline=60.0)
    assert (spec.min_scale, spec.max_scale, spec.initial_scale) == (1, 5, 2)
    assert (spec.scale_to_zero_pod_retention, spec.scale_down_delay, spec.scale_to_zero_grace_period) == (10.0, 4.0, 15.0)
    assert not spec.enable_scale_to_zero
    assert (spec.max_scale_up_rate, spec.max_scale_down_rate, spec.activation_timeout) == (3.0, 4.0, 90.0)


def test_invalid_annotations_fall_back_to_config() -> None:
    spec = resolve_spec({A + "window": "1s", A + "min-scale": "x", A + "initial-scale": "0"}, DEFAULT)
    assert (spec.stable_window, spec.min_scale, spec.initial_scale) == (60.0, 0, 1)


def test_hpa_class_defaults_to_cpu() -> None:
    spec = resolve_spec({A + "class": "hpa.autoscaling.knative.dev"}, DEFAULT)
    assert spec.metric == "cpu"
    hpa_config = AutoscalerConfig(pod_autoscaler_class="hpa.autoscaling.knative.dev")
    assert resolve_spec({}, hpa_config).metric == "cpu"
