"""The one annotation table: the values the autoscaler reads, and the problems admission reports."""

from __future__ import annotations

import pytest

from dataplane.api import AutoscalerConfig, FieldError
from dataplane.api.annotations import parse_revision_annotations, validate_revision_annotations

A = "autoscaling.knative.dev/"
P = "metadata.annotations"
DEFAULT = AutoscalerConfig()
HPA_DEFAULT = AutoscalerConfig(pod_autoscaler_class="hpa.autoscaling.knative.dev")


def problems(annotations: dict, config: AutoscalerConfig = DEFAULT) -> list[str]:
    return [str(e) for e in validate_revision_annotations(annotations, P, config)]


def test_valid_annotations_are_read_without_errors() -> None:
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
    values, errors = parse_revision_annotations(annotations, DEFAULT)
    assert errors == []
    assert values == {
        "class": "kpa.autoscaling.knative.dev", "metric": "rps", "target": 150.0,
        "target_utilization_percentage": 80.0, "min_scale": 1, "max_scale": 10, "initial_scale": 2,
        "activation_scale": 3, "window": 120.0, "panic_window_percentage": 5.0, "panic_threshold_percentage": 150.0,
        "target_burst_capacity": -1.0, "scale_down_delay": 30.0, "scale_to_zero_pod_retention": 90.0,
        "aggregation": "weighted-exponential", "progress_deadline": 300.0,
    }
    assert parse_revision_annotations({}, DEFAULT) == ({}, [])
    assert parse_revision_annotations(None, DEFAULT) == ({}, [])


def test_an_error_carries_the_annotation_path() -> None:
    (error,) = validate_revision_annotations({A + "min-scale": "x"}, "spec.template.metadata.annotations", DEFAULT)
    assert error == FieldError(f"spec.template.metadata.annotations[{A}min-scale]",
                               'invalid value "x": expected an integer')
    (error,) = parse_revision_annotations({A + "min-scale": "x"}, DEFAULT)[1]
    assert error.path == f"{P}[{A}min-scale]"


@pytest.mark.parametrize("annotations, line", [
    ({A + "minScale": "1.5"}, f'{P}[{A}minScale]: invalid value "1.5": expected an integer'),
    ({A + "max-scale": "99999999999"}, f"{P}[{A}max-scale]: must be between 0 and 2147483647, got 99999999999"),
    ({A + "maxScale": " 3"}, f'{P}[{A}maxScale]: invalid value " 3": expected an integer'),
    ({A + "max-scale": "+-5"}, f'{P}[{A}max-scale]: invalid value "+-5": expected an integer'),
    ({A + "initialScale": "-2"}, f"{P}[{A}initialScale]: must be between 0 and 2147483647, got -2"),
    ({A + "window": "6.5s"}, f"{P}[{A}window]: must be a whole number of seconds, got 6.5s"),
    ({A + "window": "60"}, f'{P}[{A}window]: invalid duration "60": expected e.g. "30s", "5m", "1h"'),
    ({A + "panicWindowPercentage": "101"}, f"{P}[{A}panicWindowPercentage]: must be between 1 and 100, got 101"),
    ({A + "panic-threshold-percentage": "109"},
     f"{P}[{A}panic-threshold-percentage]: must be between 110 and 1000, got 109"),
    ({A + "panicThresholdPercentage": "1001"},
     f"{P}[{A}panicThresholdPercentage]: must be between 110 and 1000, got 1001"),
    ({A + "targetBurstCapacity": "x"},
     f'{P}[{A}targetBurstCapacity]: invalid value "x": expected a number >= 0, or -1 (activator always in path)'),
    ({A + "scaleDownDelay": "2h"}, f"{P}[{A}scaleDownDelay]: must be between 0s and 1h, got 2h"),
    ({A + "scale-down-delay": "1500ms"}, f"{P}[{A}scale-down-delay]: must be a whole number of seconds, got 1500ms"),
    ({A + "scale-to-zero-pod-retention-period": "-1s"},
     f"{P}[{A}scale-to-zero-pod-retention-period]: must be between 0s and 1h, got -1s"),
    ({A + "scaleToZeroPodRetentionPeriod": "2h"},
     f"{P}[{A}scaleToZeroPodRetentionPeriod]: must be between 0s and 1h, got 2h"),
    ({A + "metricAggregationAlgorithm": "x"},
     f'{P}[{A}metricAggregationAlgorithm]: invalid value "x": expected one of linear, weighted-exponential, '
     "weightedExponential"),
    ({"serving.knative.dev/progress-deadline": "0.5s"},
     f"{P}[serving.knative.dev/progress-deadline]: must be a whole number of seconds, got 0.5s"),
])
def test_invalid_annotation_names_key_and_range(annotations: dict, line: str) -> None:
    assert problems(annotations) == [line]


def test_max_scale_limit_applies_to_the_annotation() -> None:
    config = AutoscalerConfig(max_scale_limit=10, max_scale=5)
    assert problems({A + "max-scale": "11"}, config) == [f"{P}[{A}max-scale]: must be between 1 and 10, got 11"]
    assert problems({A + "max-scale": "0"}, config) == [
        f"{P}[{A}max-scale]: max-scale=0 (unlimited) is not allowed: the cluster limit is 10"]
    assert problems({A + "max-scale": "10"}, config) == []


def test_zero_initial_scale_when_the_cluster_allows_it() -> None:
    config = AutoscalerConfig(allow_zero_initial_scale=True)
    assert parse_revision_annotations({A + "initial-scale": "0"}, config) == ({"initial_scale": 0}, [])
    assert problems({A + "initial-scale": "-1"}, config) == [
        f"{P}[{A}initial-scale]: must be between 0 and 2147483647, got -1"]
    values, errors = parse_revision_annotations({A + "initial-scale": "0"}, DEFAULT)
    assert values == {} and [e.path for e in errors] == [f"{P}[{A}initial-scale]"]


def test_custom_classes_keep_their_own_metrics_and_algorithms() -> None:
    annotations = {A + "class": "custom.example.com", A + "metric": "queue-depth", A + "metric-aggregation-algorithm": "x"}
    assert parse_revision_annotations(annotations, DEFAULT) == (
        {"class": "custom.example.com", "metric": "queue-depth"}, [])
    hpa = {A + "class": "hpa.autoscaling.knative.dev", A + "metric": "memory"}
    # the autoscaler reads the HPA class as Knative does (and leaves it alone); admission refuses it
    assert parse_revision_annotations(hpa, DEFAULT) == ({"class": "hpa.autoscaling.knative.dev", "metric": "memory"}, [])
    assert [e.path for e in validate_revision_annotations(hpa, P, DEFAULT)] == [f"{P}[{A}class]"]


def test_several_errors_are_all_reported() -> None:
    errors = validate_revision_annotations({A + "min-scale": "x", A + "window": "1s", A + "target": "0"}, P, DEFAULT)
    assert {error.path for error in errors} == {f"{P}[{A}min-scale]", f"{P}[{A}window]", f"{P}[{A}target]"}


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
def test_legacy_spellings_are_read_and_kebab_case_wins(annotations: dict, field: str, value: object) -> None:
    values, errors = parse_revision_annotations(annotations, DEFAULT)
    assert errors == []
    assert values[field] == value


def test_invalid_values_are_left_out() -> None:
    values, errors = parse_revision_annotations({A + "min-scale": "x", A + "max-scale": "4"}, DEFAULT)
    assert values == {"max_scale": 4}
    assert len(errors) == 1


# Where admission's table and the autoscaler's copy used to answer differently; each row is Knative's answer.
@pytest.mark.parametrize("annotations, config, valid", [
    # Knative sets no whole-seconds rule on the pod retention period (admission used to).
    ({A + "scale-to-zero-pod-retention-period": "1500ms"}, DEFAULT, True),
    # Go's ParseFloat fails on a value out of float64 range (admission used to take +Inf).
    ({A + "target": "1e999"}, DEFAULT, False),
    ({A + "target-burst-capacity": "1e999"}, DEFAULT, False),
    # Go's strconv reads ASCII digits only, and nothing after them (admission used to take these).
    ({A + "min-scale": "\u0661"}, DEFAULT, False),
    ({A + "max-scale": "1\n"}, DEFAULT, False),
    ({A + "target-utilization-percentage": "1\n"}, DEFAULT, False),
    # Class rules follow the class annotation, KPA when absent, not the cluster's default class
    # (the autoscaler's copy used to take the ConfigMap's pod-autoscaler-class).
    ({A + "metric": "memory"}, HPA_DEFAULT, False),
    ({A + "metric-aggregation-algorithm": "median"}, HPA_DEFAULT, False),
    ({A + "class": "hpa.autoscaling.knative.dev", A + "metric": "memory"}, DEFAULT, True),
])
def test_the_one_answer_where_the_two_copies_disagreed(annotations: dict, config: AutoscalerConfig, valid: bool) -> None:
    values, errors = parse_revision_annotations(annotations, config)
    assert (errors == []) is valid
    assert (len(values) == len(annotations)) is valid


@pytest.mark.parametrize("name", ["min-scale", "max-scale", "initial-scale", "activation-scale", "window", "target",
                                  "target-burst-capacity", "panic-window-percentage", "scale-down-delay"])
def test_a_huge_number_is_refused_not_a_crash(name: str) -> None:
    raw = "9" * 5000  # past the digits Python's int() converts
    (error,) = validate_revision_annotations({A + name: raw}, P, DEFAULT)
    assert error.path == f"{P}[{A}{name}]"
    assert error.message.startswith(("must be between", "invalid value", "invalid duration"))
