"""The ``config-autoscaler`` ConfigMap: typed, defaulted and validated once, for admission and the autoscaler.

Keys, defaults, ranges and cross-key rules follow Knative's
``pkg/autoscaler/config``; the bounds shared with the per-revision
annotations (``annotations.py``) are defined here. Durations are held as
seconds (float); percentages that Knative turns into fractions are held as
fractions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import keys
from .durations import NS_PER_SECOND, format_seconds, parse_duration_ns
from .errors import ConfigError
from .values import parse_bool, parse_float, parse_int32

AUTOSCALER_CONFIGMAP = "config-autoscaler"
KPA = f"kpa.{keys.AUTOSCALING_GROUP}"
HPA = f"hpa.{keys.AUTOSCALING_GROUP}"
TARGET_MIN = 0.01
"""Smallest per-pod target any resolution may yield."""
WINDOW_MIN = 6.0
"""Shortest stable window, seconds."""
WINDOW_MAX = 3600.0
"""Longest stable window (and scale-down delay, pod retention), seconds."""
PANIC_WINDOW_PERCENTAGE_MIN = 1.0
PANIC_WINDOW_PERCENTAGE_MAX = 100.0
PANIC_THRESHOLD_PERCENTAGE_MIN = 110.0
PANIC_THRESHOLD_PERCENTAGE_MAX = 1000.0
DEFAULT_TARGET_UTILIZATION = 0.7


@dataclass(frozen=True, slots=True)
class AutoscalerConfig:
    """Cluster-wide autoscaling defaults (``config-autoscaler``); invalid values raise ``ConfigError``."""

    enable_scale_to_zero: bool = True
    """``enable-scale-to-zero``: when false the last pod is never removed."""
    container_concurrency_target_fraction: float = 0.7
    """``container-concurrency-target-percentage`` as a fraction in (0, 1]."""
    container_concurrency_target_default: float = 100.0
    """``container-concurrency-target-default``: requests per pod when containerConcurrency is 0."""
    target_utilization: float = DEFAULT_TARGET_UTILIZATION
    """Utilisation for the rps metric (fraction); fixed in Knative, not read from the ConfigMap."""
    rps_target_default: float = 200.0
    """``requests-per-second-target-default``: requests per second per pod."""
    target_burst_capacity: float = 211.0
    """``target-burst-capacity``: spare requests kept before the activator leaves the path; -1 = always in path."""
    activator_capacity: float = 100.0
    """``activator-capacity``: concurrent requests one activator takes, for subsetting."""
    allow_zero_initial_scale: bool = False
    """``allow-zero-initial-scale``: whether initial scale (here and in annotations) may be 0."""
    initial_scale: int = 1
    """``initial-scale``: replicas a new revision starts with."""
    min_scale: int = 0
    """``min-scale``: default lower bound on replicas."""
    max_scale: int = 0
    """``max-scale``: default upper bound on replicas; 0 = unbounded."""
    max_scale_limit: int = 0
    """``max-scale-limit``: ceiling for any max-scale, here and in annotations; 0 = none."""
    max_scale_up_rate: float = 1000.0
    """``max-scale-up-rate``: most a tick may multiply the ready pod count by."""
    max_scale_down_rate: float = 2.0
    """``max-scale-down-rate``: most a tick may divide the ready pod count by."""
    stable_window: float = 60.0
    """``stable-window`` in seconds (whole seconds, 6 s to 1 h)."""
    panic_window_percentage: float = 10.0
    """``panic-window-percentage``: panic window as a percentage of the stable window."""
    panic_threshold_percentage: float = 200.0
    """``panic-threshold-percentage``: panic when the panic window needs this % of ready pods."""
    scale_to_zero_grace_period: float = 30.0
    """``scale-to-zero-grace-period`` in seconds: activator time in path before the last pod goes."""
    scale_to_zero_pod_retention_period: float = 0.0
    """``scale-to-zero-pod-retention-period`` in seconds: minimum life of the last pod once inactive."""
    scale_down_delay: float = 0.0
    """``scale-down-delay`` in seconds (whole seconds): a decrease waits this long at reduced load."""
    pod_autoscaler_class: str = KPA
    """``pod-autoscaler-class``: class for revisions without the class annotation."""

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_map(cls, data: Mapping[str, str]) -> AutoscalerConfig:
        """Build from a ConfigMap's ``data``; unknown keys (e.g. ``_example``) are ignored."""
        values: dict[str, object] = {}
        for key, (field_name, parse) in KEYS.items():
            raw = data.get(key)
            if raw is None:
                continue
            if not isinstance(raw, str):
                raise ConfigError(AUTOSCALER_CONFIGMAP, key, f"must be a string, got {type(raw).__name__}")
            try:
                # Knative trims space around numbers, booleans and durations, not around strings.
                values[field_name] = parse(raw) if parse is str else parse(raw.strip())
            except ValueError:
                raise ConfigError(AUTOSCALER_CONFIGMAP, key, f"cannot parse {raw!r} as {_KINDS[parse]}") from None
        fraction = values.get("container_concurrency_target_fraction")
        # Knative accepts a fraction in (0, 1] or a percentage above 1.
        if isinstance(fraction, float) and fraction > 1.0:
            values["container_concurrency_target_fraction"] = fraction / 100.0
        return cls(**values)  # type: ignore[arg-type]


def _seconds(raw: str) -> float:
    return parse_duration_ns(raw) / NS_PER_SECOND


_KINDS: dict[Callable[[str], object], str] = {
    parse_bool: "a boolean",
    parse_float: "a number",
    parse_int32: "an integer",
    _seconds: "a duration such as 60s or 1m30s",
    str: "a string",
}

KEYS: dict[str, tuple[str, Callable[[str], object]]] = {
    # ConfigMap key -> (field, parser)
    "pod-autoscaler-class": ("pod_autoscaler_class", str),
    "enable-scale-to-zero": ("enable_scale_to_zero", parse_bool),
    "allow-zero-initial-scale": ("allow_zero_initial_scale", parse_bool),
    "max-scale-up-rate": ("max_scale_up_rate", parse_float),
    "max-scale-down-rate": ("max_scale_down_rate", parse_float),
    "container-concurrency-target-percentage": ("container_concurrency_target_fraction", parse_float),
    "container-concurrency-target-default": ("container_concurrency_target_default", parse_float),
    "requests-per-second-target-default": ("rps_target_default", parse_float),
    "target-burst-capacity": ("target_burst_capacity", parse_float),
    "panic-window-percentage": ("panic_window_percentage", parse_float),
    "activator-capacity": ("activator_capacity", parse_float),
    "panic-threshold-percentage": ("panic_threshold_percentage", parse_float),
    "initial-scale": ("initial_scale", parse_int32),
    "min-scale": ("min_scale", parse_int32),
    "max-scale": ("max_scale", parse_int32),
    "max-scale-limit": ("max_scale_limit", parse_int32),
    "stable-window": ("stable_window", _seconds),
    "scale-down-delay": ("scale_down_delay", _seconds),
    "scale-to-zero-grace-period": ("scale_to_zero_grace_period", _seconds),
    "scale-to-zero-pod-retention-period": ("scale_to_zero_pod_retention_period", _seconds),
}


def _error(key: str, message: str) -> ConfigError:
    return ConfigError(AUTOSCALER_CONFIGMAP, key, message)


def _validate(c: AutoscalerConfig) -> None:
    """Raise ``ConfigError`` for the first invalid value, in Knative's order."""
    if c.scale_to_zero_grace_period <= 0:
        raise _error("scale-to-zero-grace-period", f"must be > 0s, got {format_seconds(c.scale_to_zero_grace_period)}")
    if c.scale_down_delay < 0 or not float(c.scale_down_delay).is_integer():
        raise _error("scale-down-delay", f"must be >= 0s in whole seconds, got {format_seconds(c.scale_down_delay)}")
    if c.scale_to_zero_pod_retention_period < 0:
        raise _error("scale-to-zero-pod-retention-period",
                     f"must be >= 0s, got {format_seconds(c.scale_to_zero_pod_retention_period)}")
    if c.target_burst_capacity < 0 and c.target_burst_capacity != -1:
        raise _error("target-burst-capacity", f"must be >= 0 or exactly -1, got {c.target_burst_capacity:g}")
    if not 0 < c.container_concurrency_target_fraction <= 1:
        raise _error("container-concurrency-target-percentage",
                     "must be in (0, 100] (values <= 1 are fractions), "
                     f"got {c.container_concurrency_target_fraction * 100:g}")
    target = c.container_concurrency_target_fraction * c.container_concurrency_target_default
    if target < TARGET_MIN:
        raise _error("container-concurrency-target-default",
                     f"times container-concurrency-target-percentage must be >= {TARGET_MIN:g}, got {target:g}")
    if c.rps_target_default < TARGET_MIN:
        raise _error("requests-per-second-target-default", f"must be >= {TARGET_MIN:g}, got {c.rps_target_default:g}")
    if c.activator_capacity < 1:
        raise _error("activator-capacity", f"must be >= 1, got {c.activator_capacity:g}")
    if c.max_scale_up_rate <= 1:
        raise _error("max-scale-up-rate", f"must be > 1, got {c.max_scale_up_rate:g}")
    if c.max_scale_down_rate <= 1:
        raise _error("max-scale-down-rate", f"must be > 1, got {c.max_scale_down_rate:g}")
    if not WINDOW_MIN <= c.stable_window <= WINDOW_MAX or not float(c.stable_window).is_integer():
        raise _error("stable-window", f"must be in [6s, 1h] in whole seconds, got {format_seconds(c.stable_window)}")
    if not PANIC_WINDOW_PERCENTAGE_MIN <= c.panic_window_percentage <= PANIC_WINDOW_PERCENTAGE_MAX:
        raise _error("panic-window-percentage", f"must be in [1, 100], got {c.panic_window_percentage:g}")
    lowest_initial = 0 if c.allow_zero_initial_scale else 1
    if c.initial_scale < lowest_initial:
        hint = "" if c.allow_zero_initial_scale else " (0 needs allow-zero-initial-scale)"
        raise _error("initial-scale", f"must be >= {lowest_initial}{hint}, got {c.initial_scale}")
    if c.max_scale_limit < 0:
        raise _error("max-scale-limit", f"must be >= 0, got {c.max_scale_limit}")
    if c.max_scale_limit > 0:
        # A cluster with a limit needs a default max-scale within it.
        if not 1 <= c.max_scale <= c.max_scale_limit:
            raise _error("max-scale", f"must be in [1, {c.max_scale_limit}] (max-scale-limit), got {c.max_scale}")
    elif c.max_scale < 0:
        raise _error("max-scale", f"must be >= 0 (0 = unbounded), got {c.max_scale}")
    if c.min_scale < 0 or (c.max_scale > 0 and c.min_scale > c.max_scale):
        bound = f"be in [0, {c.max_scale}] (max-scale)" if c.max_scale > 0 else "be >= 0"
        raise _error("min-scale", f"must {bound}, got {c.min_scale}")
