"""One revision as the autoscaler service tracks it: directory view, decision core, PA state."""

from __future__ import annotations

from dataplane.api.annotations import CONCURRENCY, RPS
from dataplane.autoscaler.core import PodAutoscalerState, RevisionAutoscaler, ScaleDecision, ScalingSpec
from dataplane.autoscaler.outcome import RevisionScale
from dataplane.autoscaler.scraper import ScrapeTally
from dataplane.directory import RevisionInfo

_RECONCILE_PASSES = 4
"""A mode or activity change re-runs the PA reconcile (Knative requeues on its own status change)."""


def ready_pods(info: RevisionInfo) -> int:
    """Pods of the revision the directory reports ready."""
    return sum(1 for pod in info.pods if pod.ready)


class ScaledRevision:
    """Decision core, PodAutoscaler state, latest outcome and scrape counters of one revision."""

    __slots__ = ("info", "spec", "ready", "autoscaler", "pa", "latest", "requested", "published", "scraping", "last_scrape_second", "tally")

    def __init__(self, info: RevisionInfo, spec: ScalingSpec, now: float) -> None:
        self.info = info
        self.spec = spec
        self.ready = ready_pods(info)
        # Ready pods at creation: after a restart a loaded revision starts in
        # panic with its pods as the floor instead of being scaled down.
        self.autoscaler = RevisionAutoscaler(spec, now, self.ready)
        self.pa = PodAutoscalerState(now)
        self.latest: RevisionScale | None = None
        """The last evaluation, published or not."""
        self.requested: int | None = None
        """The replicas last asked of the workload (Knative's ``requested_pods``); None before the first."""
        self.published: tuple | None = None
        """``publish_key`` of the last outcome handed to the scale target."""
        self.scraping = False
        """A scrape round is in flight."""
        self.last_scrape_second: int | None = None
        self.tally = ScrapeTally()

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, name)."""
        return self.info.key

    def refresh(self, info: RevisionInfo, spec: ScalingSpec, now: float) -> None:
        """Adopt a newer directory entry and the spec resolved from it."""
        self.info = info
        self.ready = ready_pods(info)
        if spec != self.spec:
            self.spec = spec
            self.autoscaler.update(spec, now)

    def evaluate(self, now: float) -> RevisionScale:
        """Decide at ``now`` and run the scale-to-zero state machine; the result is also kept in ``latest``."""
        spec = self.spec
        autoscaler = self.autoscaler
        pa = self.pa
        # Every revision counts as reachable (routing state is not in the
        # directory), and the local activator carries all traffic, so it is
        # always in the path.
        decision = autoscaler.tick(now, self.ready, reachable=True)
        replicas = None
        for _ in range(_RECONCILE_PASSES):
            before = (pa.mode, pa.activity)
            outcome = pa.reconcile(
                spec,
                now,
                desired=autoscaler.desired,
                excess_burst_capacity=autoscaler.excess_burst_capacity,
                ready=self.ready,
                reachable=True,
                activator_in_path=True,
            )
            if outcome.replicas is not None:
                replicas = outcome.replicas
            if (pa.mode, pa.activity) == before:
                break
        if replicas is not None:
            self.requested = replicas
        self.latest = latest = RevisionScale(
            namespace=self.info.namespace,
            name=self.info.name,
            desired=outcome.want,
            replicas=replicas,
            ready=self.ready,
            excess_burst_capacity=autoscaler.excess_burst_capacity,
            panic=autoscaler.decider.panicking,
            metric=spec.metric,
            **self._values(decision, now),
            target=spec.target_value,
            reason=_reason(outcome.reason, decision),
            mode=outcome.mode,
            activity=outcome.activity,
            decided_at=now,
        )
        return latest

    def _values(self, decision: ScaleDecision | None, now: float) -> dict:
        """Window averages for the outcome: the decision's metric, plus concurrency for rps revisions."""
        if self.spec.metric == RPS:
            concurrency = self.autoscaler.metrics.stable_and_panic(CONCURRENCY, now) or (0.0, 0.0)
            rps = (decision.stable_value, decision.panic_value) if decision is not None else (0.0, 0.0)
            return {
                "stable_concurrency": concurrency[0],
                "panic_concurrency": concurrency[1],
                "stable_rps": rps[0],
                "panic_rps": rps[1],
            }
        if decision is None:
            return {"stable_concurrency": 0.0, "panic_concurrency": 0.0, "stable_rps": None, "panic_rps": None}
        return {
            "stable_concurrency": decision.stable_value,
            "panic_concurrency": decision.panic_value,
            "stable_rps": None,
            "panic_rps": None,
        }


def _reason(pa_reason: str, decision: ScaleDecision | None) -> str:
    # "scale" only says the PA passed the value on; the decider knows why.
    if pa_reason != "scale":
        return pa_reason
    return decision.reason if decision is not None else "no metrics in the stable window"
