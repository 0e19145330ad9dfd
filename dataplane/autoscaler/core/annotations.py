"""Per-revision ``autoscaling.knative.dev/*`` annotations: lookup and validation.

Each key accepts its kebab-case name and, where Knative still does, a legacy
camelCase spelling; the kebab-case one wins when both are present. Values
are checked as Knative's ``annotation_validation.go`` checks them, and every
problem is reported as a ``FieldError`` naming the key and the allowed range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from dataplane.autoscaler.core.config import (
    HPA_CLASS,
    KPA_CLASS,
    TARGET_MIN,
    WINDOW_MAX,
    WINDOW_MIN,
    AutoscalerConfig,
)
from dataplane.autoscaler.core.durations import NS_PER_SECOND, parse_duration_ns
from dataplane.autoscaler.core.values import parse_float, parse_int32

GROUP = "autoscaling.knative.dev"
CONCURRENCY = "concurrency"
RPS = "rps"
CPU = "cpu"
LINEAR = "linear"
WEIGHTED_EXPONENTIAL = "weighted-exponential"
_ALGORITHMS = {LINEAR: LINEAR, WEIGHTED_EXPONENTIAL: WEIGHTED_EXPONENTIAL, "weightedExponential": WEIGHTED_EXPONENTIAL}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid annotation: the key as written and what was wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class AnnotationKey:
    """An annotation name plus the legacy spelling Knative still reads."""

    name: str
    legacy: str | None = None

    def lookup(self, annotations: Mapping[str, str]) -> tuple[str, str] | None:
        """The (key as written, value) present in ``annotations``, preferring the current name."""
        value = annotations.get(self.name)
        if value is not None:
            return self.name, value
        if self.legacy is not None:
            value = annotations.get(self.legacy)
            if value is not None:
                return self.legacy, value
        return None


def _key(name: str, legacy: str | None = None) -> AnnotationKey:
    return AnnotationKey(f"{GROUP}/{name}", f"{GROUP}/{legacy}" if legacy else None)


CLASS = _key("class")
METRIC = _key("metric")
TARGET = _key("target")
TARGET_UTILIZATION_PERCENTAGE = _key("target-utilization-percentage", "targetUtilizationPercentage")
MIN_SCALE = _key("min-scale", "minScale")
MAX_SCALE = _key("max-scale", "maxScale")
INITIAL_SCALE = _key("initial-scale", "initialScale")
ACTIVATION_SCALE = _key("activation-scale")
WINDOW = _key("window")
PANIC_WINDOW_PERCENTAGE = _key("panic-window-percentage", "panicWindowPercentage")
PANIC_THRESHOLD_PERCENTAGE = _key("panic-threshold-percentage", "panicThresholdPercentage")
TARGET_BURST_CAPACITY = _key("target-burst-capacity", "targetBurstCapacity")
SCALE_DOWN_DELAY = _key("scale-down-delay", "scaleDownDelay")
SCALE_TO_ZERO_POD_RETENTION_PERIOD = _key("scale-to-zero-pod-retention-period", "scaleToZeroPodRetentionPeriod")
METRIC_AGGREGATION_ALGORITHM = _key("metric-aggregation-algorithm", "metricAggregationAlgorithm")
PROGRESS_DEADLINE = AnnotationKey("serving.knative.dev/progress-deadline")


class _Invalid(ValueError):
    """A value outside its range; the message reads after the key."""


def _number(raw: str, low: float, high: float | None = None) -> float:
    allowed = f"a number >= {low:g}" if high is None else f"a number in [{low:g}, {high:g}]"
    try:
        value = parse_float(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise _Invalid(f'must be {allowed}, got "{raw}"')
    return value


def _integer(raw: str, low: int) -> int:
    try:
        value = parse_int32(raw)
    except ValueError:
        value = None
    if value is None or value < low:
        raise _Invalid(f'must be an integer >= {low}, got "{raw}"')
    return value


def _seconds(raw: str, low: float, high: float | None, whole: bool, low_open: bool = False) -> float:
    if high is not None:
        allowed = f"a duration in [{low:g}s, {high / 3600:g}h]"
    else:
        allowed = f"a duration {'>' if low_open else '>='} {low:g}s"
    if whole:
        allowed += " in whole seconds"
    try:
        ns = parse_duration_ns(raw)
    except ValueError:
        raise _Invalid(f'must be {allowed}, got "{raw}"') from None
    seconds = ns / NS_PER_SECOND
    too_low = seconds <= low if low_open else seconds < low
    if too_low or (high is not None and seconds > high) or (whole and ns % NS_PER_SECOND):
        raise _Invalid(f'must be {allowed}, got "{raw}"')
    return seconds


def _target_burst_capacity(raw: str) -> float:
    try:
        value = parse_float(raw)
    except ValueError:
        value = None
    if value is None or (value < 0 and value != -1):
        raise _Invalid(f'must be a number >= 0 or exactly -1, got "{raw}"')
    return value


def _algorithm(raw: str) -> str:
    try:
        return _ALGORITHMS[raw]
    except KeyError:
        raise _Invalid(f'must be "{LINEAR}" or "{WEIGHTED_EXPONENTIAL}", got "{raw}"') from None


# Single-key rules, in the order errors are reported: (field, key, parser).
_RULES: tuple[tuple[str, AnnotationKey, Callable[[str], Any]], ...] = (
    ("target", TARGET, lambda raw: _number(raw, TARGET_MIN)),
    ("target_utilization_percentage", TARGET_UTILIZATION_PERCENTAGE, lambda raw: _number(raw, 1, 100)),
    ("min_scale", MIN_SCALE, lambda raw: _integer(raw, 0)),
    ("max_scale", MAX_SCALE, lambda raw: _integer(raw, 0)),
    ("activation_scale", ACTIVATION_SCALE, lambda raw: _integer(raw, 2)),
    ("window", WINDOW, lambda raw: _seconds(raw, WINDOW_MIN, WINDOW_MAX, whole=True)),
    ("panic_window_percentage", PANIC_WINDOW_PERCENTAGE, lambda raw: _number(raw, 1, 100)),
    ("panic_threshold_percentage", PANIC_THRESHOLD_PERCENTAGE, lambda raw: _number(raw, 110, 1000)),
    ("target_burst_capacity", TARGET_BURST_CAPACITY, _target_burst_capacity),
    ("scale_down_delay", SCALE_DOWN_DELAY, lambda raw: _seconds(raw, 0, WINDOW_MAX, whole=True)),
    ("scale_to_zero_pod_retention", SCALE_TO_ZERO_POD_RETENTION_PERIOD, lambda raw: _seconds(raw, 0, WINDOW_MAX, False)),
    ("progress_deadline", PROGRESS_DEADLINE, lambda raw: _seconds(raw, 0, None, whole=True, low_open=True)),
)


def read_annotations(
    annotations: Mapping[str, str], config: AutoscalerConfig
) -> tuple[dict[str, Any], list[FieldError]]:
    """Parse every autoscaling annotation present.

    Returns the valid values by field name (``class``, ``metric``, ``target``,
    ``min_scale``, ...) and a ``FieldError`` for each invalid one. An invalid
    value is left out of the first result, so callers fall back to the
    ConfigMap default as Knative's accessors do.
    """
    values: dict[str, Any] = {}
    errors: list[FieldError] = []

    found = CLASS.lookup(annotations)
    autoscaler_class = config.pod_autoscaler_class
    if found is not None:
        key, raw = found
        if raw.endswith(".knative.dev") and raw not in (KPA_CLASS, HPA_CLASS):
            errors.append(FieldError(key, f'must be "{KPA_CLASS}" or "{HPA_CLASS}", got "{raw}"'))
        else:
            autoscaler_class = values["class"] = raw

    found = METRIC.lookup(annotations)
    if found is not None:
        key, raw = found
        if autoscaler_class == KPA_CLASS and raw not in (CONCURRENCY, RPS):
            errors.append(FieldError(key, f'must be "{CONCURRENCY}" or "{RPS}" for class {KPA_CLASS}, got "{raw}"'))
        elif autoscaler_class == HPA_CLASS and not raw:
            errors.append(FieldError(key, f"must not be empty for class {HPA_CLASS}"))
        else:
            values["metric"] = raw

    for field, spec_key, parse in _RULES:
        found = spec_key.lookup(annotations)
        if found is not None:
            key, raw = found
            try:
                values[field] = parse(raw)
            except _Invalid as exc:
                errors.append(FieldError(key, str(exc)))

    found = INITIAL_SCALE.lookup(annotations)
    if found is not None:
        key, raw = found
        try:
            values["initial_scale"] = _integer(raw, 0 if config.allow_zero_initial_scale else 1)
        except _Invalid as exc:
            hint = "" if config.allow_zero_initial_scale else " (0 needs allow-zero-initial-scale)"
            errors.append(FieldError(key, f"{exc}{hint}"))

    found = METRIC_AGGREGATION_ALGORITHM.lookup(annotations)
    if found is not None and autoscaler_class == KPA_CLASS:
        key, raw = found
        try:
            values["aggregation"] = _algorithm(raw)
        except _Invalid as exc:
            errors.append(FieldError(key, str(exc)))

    errors.extend(_cross_checks(annotations, values, config))
    return values, errors


def _cross_checks(annotations: Mapping[str, str], values: dict[str, Any], config: AutoscalerConfig) -> list[FieldError]:
    errors: list[FieldError] = []
    low = values.get("min_scale", 0)
    high = values.get("max_scale", 0)
    max_found = MAX_SCALE.lookup(annotations)
    if max_found is not None and "max_scale" in values:
        key = max_found[0]
        limit = config.max_scale_limit
        if high != 0 and high < low:
            errors.append(FieldError(key, f'must be 0 (unbounded) or >= min-scale ({low}), got "{high}"'))
        if limit > 0 and not 1 <= high <= limit:
            errors.append(FieldError(key, f'must be in [1, {limit}] (max-scale-limit; 0 = unbounded is not allowed), got "{high}"'))
    activation = values.get("activation_scale")
    if activation is not None:
        key = ACTIVATION_SCALE.name
        if high > 0 and activation > high:
            errors.append(FieldError(key, f'must be an integer in [2, max-scale ({high})], got "{activation}"'))
        if activation < low:
            errors.append(FieldError(key, f'must be an integer >= min-scale ({low}), got "{activation}"'))
    return errors


def validate_annotations(annotations: Mapping[str, str], config: AutoscalerConfig) -> list[FieldError]:
    """Every problem with a revision's autoscaling annotations; empty when they are valid."""
    return read_annotations(annotations, config)[1]
