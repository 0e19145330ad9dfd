"""Per-revision annotations (``spec.template.metadata.annotations``): autoscaling knobs and the progress deadline.

Where Knative still accepts a legacy camel-case spelling, both are listed and
the kebab-case one wins when both are present.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from . import keys
from .checks import bounds_message, quote
from .config import AutoscalerLimits
from .durations import NS_PER_SECOND, parse_duration_ns
from .errors import FieldError

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

KPA = "kpa.autoscaling.knative.dev"
HPA = "hpa.autoscaling.knative.dev"
_ALGORITHMS = ("linear", "weighted-exponential", "weightedExponential")
_HOUR_NS = 3600 * NS_PER_SECOND
_INT32_MAX = 2**31 - 1
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


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


class _Checker:
    def __init__(self, annotations: Mapping, path: str):
        self.annotations = annotations
        self.path = path
        self.errors: list[FieldError] = []

    def error(self, key: str, message: str) -> None:
        self.errors.append(FieldError(f"{self.path}[{key}]", message))

    def integer(self, names: tuple[str, ...], low: int = 0) -> int | None:
        found = get(self.annotations, names)
        if not found:
            return None
        key, raw = found
        if not _INT.match(raw):
            self.error(key, f"invalid value {quote(raw)}: expected an integer")
            return None
        value = int(raw)
        if not low <= value <= _INT32_MAX:
            self.error(key, bounds_message(value, low, _INT32_MAX))
            return None
        return value

    def number(self, names: tuple[str, ...], low: float, high: float | None = None) -> None:
        found = get(self.annotations, names)
        if not found:
            return
        key, raw = found
        if not _FLOAT.match(raw):
            self.error(key, f"invalid value {quote(raw)}: expected a number")
        elif high is None and float(raw) < low:
            self.error(key, f"must be at least {low:g}, got {raw}")
        elif high is not None and not low <= float(raw) <= high:
            self.error(key, f"must be between {low:g} and {high:g}, got {raw}")

    def duration(self, names: tuple[str, ...], low_ns: int, high_ns: int, bounds: str) -> None:
        found = get(self.annotations, names)
        if not found:
            return
        key, raw = found
        try:
            ns = parse_duration_ns(raw)
        except ValueError:
            self.error(key, f"invalid duration {quote(raw)}: expected e.g. \"30s\", \"5m\", \"1h\"")
            return
        if not low_ns <= ns <= high_ns:
            self.error(key, f"must be between {bounds}, got {raw}")
        elif ns % NS_PER_SECOND:
            self.error(key, f"must be a whole number of seconds, got {raw}")


def validate_revision_annotations(annotations: object, path: str, limits: AutoscalerLimits) -> list[FieldError]:
    """Check autoscaling and progress-deadline annotations; ``path`` ends in ``annotations``."""
    if not isinstance(annotations, Mapping):
        return []
    c = _Checker(annotations, path)
    klass = get(annotations, CLASS)
    class_value = klass[1] if klass else KPA
    if klass and class_value.endswith(".knative.dev") and class_value not in (KPA, HPA):
        c.error(klass[0], f"invalid value {quote(class_value)}: expected {KPA} or {HPA}")

    metric = get(annotations, METRIC)
    if metric:
        if class_value == KPA and metric[1] not in ("concurrency", "rps"):
            c.error(metric[0], f"invalid value {quote(metric[1])}: the KPA scales on \"concurrency\" or \"rps\"")
        elif class_value == HPA and not metric[1]:
            c.error(metric[0], "must not be empty")

    c.number(TARGET, 0.01)
    c.number(TARGET_UTILIZATION, 1, 100)
    c.number(PANIC_WINDOW_PERCENTAGE, 1, 100)
    c.number(PANIC_THRESHOLD_PERCENTAGE, 110, 1000)
    tbc = get(annotations, TARGET_BURST_CAPACITY)
    if tbc and (not _FLOAT.match(tbc[1]) or (float(tbc[1]) < 0 and float(tbc[1]) != -1)):
        c.error(tbc[0], f"invalid value {quote(tbc[1])}: expected a number >= 0, or -1 (activator always in path)")

    _scale_bounds(c, limits)
    c.duration(WINDOW, 6 * NS_PER_SECOND, _HOUR_NS, "6s and 1h")
    c.duration(SCALE_DOWN_DELAY, 0, _HOUR_NS, "0s and 1h")
    c.duration(SCALE_TO_ZERO_POD_RETENTION, 0, _HOUR_NS, "0s and 1h")
    c.duration(PROGRESS_DEADLINE, 1, 2**63 - 1, "1s and forever")

    algorithm = get(annotations, METRIC_AGGREGATION)
    if algorithm and class_value == KPA and algorithm[1] not in _ALGORITHMS:
        c.error(algorithm[0], f"invalid value {quote(algorithm[1])}: expected one of {', '.join(_ALGORITHMS)}")
    return c.errors


def _scale_bounds(c: _Checker, limits: AutoscalerLimits) -> None:
    low = c.integer(MIN_SCALE)
    high = c.integer(MAX_SCALE)
    max_key = (get(c.annotations, MAX_SCALE) or MAX_SCALE)[0]
    if low is not None and high and high < low:
        c.error(max_key, f"max-scale={high} is less than min-scale={low}")
    if high is not None and limits.max_scale_limit > 0:
        if high == 0:
            c.error(max_key, f"max-scale=0 (unlimited) is not allowed: the cluster limit is "
                             f"{limits.max_scale_limit}")
        elif high > limits.max_scale_limit:
            c.error(max_key, bounds_message(high, 1, limits.max_scale_limit))

    initial = c.integer(INITIAL_SCALE)
    if initial == 0 and not limits.allow_zero_initial_scale:
        key = get(c.annotations, INITIAL_SCALE)[0]
        c.error(key, "initial-scale=0 is not allowed by the cluster (allow-zero-initial-scale is false)")

    found = get(c.annotations, ACTIVATION_SCALE)
    activation = c.integer(ACTIVATION_SCALE)
    if found and activation is not None:
        if activation < 2:
            c.error(found[0], f"activation-scale={activation} must be at least 2")
        elif low is not None and low > activation:
            c.error(found[0], f"min-scale={low} is greater than activation-scale={activation}")
        elif high and high < activation:
            c.error(found[0], f"max-scale={high} is less than activation-scale={activation}")
