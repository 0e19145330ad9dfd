"""Per-revision annotations (``spec.template.metadata.annotations``): autoscaling knobs and the progress deadline.

One table says each annotation's spellings, type, bounds and the autoscaler
classes it applies to; admission validates against it and the autoscaler
reads its values from it (``parse_revision_annotations``), as Knative keeps
``pkg/apis/autoscaling`` for webhook and autoscaler alike. Where Knative still
accepts a legacy camel-case spelling, both are listed and the kebab-case one
wins when both are present.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import keys
from .autoscaling import (
    HPA,
    KPA,
    PANIC_THRESHOLD_PERCENTAGE_MAX,
    PANIC_THRESHOLD_PERCENTAGE_MIN,
    PANIC_WINDOW_PERCENTAGE_MAX,
    PANIC_WINDOW_PERCENTAGE_MIN,
    TARGET_MIN,
    WINDOW_MAX,
    WINDOW_MIN,
    AutoscalerConfig,
)
from .checks import bounds_message, quote
from .durations import NS_PER_SECOND, parse_duration_ns
from .errors import FieldError
from .values import INT32_MAX, parse_float, parse_int32

_G = keys.AUTOSCALING_GROUP
CLASS = (f"{_G}/class",)
METRIC = (f"{_G}/metric",)
TARGET = (f"{_G}/target",)
TARGET_UTILIZATION = (f"{_G}/target-utilization-percentage", f"{_G}/targetUtilizationPercentage")
MIN_SCALE = (f"{_G}/min-scale", f"{_G}/minScale")
MAX_SCALE = (f"{_G}/max-scale", f"{_G}/maxScale")
INITIAL_SCALE = (f"{_G}/initial-scale", f"{_G}/initialScale")
ACTIVATION_SCALE = (f"{_G}/activation-scale",)
WINDOW = (f"{_G}/window",)
PANIC_WINDOW_PERCENTAGE = (f"{_G}/panic-window-percentage", f"{_G}/panicWindowPercentage")
PANIC_THRESHOLD_PERCENTAGE = (f"{_G}/panic-threshold-percentage", f"{_G}/panicThresholdPercentage")
TARGET_BURST_CAPACITY = (f"{_G}/target-burst-capacity", f"{_G}/targetBurstCapacity")
SCALE_DOWN_DELAY = (f"{_G}/scale-down-delay", f"{_G}/scaleDownDelay")
SCALE_TO_ZERO_POD_RETENTION = (f"{_G}/scale-to-zero-pod-retention-period", f"{_G}/scaleToZeroPodRetentionPeriod")
METRIC_AGGREGATION = (f"{_G}/metric-aggregation-algorithm", f"{_G}/metricAggregationAlgorithm")
PROGRESS_DEADLINE = (keys.PROGRESS_DEADLINE_ANNOTATION,)

CONCURRENCY = "concurrency"
RPS = "rps"
CPU = "cpu"
LINEAR = "linear"
WEIGHTED_EXPONENTIAL = "weighted-exponential"
_ALGORITHMS = {LINEAR: LINEAR, WEIGHTED_EXPONENTIAL: WEIGHTED_EXPONENTIAL, "weightedExponential": WEIGHTED_EXPONENTIAL}
_S = NS_PER_SECOND
_DIGITS = re.compile(r"[+-]?[0-9]+")


def get(annotations: Mapping, names: tuple[str, ...]) -> tuple[str, str] | None:
    """The first of ``names`` present with a string value, as ``(key, value)``."""
    for name in names:
        value = annotations.get(name)
        if isinstance(value, str):
            return name, value
    return None


DEFAULT_PROGRESS_DEADLINE = 600
"""Seconds a revision may take to first become ready (Knative's ``config-deployment`` default)."""


def progress_deadline(annotations: Mapping | None, default: int = DEFAULT_PROGRESS_DEADLINE) -> int:
    """Whole seconds from ``serving.knative.dev/progress-deadline`` (validated at admission), else ``default``."""
    found = get(annotations or {}, PROGRESS_DEADLINE)
    if found:
        try:
            seconds = parse_duration_ns(found[1]) // NS_PER_SECOND
        except ValueError:
            seconds = 0
        if seconds > 0:
            return seconds
    return default


def reject_autoscaling(annotations: object, path: str) -> list[FieldError]:
    """Autoscaling annotations do nothing on a Service, Configuration or Route: say where they belong."""
    if not isinstance(annotations, Mapping):
        return []
    return [FieldError(f"{path}[{key}]", 'autoscaling annotations must be put under '
                                         '"spec.template.metadata.annotations" to work')
            for key in annotations if isinstance(key, str) and key.startswith(_G + "/")]


@dataclass(frozen=True, slots=True)
class Annotation:
    """One row of the table: an annotation's spellings, what its value must be, and the field it fills."""

    names: tuple[str, ...]
    """Spellings, the current one first."""
    field: str
    """Key of the value in ``parse_revision_annotations``' result."""
    kind: str
    """``integer`` (int32), ``number`` (float), ``burst`` (a number >= 0, or -1), ``duration`` (Go syntax,
    read as seconds) or ``algorithm`` (a window averaging, read in its kebab-case spelling)."""
    low: float = 0
    """Smallest value; nanoseconds for a duration."""
    high: float | None = None
    """Largest value (nanoseconds for a duration); None = no bound but the type's."""
    whole_seconds: bool = False
    """A duration must be a whole number of seconds."""
    bounds: str = ""
    """The range as messages say it, for durations ("6s and 1h")."""
    classes: tuple[str, ...] | None = None
    """Autoscaler classes the rule applies to; None = every class."""


_INTEGER, _NUMBER, _BURST, _DURATION, _ALGORITHM = "integer", "number", "burst", "duration", "algorithm"

TABLE: tuple[Annotation, ...] = (
    Annotation(TARGET, "target", _NUMBER, low=TARGET_MIN),
    Annotation(TARGET_UTILIZATION, "target_utilization_percentage", _NUMBER, low=1, high=100),
    Annotation(PANIC_WINDOW_PERCENTAGE, "panic_window_percentage", _NUMBER,
               low=PANIC_WINDOW_PERCENTAGE_MIN, high=PANIC_WINDOW_PERCENTAGE_MAX),
    Annotation(PANIC_THRESHOLD_PERCENTAGE, "panic_threshold_percentage", _NUMBER,
               low=PANIC_THRESHOLD_PERCENTAGE_MIN, high=PANIC_THRESHOLD_PERCENTAGE_MAX),
    Annotation(TARGET_BURST_CAPACITY, "target_burst_capacity", _BURST),
    Annotation(MIN_SCALE, "min_scale", _INTEGER, high=INT32_MAX),
    Annotation(MAX_SCALE, "max_scale", _INTEGER, high=INT32_MAX),
    Annotation(INITIAL_SCALE, "initial_scale", _INTEGER, high=INT32_MAX),
    Annotation(ACTIVATION_SCALE, "activation_scale", _INTEGER, high=INT32_MAX),
    Annotation(WINDOW, "window", _DURATION, low=WINDOW_MIN * _S, high=WINDOW_MAX * _S, whole_seconds=True,
               bounds="6s and 1h"),
    Annotation(SCALE_DOWN_DELAY, "scale_down_delay", _DURATION, high=WINDOW_MAX * _S, whole_seconds=True,
               bounds="0s and 1h"),
    Annotation(SCALE_TO_ZERO_POD_RETENTION, "scale_to_zero_pod_retention", _DURATION, high=WINDOW_MAX * _S,
               bounds="0s and 1h"),
    Annotation(PROGRESS_DEADLINE, "progress_deadline", _DURATION, low=1, whole_seconds=True, bounds="1s and forever"),
    # Other classes may have algorithms of their own.
    Annotation(METRIC_AGGREGATION, "aggregation", _ALGORITHM, classes=(KPA,)),
)
"""Every single-value rule, in the order problems are reported; class, metric and cross-key rules follow it."""


class _Reader:
    """Collects the valid values and a ``FieldError`` per problem."""

    def __init__(self, annotations: Mapping, path: str):
        self.annotations = annotations
        self.path = path
        self.values: dict[str, Any] = {}
        self.errors: list[FieldError] = []

    def error(self, key: str, message: str) -> None:
        self.errors.append(FieldError(f"{self.path}[{key}]", message))

    def read(self, row: Annotation) -> None:
        found = get(self.annotations, row.names)
        if not found:
            return
        key, raw = found
        value = _READERS[row.kind](self, row, key, raw)
        if value is not None:
            self.values[row.field] = value

    def integer(self, row: Annotation, key: str, raw: str) -> int | None:
        try:
            value = parse_int32(raw)
        except ValueError:
            if _DIGITS.fullmatch(raw):  # digits, only too many of them (maybe more than int() takes)
                self.error(key, f"must be between {int(row.low)} and {int(row.high)}, got {raw}")
            else:
                self.error(key, f"invalid value {quote(raw)}: expected an integer")
            return None
        if not row.low <= value <= row.high:
            self.error(key, bounds_message(value, int(row.low), int(row.high)))
            return None
        return value

    def number(self, row: Annotation, key: str, raw: str) -> float | None:
        try:
            value = parse_float(raw)
        except ValueError:
            self.error(key, f"invalid value {quote(raw)}: expected a number")
            return None
        if row.high is None and value < row.low:
            self.error(key, f"must be at least {row.low:g}, got {raw}")
        elif row.high is not None and not row.low <= value <= row.high:
            self.error(key, f"must be between {row.low:g} and {row.high:g}, got {raw}")
        else:
            return value
        return None

    def burst(self, row: Annotation, key: str, raw: str) -> float | None:
        try:
            value = parse_float(raw)
        except ValueError:
            value = None
        if value is None or (value < 0 and value != -1):
            self.error(key, f"invalid value {quote(raw)}: expected a number >= 0, or -1 (activator always in path)")
            return None
        return value

    def duration(self, row: Annotation, key: str, raw: str) -> float | None:
        try:
            ns = parse_duration_ns(raw)
        except ValueError:
            self.error(key, f"invalid duration {quote(raw)}: expected e.g. \"30s\", \"5m\", \"1h\"")
            return None
        if not row.low <= ns <= (row.high if row.high is not None else ns):
            self.error(key, f"must be between {row.bounds}, got {raw}")
        elif row.whole_seconds and ns % NS_PER_SECOND:
            self.error(key, f"must be a whole number of seconds, got {raw}")
        else:
            return ns / NS_PER_SECOND
        return None

    def algorithm(self, row: Annotation, key: str, raw: str) -> str | None:
        value = _ALGORITHMS.get(raw)
        if value is None:
            self.error(key, f"invalid value {quote(raw)}: expected one of {', '.join(_ALGORITHMS)}")
        return value


_READERS = {_INTEGER: _Reader.integer, _NUMBER: _Reader.number, _BURST: _Reader.burst, _DURATION: _Reader.duration,
            _ALGORITHM: _Reader.algorithm}


def parse_revision_annotations(annotations: object, config: AutoscalerConfig,
                               path: str = "metadata.annotations") -> tuple[dict[str, Any], list[FieldError]]:
    """Read and check a revision's autoscaling and progress-deadline annotations.

    Returns the valid values by field (``class``, ``metric``, ``min_scale``,
    ``window`` in seconds, ...; see ``TABLE``) and a ``FieldError`` per
    problem, its path ``path[key]``. An invalid value is left out of the
    values, so the autoscaler falls back to the ConfigMap default as
    Knative's accessors do. ``config`` supplies the cluster rules
    (``max-scale-limit``, ``allow-zero-initial-scale``).
    """
    if not isinstance(annotations, Mapping):
        return {}, []
    r = _Reader(annotations, path)
    # Knative checks class-specific rules against the class annotation, KPA when absent.
    klass = get(annotations, CLASS)
    class_value = klass[1] if klass else KPA
    if klass and class_value.endswith(".knative.dev") and class_value not in (KPA, HPA):
        r.error(klass[0], f"invalid value {quote(class_value)}: expected {KPA} or {HPA}")
    elif klass:
        r.values["class"] = class_value

    metric = get(annotations, METRIC)
    if metric:
        if class_value == KPA and metric[1] not in (CONCURRENCY, RPS):
            r.error(metric[0], f"invalid value {quote(metric[1])}: the KPA scales on \"concurrency\" or \"rps\"")
        elif class_value == HPA and not metric[1]:
            r.error(metric[0], "must not be empty")
        else:
            r.values["metric"] = metric[1]

    for row in TABLE:
        if row.classes is None or class_value in row.classes:
            r.read(row)
    _scale_bounds(r, config)
    return r.values, r.errors


HPA_REFUSED = (f"{quote(HPA)} is not supported: this data plane has no HorizontalPodAutoscaler class, so the "
               f"revision would never be scaled; use {quote(KPA)} (the default) with metric \"concurrency\" or \"rps\"")


def validate_revision_annotations(annotations: object, path: str, config: AutoscalerConfig) -> list[FieldError]:
    """Every problem with a revision's annotations; ``path`` ends in ``annotations``.

    Admission also refuses the HPA class, which Knative accepts: nothing here
    would scale such a revision (the autoscaler leaves classes other than the
    KPA alone), so it is refused up front rather than left at its initial scale.
    """
    values, errors = parse_revision_annotations(annotations, config, path)
    if values.get("class") == HPA:
        errors.insert(0, FieldError(f"{path}[{get(annotations, CLASS)[0]}]", HPA_REFUSED))
    return errors


def _scale_bounds(r: _Reader, config: AutoscalerConfig) -> None:
    low = r.values.get("min_scale")
    high = r.values.get("max_scale")
    max_key = (get(r.annotations, MAX_SCALE) or MAX_SCALE)[0]
    if low is not None and high and high < low:
        r.error(max_key, f"max-scale={high} is less than min-scale={low}")
    if high is not None and config.max_scale_limit > 0:
        if high == 0:
            r.error(max_key, f"max-scale=0 (unlimited) is not allowed: the cluster limit is "
                             f"{config.max_scale_limit}")
        elif high > config.max_scale_limit:
            r.error(max_key, bounds_message(high, 1, config.max_scale_limit))

    if r.values.get("initial_scale") == 0 and not config.allow_zero_initial_scale:
        del r.values["initial_scale"]
        r.error(get(r.annotations, INITIAL_SCALE)[0],
                "initial-scale=0 is not allowed by the cluster (allow-zero-initial-scale is false)")

    activation = r.values.get("activation_scale")
    if activation is not None:
        key = get(r.annotations, ACTIVATION_SCALE)[0]
        if activation < 2:
            del r.values["activation_scale"]
            r.error(key, f"activation-scale={activation} must be at least 2")
        elif low is not None and low > activation:
            r.error(key, f"min-scale={low} is greater than activation-scale={activation}")
        elif high and high < activation:
            r.error(key, f"max-scale={high} is less than activation-scale={activation}")
