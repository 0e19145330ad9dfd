"""A revision's scaling parameters, resolved from its annotations and ``config-autoscaler``.

This is what Knative spreads over the Decider and Metric specs and the PA's
accessors: target resolution (``resources/target.go``), windows
(``resources/metric.go``), bounds and initial scale (``kpa/resources``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from dataplane.api.annotations import CONCURRENCY, CPU, DEFAULT_PROGRESS_DEADLINE, LINEAR, RPS, parse_revision_annotations
from dataplane.api.autoscaling import HPA, TARGET_MIN, AutoscalerConfig

ACTIVATION_TIMEOUT_BUFFER = 30.0
"""Extra seconds past the progress deadline before activation is given up."""


@dataclass(frozen=True, slots=True)
class ScalingSpec:
    """Everything the decider and the scale-to-zero logic need about one revision."""

    autoscaler_class: str
    """``kpa.autoscaling.knative.dev`` for this core; other classes are scaled elsewhere."""
    metric: str
    """``concurrency`` or ``rps`` (other values only occur for non-KPA classes)."""
    target_value: float
    """Per-pod value to aim for: max(0.01, total_value × target_utilization)."""
    total_value: float
    """Per-pod capacity: containerConcurrency, the metric's default, or the target annotation."""
    target_utilization: float
    """Fraction of total_value to aim for."""
    container_concurrency: int
    """The revision's containerConcurrency; 0 = unlimited."""
    stable_window: float
    """Seconds averaged for normal decisions."""
    panic_window: float
    """Seconds averaged to detect bursts (whole seconds, at least 1)."""
    panic_threshold: float
    """Panic when the panic window needs this many times the ready pods (2.0 = 200 %)."""
    target_burst_capacity: float
    """Spare requests wanted before the activator leaves the path; 0 = never, -1 = always in path."""
    activator_capacity: float
    """Concurrent requests one activator takes."""
    max_scale_up_rate: float
    """Most a tick may multiply the ready pod count by."""
    max_scale_down_rate: float
    """Most a tick may divide the ready pod count by."""
    min_scale: int
    """Lower bound on replicas while the revision is reachable."""
    max_scale: int
    """Upper bound on replicas; 0 = unbounded."""
    initial_scale: int
    """Replicas until the scale target is first initialised."""
    activation_scale: int
    """Replicas to jump to from zero; 1 = no jump."""
    scale_down_delay: float
    """Seconds a lower pod count must persist before it is applied."""
    scale_to_zero_pod_retention: float
    """Seconds the last pod lives on after the revision goes inactive."""
    scale_to_zero_grace_period: float
    """Seconds the activator must be in the path before the last pod goes."""
    enable_scale_to_zero: bool
    """When false a revision never drops below one pod."""
    aggregation: str
    """``linear`` or ``weighted-exponential`` window averaging."""
    activation_timeout: float
    """Seconds a revision may stay activating before it is scaled back to zero."""

    @property
    def scrape_target(self) -> bool:
        """Whether pods are scraped; with TBC -1 only activator stats drive scaling."""
        return self.target_burst_capacity != -1


def panic_window(stable_window: float, percentage: float) -> float:
    """Panic window in whole seconds (half away from zero), never under one bucket."""
    return float(max(1, math.floor(stable_window * percentage / 100.0 + 0.5)))


def resolve_targets(
    metric: str,
    container_concurrency: int,
    config: AutoscalerConfig,
    annotation_target: float | None = None,
    annotation_utilization: float | None = None,
) -> tuple[float, float, float]:
    """(target_value, total_value, target_utilization) exactly as Knative's ``ResolveMetricTarget``.

    ``annotation_utilization`` is a fraction (the percentage annotation / 100).
    """
    if metric == RPS:
        total = config.rps_target_default
        utilization = config.target_utilization
    else:
        total = float(container_concurrency) if container_concurrency > 0 else config.container_concurrency_target_default
        utilization = config.container_concurrency_target_fraction
    if annotation_target is not None:
        total = annotation_target
        # A target above containerConcurrency would aim past what a pod accepts.
        if metric == CONCURRENCY and container_concurrency > 0:
            total = min(annotation_target, float(container_concurrency))
    if annotation_utilization is not None:
        utilization = annotation_utilization
    return max(TARGET_MIN, total * utilization), total, utilization


def resolve_spec(
    annotations: Mapping[str, str],
    config: AutoscalerConfig,
    container_concurrency: int = 0,
    progress_deadline: float = DEFAULT_PROGRESS_DEADLINE,
) -> ScalingSpec:
    """Resolve a revision's scaling parameters.

    Invalid annotations are ignored here (the ConfigMap default applies), as
    Knative's accessors ignore them; admission
    (``dataplane.api.annotations.validate_revision_annotations``) rejects
    them up front. ``progress_deadline`` is the ``config-deployment`` default
    in seconds, overridden by ``serving.knative.dev/progress-deadline``.
    """
    values, _ = parse_revision_annotations(annotations, config)
    autoscaler_class = values.get("class", config.pod_autoscaler_class)
    metric = values.get("metric", CPU if autoscaler_class == HPA else CONCURRENCY)
    utilization_pct = values.get("target_utilization_percentage")
    target_value, total_value, utilization = resolve_targets(
        metric,
        container_concurrency,
        config,
        values.get("target"),
        None if utilization_pct is None else utilization_pct / 100.0,
    )
    stable = values.get("window", config.stable_window)
    initial = values.get("initial_scale", config.initial_scale)
    return ScalingSpec(
        autoscaler_class=autoscaler_class,
        metric=metric,
        target_value=target_value,
        total_value=total_value,
        target_utilization=utilization,
        container_concurrency=container_concurrency,
        stable_window=stable,
        panic_window=panic_window(stable, values.get("panic_window_percentage", config.panic_window_percentage)),
        panic_threshold=values.get("panic_threshold_percentage", config.panic_threshold_percentage) / 100.0,
        target_burst_capacity=values.get("target_burst_capacity", config.target_burst_capacity),
        activator_capacity=config.activator_capacity,
        max_scale_up_rate=config.max_scale_up_rate,
        max_scale_down_rate=config.max_scale_down_rate,
        min_scale=values.get("min_scale", config.min_scale),
        max_scale=values.get("max_scale", config.max_scale),
        initial_scale=initial,
        activation_scale=values.get("activation_scale", 1),
        scale_down_delay=values.get("scale_down_delay", config.scale_down_delay),
        scale_to_zero_pod_retention=values.get("scale_to_zero_pod_retention", config.scale_to_zero_pod_retention_period),
        scale_to_zero_grace_period=config.scale_to_zero_grace_period,
        enable_scale_to_zero=config.enable_scale_to_zero,
        aggregation=values.get("aggregation", LINEAR),
        activation_timeout=values.get("progress_deadline", progress_deadline) + ACTIVATION_TIMEOUT_BUFFER,
    )
