import pytest

from dataplane.api import AutoscalerConfig
from dataplane.api.annotations import progress_deadline, validate_revision_annotations

P = "spec.template.metadata.annotations"
A = "autoscaling.knative.dev/"


def problems(annotations, config=AutoscalerConfig()):
    return [str(e) for e in validate_revision_annotations(annotations, P, config)]


@pytest.mark.parametrize("annotations", [
    {},
    {A + "class": "kpa.autoscaling.knative.dev", A + "metric": "rps", A + "target": "0.01"},
    {A + "class": "example.com/custom", A + "metric": "anything"},
    {A + "min-scale": "2", A + "max-scale": "10", A + "initial-scale": "3", A + "activation-scale": "5"},
    {A + "minScale": "2", A + "maxScale": "0"},
    {A + "target-utilization-percentage": "70", A + "panic-window-percentage": "10",
     A + "panic-threshold-percentage": "200", A + "target-burst-capacity": "-1"},
    {A + "window": "6s", A + "scale-down-delay": "15m", A + "scale-to-zero-pod-retention-period": "1h"},
    {A + "metric-aggregation-algorithm": "weightedExponential"},
    {"serving.knative.dev/progress-deadline": "10m", "unrelated/annotation": "x"},
])
def test_valid_annotations(annotations):
    assert problems(annotations) == []


@pytest.mark.parametrize("annotations, line", [
    ({A + "class": "foo.knative.dev"},
     f'{P}[{A}class]: invalid value "foo.knative.dev": expected kpa.autoscaling.knative.dev or '
     "hpa.autoscaling.knative.dev"),
    ({A + "metric": "cpu"}, f'{P}[{A}metric]: invalid value "cpu": the KPA scales on "concurrency" or "rps"'),
    ({A + "class": "hpa.autoscaling.knative.dev", A + "metric": "cpu"},
     f'{P}[{A}class]: "hpa.autoscaling.knative.dev" is not supported: this data plane has no HorizontalPodAutoscaler '
     'class, so the revision would never be scaled; use "kpa.autoscaling.knative.dev" (the default) with metric '
     '"concurrency" or "rps"'),
    ({A + "target": "0.001"}, f"{P}[{A}target]: must be at least 0.01, got 0.001"),
    ({A + "target": "lots"}, f'{P}[{A}target]: invalid value "lots": expected a number'),
    ({A + "target-utilization-percentage": "101"},
     f"{P}[{A}target-utilization-percentage]: must be between 1 and 100, got 101"),
    ({A + "targetUtilizationPercentage": "0.5"},
     f"{P}[{A}targetUtilizationPercentage]: must be between 1 and 100, got 0.5"),
    ({A + "panic-window-percentage": "0"}, f"{P}[{A}panic-window-percentage]: must be between 1 and 100, got 0"),
    ({A + "panic-threshold-percentage": "100"},
     f"{P}[{A}panic-threshold-percentage]: must be between 110 and 1000, got 100"),
    ({A + "target-burst-capacity": "-2"},
     f'{P}[{A}target-burst-capacity]: invalid value "-2": expected a number >= 0, or -1 (activator always in path)'),
    ({A + "min-scale": "x"}, f'{P}[{A}min-scale]: invalid value "x": expected an integer'),
    ({A + "max-scale": "-1"}, f"{P}[{A}max-scale]: must be between 0 and 2147483647, got -1"),
    ({A + "min-scale": "5", A + "max-scale": "3"}, f"{P}[{A}max-scale]: max-scale=3 is less than min-scale=5"),
    ({A + "minScale": "5", A + "maxScale": "3"}, f"{P}[{A}maxScale]: max-scale=3 is less than min-scale=5"),
    ({A + "initial-scale": "0"},
     f"{P}[{A}initial-scale]: initial-scale=0 is not allowed by the cluster (allow-zero-initial-scale is false)"),
    ({A + "activation-scale": "1"}, f"{P}[{A}activation-scale]: activation-scale=1 must be at least 2"),
    ({A + "min-scale": "4", A + "activation-scale": "3"},
     f"{P}[{A}activation-scale]: min-scale=4 is greater than activation-scale=3"),
    ({A + "max-scale": "4", A + "activation-scale": "5"},
     f"{P}[{A}activation-scale]: max-scale=4 is less than activation-scale=5"),
    ({A + "window": "5s"}, f"{P}[{A}window]: must be between 6s and 1h, got 5s"),
    ({A + "window": "61m"}, f"{P}[{A}window]: must be between 6s and 1h, got 61m"),
    ({A + "window": "6500ms"}, f"{P}[{A}window]: must be a whole number of seconds, got 6500ms"),
    ({A + "window": "soon"}, f'{P}[{A}window]: invalid duration "soon": expected e.g. "30s", "5m", "1h"'),
    ({A + "scaleDownDelay": "-1s"}, f"{P}[{A}scaleDownDelay]: must be between 0s and 1h, got -1s"),
    ({A + "scale-to-zero-pod-retention-period": "2h"},
     f"{P}[{A}scale-to-zero-pod-retention-period]: must be between 0s and 1h, got 2h"),
    ({A + "metric-aggregation-algorithm": "median"},
     f'{P}[{A}metric-aggregation-algorithm]: invalid value "median": expected one of linear, '
     "weighted-exponential, weightedExponential"),
    ({"serving.knative.dev/progress-deadline": "0s"},
     f"{P}[serving.knative.dev/progress-deadline]: must be between 1s and forever, got 0s"),
])
def test_invalid_annotations(annotations, line):
    assert problems(annotations) == [line]


def test_kebab_case_wins_over_the_legacy_spelling():
    assert problems({A + "min-scale": "1", A + "minScale": "nonsense"}) == []


def test_cluster_limits():
    limits = AutoscalerConfig(max_scale_limit=10, max_scale=10, allow_zero_initial_scale=True)
    assert problems({A + "max-scale": "11"}, limits) == [f"{P}[{A}max-scale]: must be between 1 and 10, got 11"]
    assert problems({A + "max-scale": "0"}, limits) == [
        f"{P}[{A}max-scale]: max-scale=0 (unlimited) is not allowed: the cluster limit is 10"]
    assert problems({A + "max-scale": "10", A + "initial-scale": "0"}, limits) == []


def test_progress_deadline_is_read_in_whole_seconds_with_knatives_default():
    key = "serving.knative.dev/progress-deadline"
    assert progress_deadline(None) == 600 and progress_deadline({}) == 600
    assert progress_deadline({key: "2s"}) == 2 and progress_deadline({key: "10m"}) == 600
    assert progress_deadline({key: "1m30s"}, default=5) == 90
    assert progress_deadline({key: "nonsense"}, default=7) == 7  # admission rejects it; a stored one falls back
