"""config-autoscaler parsing, defaults and validation."""

from __future__ import annotations

import dataclasses

import pytest

from dataplane.api.autoscaling import KEYS, AutoscalerConfig
from dataplane.api.errors import ConfigError


def test_defaults_are_knatives() -> None:
    config = AutoscalerConfig.from_map({})
    assert config == AutoscalerConfig()
    assert (config.container_concurrency_target_fraction, config.container_concurrency_target_default) == (0.7, 100.0)
    assert (config.rps_target_default, config.target_utilization, config.target_burst_capacity) == (200.0, 0.7, 211.0)
    assert (config.stable_window, config.panic_window_percentage, config.panic_threshold_percentage) == (60.0, 10.0, 200.0)
    assert (config.max_scale_up_rate, config.max_scale_down_rate) == (1000.0, 2.0)
    assert (config.scale_to_zero_grace_period, config.scale_to_zero_pod_retention_period) == (30.0, 0.0)
    assert (config.scale_down_delay, config.activator_capacity, config.initial_scale) == (0.0, 100.0, 1)
    assert (config.min_scale, config.max_scale, config.max_scale_limit) == (0, 0, 0)
    assert config.enable_scale_to_zero and not config.allow_zero_initial_scale
    assert config.pod_autoscaler_class == "kpa.autoscaling.knative.dev"


def test_every_field_but_target_utilization_has_a_key() -> None:
    fields = {f.name for f in dataclasses.fields(AutoscalerConfig)}
    assert {name for name, _ in KEYS.values()} == fields - {"target_utilization"}


@pytest.mark.parametrize(
    ("data", "field", "value"),
    [
        ({"stable-window": "1m30s"}, "stable_window", 90.0),
        ({"container-concurrency-target-percentage": "80"}, "container_concurrency_target_fraction", 0.8),
        ({"container-concurrency-target-percentage": "0.5"}, "container_concurrency_target_fraction", 0.5),
        ({"container-concurrency-target-percentage": "1"}, "container_concurrency_target_fraction", 1.0),
        ({"container-concurrency-target-percentage": "100"}, "container_concurrency_target_fraction", 1.0),
        ({"enable-scale-to-zero": "false"}, "enable_scale_to_zero", False),
        ({"enable-scale-to-zero": "False"}, "enable_scale_to_zero", False),
        ({"target-burst-capacity": "-1"}, "target_burst_capacity", -1.0),
        ({"target-burst-capacity": "0"}, "target_burst_capacity", 0.0),
        ({"scale-to-zero-grace-period": "10s"}, "scale_to_zero_grace_period", 10.0),
        ({"scale-to-zero-pod-retention-period": "1m5s"}, "scale_to_zero_pod_retention_period", 65.0),
        ({"scale-down-delay": "15m"}, "scale_down_delay", 900.0),
        ({"requests-per-second-target-default": "150.5"}, "rps_target_default", 150.5),
        ({"max-scale-up-rate": "2.5"}, "max_scale_up_rate", 2.5),
        ({"initial-scale": "0", "allow-zero-initial-scale": "true"}, "initial_scale", 0),
        ({"max-scale": "10", "max-scale-limit": "20"}, "max_scale", 10),
        ({"min-scale": "2", "max-scale": "3"}, "min_scale", 2),
        ({"pod-autoscaler-class": "hpa.autoscaling.knative.dev"}, "pod_autoscaler_class", "hpa.autoscaling.knative.dev"),
        ({"_example": "anything at all", "unknown-key": "x"}, "stable_window", 60.0),
        ({"stable-window": " 2m "}, "stable_window", 120.0),
    ],
)
def test_from_map(data: dict[str, str], field: str, value: object) -> None:
    assert getattr(AutoscalerConfig.from_map(data), field) == value


@pytest.mark.parametrize(
    ("data", "key", "allowed"),
    [
        ({"scale-to-zero-grace-period": "0s"}, "scale-to-zero-grace-period", "> 0s"),
        ({"scale-down-delay": "-1s"}, "scale-down-delay", ">= 0s in whole seconds"),
        ({"scale-down-delay": "1.5s"}, "scale-down-delay", ">= 0s in whole seconds"),
        ({"scale-to-zero-pod-retention-period": "-1s"}, "scale-to-zero-pod-retention-period", ">= 0s"),
        ({"target-burst-capacity": "-2"}, "target-burst-capacity", ">= 0 or exactly -1"),
        ({"container-concurrency-target-percentage": "0"}, "container-concurrency-target-percentage", "(0, 100]"),
        ({"container-concurrency-target-percentage": "101"}, "container-concurrency-target-percentage", "(0, 100]"),
        (
            {"container-concurrency-target-percentage": "1", "container-concurrency-target-default": "0.001"},
            "container-concurrency-target-default",
            ">= 0.01",
        ),
        ({"requests-per-second-target-default": "0.001"}, "requests-per-second-target-default", ">= 0.01"),
        ({"activator-capacity": "0.5"}, "activator-capacity", ">= 1"),
        ({"max-scale-up-rate": "1"}, "max-scale-up-rate", "> 1"),
        ({"max-scale-down-rate": "1.0"}, "max-scale-down-rate", "> 1"),
        ({"stable-window": "5s"}, "stable-window", "[6s, 1h] in whole seconds"),
        ({"stable-window": "1h1s"}, "stable-window", "[6s, 1h] in whole seconds"),
        ({"stable-window": "6500ms"}, "stable-window", "[6s, 1h] in whole seconds"),
        ({"panic-window-percentage": "0.5"}, "panic-window-percentage", "[1, 100]"),
        ({"panic-window-percentage": "101"}, "panic-window-percentage", "[1, 100]"),
        ({"initial-scale": "0"}, "initial-scale", ">= 1 (0 needs allow-zero-initial-scale)"),
        ({"initial-scale": "-1", "allow-zero-initial-scale": "true"}, "initial-scale", ">= 0"),
        ({"max-scale-limit": "-1"}, "max-scale-limit", ">= 0"),
        ({"max-scale-limit": "10"}, "max-scale", "[1, 10] (max-scale-limit)"),
        ({"max-scale-limit": "10", "max-scale": "11"}, "max-scale", "[1, 10] (max-scale-limit)"),
        ({"max-scale": "-1"}, "max-scale", ">= 0 (0 = unbounded)"),
        ({"min-scale": "-1"}, "min-scale", ">= 0"),
        ({"min-scale": "4", "max-scale": "3"}, "min-scale", "[0, 3] (max-scale)"),
        ({"stable-window": "60"}, "stable-window", "duration such as 60s"),
        ({"enable-scale-to-zero": "yes"}, "enable-scale-to-zero", "a boolean"),
        ({"max-scale": "1.5"}, "max-scale", "an integer"),
        ({"max-scale-up-rate": "fast"}, "max-scale-up-rate", "a number"),
        ({"max-scale-up-rate": "1_000"}, "max-scale-up-rate", "a number"),
    ],
)
def test_invalid_values_name_key_and_range(data: dict[str, str], key: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as caught:
        AutoscalerConfig.from_map(data)
    assert caught.value.key == key
    assert allowed in caught.value.message
    assert caught.value.configmap == "config-autoscaler"
    assert str(caught.value).startswith(f"config-autoscaler: {key}: ")
    assert isinstance(caught.value, ValueError)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ConfigError, match="stable-window"):
        AutoscalerConfig(stable_window=3.0)
