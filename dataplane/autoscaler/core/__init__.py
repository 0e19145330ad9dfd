"""The autoscaler's decision core: Knative's KPA maths with an injected clock and no I/O.

Typical use by the service layer, per revision::

    spec = resolve_spec(annotations, config, container_concurrency)
    scaler = RevisionAutoscaler(spec, now, ready_pods)
    state = PodAutoscalerState(now)

    poke = scaler.record_scraped(stat, now)      # or record_pushed(...)
    decision = scaler.tick(now, ready)           # every TICK_INTERVAL, or on poke
    if decision is not None and decision.changed:
        outcome = state.reconcile(spec, now, desired=decision.desired,
                                  excess_burst_capacity=decision.excess_burst_capacity,
                                  ready=ready)

The rules it reads (``config-autoscaler``, the autoscaling annotations,
durations) live in ``dataplane.api``, shared with admission; the ``Stat`` it
records is the wire type of ``dataplane.stats.wire``.
"""

from dataplane.autoscaler.core.decider import TICK_INTERVAL, Decider, ScaleDecision
from dataplane.autoscaler.core.metrics import RevisionMetrics
from dataplane.autoscaler.core.revision import RevisionAutoscaler
from dataplane.autoscaler.core.sampling import sample_size, scale_to_population
from dataplane.autoscaler.core.scaler import Activity, PodAutoscalerState, ScaleOutcome, ServingMode
from dataplane.autoscaler.core.spec import ScalingSpec, resolve_spec

__all__ = [
    "TICK_INTERVAL",
    "Activity",
    "Decider",
    "PodAutoscalerState",
    "RevisionAutoscaler",
    "RevisionMetrics",
    "ScaleDecision",
    "ScaleOutcome",
    "ScalingSpec",
    "ServingMode",
    "resolve_spec",
    "sample_size",
    "scale_to_population",
]
