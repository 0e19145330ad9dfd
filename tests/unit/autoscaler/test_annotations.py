"""Per-revision annotation validation: every error names its key and the allowed range."""

from __future__ import annotations

import pytest

from dataplane.autoscaler.core.annotations import FieldError, read_annotations, validate_annotations
from dataplane.autoscaler.core.config import AutoscalerConfig

A = "autoscaling.knative.dev/"
DEFAULT = AutoscalerConfig()


def test_valid_annotations_have_no_errors() -> None:
    annotations = {
        A + "class": "kpa.autoscaling.knative.dev",
        A + "metric": "rps",
        A + "target": "150",
        A + "target-utilization-percentage": "80",
        A + "min-scale": "1",
        A + "max-scale": "10",
        A + "initial-scale": "2",
        A + "activation-scale": "3",
        A + "window": "2m",
        A + "panic-window-percentage": "5",
        A + "panic-threshold-percentage": "150",
        A + "target-burst-capacity": "-1",
        A + "scale-down-delay": "30s",
        A + "scale-to-zero-pod-retention-period": "1m30s",
        A + "metric-aggregation-algorithm": "weighted-exponential",
        "serving.knative.dev/progress-deadline": "300s",
        "unrelated.example.com/anything": "x",
    }
    assert validate_annotations(annotations, DEFAULT) == []
    assert validate_annotations({}, DEFAULT) == []


def test_field_error_renders_key_then_message() -> None:
    (error,) = validate_annotations({A + "min-scale": "x"}, DEFAULT)
    assert error == FieldError(A + "min-scale", 'must be an integer >= 0, got "x"')
    assert str(error) == 'autoscaling.knative.dev/min-scale: must be an integer >= 0, got "x"'


@pytest.mark.parametrize(
    ("annotations", "path", "message"),
    [
        ({A + "class": "foo.knative.dev"}, A + "class", 'must be "kpa.autoscaling.knative.dev" or "hpa.autoscaling.knative.dev"'),
        ({A + "metric": "cpu"}, A + "metric", 'must be "concurrency" or "rps" for class kpa.autoscaling.knative.dev, got "cpu"'),
        (
            {A + "class": "hpa.autoscaling.knative.dev", A + "metric": ""},
            A + "metric",
            "must not be empty for class hpa.autoscaling.knative.dev",
        ),
        ({A + "target": "0.001"}, A + "target", 'must be a number >= 0.01, got "0.001"'),
        ({A + "target": "lots"}, A + "target", 'must be a number >= 0.01, got "lots"'),
        ({A + "target-utilization-percentage": "0.5"}, A + "target-utilization-percentage", "must be a number in [1, 100]"),
        ({A + "targetUtilizationPercentage": "101"}, A + "targetUtilizationPercentage", "must be a number in [1, 100]"),
        ({A + "min-scale": "-1"}, A + "min-scale", 'must be an integer >= 0, got "-1"'),
        ({A + "minScale": "1.5"}, A + "minScale", 'must be an integer >= 0, got "1.5"'),
        ({A + "max-scale": "99999999999"}, A + "max-scale", "must be an integer >= 0"),
        ({A + "maxScale": " 3"}, A + "maxScale", "must be an integer >= 0"),
        ({A + "min-scale": "5", A + "max-scale": "3"}, A + "max-scale", 'must be 0 (unbounded) or >= min-scale (5), got "3"'),
        ({A + "initial-scale": "0"}, A + "initial-scale", "must be an integer >= 1, got \"0\" (0 needs allow-zero-initial-scale)"),
        ({A + "initialScale": "-2"}, A + "initialScale", "must be an integer >= 1"),
        ({A + "activation-scale": "1"}, A + "activation-scale", 'must be an integer >= 2, got "1"'),
        ({A + "activation-scale": "5", A + "max-scale": "4"}, A + "activation-scale", "must be an integer in [2, max-scale (4)]"),
        ({A + "activation-scale": "2", A + "min-scale": "3"}, A + "activation-scale", "must be an integer >= min-scale (3)"),
        ({A + "window": "5s"}, A + "window", 'must be a duration in [6s, 1h] in whole seconds, got "5s"'),
        ({A + "window": "61m"}, A + "window", "must be a duration in [6s, 1h] in whole seconds"),
        ({A + "window": "6.5s"}, A + "window", "must be a duration in [6s, 1h] in whole seconds"),
        ({A + "window": "60"}, A + "window", "must be a duration in [6s, 1h] in whole seconds"),
        ({A + "panic-window-percentage": "0"}, A + "panic-window-percentage", "must be a number in [1, 100]"),
        ({A + "panicWindowPercentage": "101"}, A + "panicWindowPercentage", "must be a number in [1, 100]"),
        ({A + "panic-threshold-percentage": "109"}, A + "panic-threshold-percentage", "must be a number in [110, 1000]"),
        ({A + "panicThresholdPercentage": "1001"}, A + "panicThresholdPercentage", "must be a number in [110, 1000]"),
        ({A + "target-burst-capacity": "-2"}, A + "target-burst-capacity", 'must be a number >= 0 or exactly -1, got "-2"'),
        ({A + "targetBurstCapacity": "x"}, A + "targetBurstCapacity", "must be a number >= 0 or exactly -1"),
        ({A + "scale-down-delay": "-1s"}, A + "scale-down-delay", "must be a duration in [0s, 1h] in whole seconds"),
        ({A + "scaleDownDelay": "2h"}, A + "scaleDownDelay", "must be a duration in [0s, 1h] in whole seconds"),
        ({A + "scale-down-delay": "1500ms"}, A + "scale-down-delay", "in whole seconds"),
        (
            {A + "scale-to-zero-pod-retention-period": "-1s"},
            A + "scale-to-zero-pod-retention-period",
            'must be a duration in [0s, 1h], got "-1s"',
        ),
        ({A + "scaleToZeroPodRetentionPeriod": "2h"}, A + "scaleToZeroPodRetentionPeriod", "must be a duration in [0s, 1h]"),
        ({A + "metric-aggregation-algorithm": "median"}, A + "metric-aggregation-algorithm", 'must be "linear" or "weighted-exponential"'),
        ({A + "metricAggregationAlgorithm": "x"}, A + "metricAggregationAlgorithm", 'must be "linear" or "weighted-exponential"'),
        ({"serving.knative.dev/progress-deadline": "0s"}, "serving.knative.dev/progress-deadline", "must be a duration > 0s in whole seconds"),
    ],
)
def test_invalid_annotation_names_key_and_range(annotations: dict[str, str], path: str, message: str) -> None:
    errors = validate_annotations(annotations, DEFAULT)
    assert [error.path for error in errors] == [path]
    assert message in errors[0].message


def test_max_scale_limit_applies_to_the_annotation() -> None:
    config = AutoscalerConfig(max_scale_limit=10, max_scale=5)
    for raw in ("11", "0"):
        (error,) = validate_annotations({A + "max-scale": raw}, config)
        assert error.path == A + "max-scale"
        assert "must be in [1, 10] (max-scale-limit" in error.message
    assert validate_annotations({A + "max-scale": "10"}, config) == []


def test_zero_initial_scale_when_the_cluster_allows_it() -> None:
    config = AutoscalerConfig(allow_zero_initial_scale=True)
    assert validate_annotations({A + "initial-scale": "0"}, config) == []
    (error,) = validate_annotations({A + "initial-scale": "-1"}, config)
    assert error.message == 'must be an integer >= 0, got "-1"'


def test_custom_classes_keep_their_own_metrics_and_algorithms() -> None:
    annotations = {A + "class": "custom.example.com", A + "metric": "queue-depth", A + "metric-aggregation-algorithm": "x"}
    assert validate_annotations(annotations, DEFAULT) == []
    hpa = {A + "class": "hpa.autoscaling.knative.dev", A + "metric": "memory"}
    assert validate_annotations(hpa, DEFAULT) == []


def test_several_errors_are_all_reported() -> None:
    errors = validate_annotations({A + "min-scale": "x", A + "window": "1s", A + "target": "0"}, DEFAULT)
    assert {error.path for error in errors} == {A + "min-scale", A + "window", A + "target"}


@pytest.mark.parametrize(
    ("annotations", "field", "value"),
    [
        ({A + "minScale": "2"}, "min_scale", 2),
        ({A + "min-scale": "3", A + "minScale": "2"}, "min_scale", 3),
        ({A + "maxScale": "7"}, "max_scale", 7),
        ({A + "initialScale": "4"}, "initial_scale", 4),
        ({A + "targetUtilizationPercentage": "85"}, "target_utilization_percentage", 85.0),
        ({A + "panicWindowPercentage": "20"}, "panic_window_percentage", 20.0),
        ({A + "panicThresholdPercentage": "300"}, "panic_threshold_percentage", 300.0),
        ({A + "targetBurstCapacity": "0"}, "target_burst_capacity", 0.0),
        ({A + "scaleDownDelay": "1m"}, "scale_down_delay", 60.0),
        ({A + "scaleToZeroPodRetentionPeriod": "1m30s"}, "scale_to_zero_pod_retention", 90.0),
        ({A + "metricAggregationAlgorithm": "weightedExponential"}, "aggregation", "weighted-exponential"),
        ({A + "metric-aggregation-algorithm": "weightedExponential"}, "aggregation", "weighted-exponential"),
        ({A + "window": "1m30s"}, "window", 90.0),
        ({"serving.knative.dev/progress-deadline": "2m"}, "progress_deadline", 120.0),
    ],
)
def test_legacy_spellings_are_read_and_kebab_case_wins(annotations: dict[str, str], field: str, value: object) -> None:
    values, errors = read_annotations(annotations, DEFAULT)
    assert errors == []
    assert values[field] == value


def test_invalid_values_are_left_out() -> None:
    values, errors = read_annotations({A + "min-scale": "x", A + "max-scale": "4"}, DEFAULT)
    assert values == {"max_scale": 4}
    assert len(errors) == 1
