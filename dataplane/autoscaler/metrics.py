"""Prometheus metrics of the autoscaler, gathered from the service's state at scrape time.

Names follow Knative's autoscaler exporter (``autoscaler_desired_pods`` and
so on), labelled by ``namespace_name`` and ``revision_name``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from dataplane.api.annotations import RPS
from dataplane.autoscaler.scraper import DURATION_BUCKETS
from dataplane.autoscaler.service import AutoscalerService

LABELS = ["namespace_name", "revision_name"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_GAUGES = (
    ("autoscaler_desired_pods", "Pods the autoscaler wants, after bounds and scale-to-zero rules"),
    ("autoscaler_actual_pods", "Ready pods the last decision saw"),
    ("autoscaler_excess_burst_capacity", "Spare capacity beyond the target burst capacity"),
    ("autoscaler_panic_mode", "1 while the revision is in panic mode"),
    ("autoscaler_stable_request_concurrency", "Average concurrent requests over the stable window"),
    ("autoscaler_panic_request_concurrency", "Average concurrent requests over the panic window"),
    ("autoscaler_target_concurrency_per_pod", "Concurrent requests per pod the autoscaler aims for"),
    ("autoscaler_stable_requests_per_second", "Average requests per second over the stable window"),
    ("autoscaler_panic_requests_per_second", "Average requests per second over the panic window"),
    ("autoscaler_target_requests_per_second", "Requests per second per pod the autoscaler aims for"),
)


class AutoscalerCollector:
    """A prometheus_client collector over an ``AutoscalerService``."""

    def __init__(self, service: AutoscalerService) -> None:
        self.service = service

    def collect(self):
        """Yield every metric family from the service's current state."""
        families = {name: GaugeMetricFamily(name, text, labels=LABELS) for name, text in _GAUGES}
        durations = HistogramMetricFamily(
            "autoscaler_scrape_duration_seconds", "Time to scrape a revision's sample of pods", labels=LABELS
        )
        errors = CounterMetricFamily(
            "autoscaler_scrape_errors", "Pod scrapes that failed or did not answer within the round", labels=LABELS
        )
        for key, revision in sorted(self.service.revisions.items()):
            labels = list(key)
            tally = revision.tally
            errors.add_metric(labels, tally.errors)
            buckets, running = [], 0
            for bound, count in zip(DURATION_BUCKETS, tally.bucket_counts):
                running += count
                buckets.append((repr(bound), running))
            buckets.append(("+Inf", running + tally.bucket_counts[-1]))
            durations.add_metric(labels, buckets, tally.duration_sum)
            outcome = revision.latest
            if outcome is None:
                continue
            families["autoscaler_desired_pods"].add_metric(labels, outcome.desired)
            families["autoscaler_actual_pods"].add_metric(labels, outcome.ready)
            families["autoscaler_excess_burst_capacity"].add_metric(labels, outcome.excess_burst_capacity)
            families["autoscaler_panic_mode"].add_metric(labels, 1 if outcome.panic else 0)
            families["autoscaler_stable_request_concurrency"].add_metric(labels, outcome.stable_concurrency)
            families["autoscaler_panic_request_concurrency"].add_metric(labels, outcome.panic_concurrency)
            if outcome.metric == RPS:
                families["autoscaler_stable_requests_per_second"].add_metric(labels, outcome.stable_rps or 0.0)
                families["autoscaler_panic_requests_per_second"].add_metric(labels, outcome.panic_rps or 0.0)
                families["autoscaler_target_requests_per_second"].add_metric(labels, outcome.target)
            else:
                families["autoscaler_target_concurrency_per_pod"].add_metric(labels, outcome.target)
        yield from families.values()
        yield durations
        yield errors
        stats = self.service.stats
        for name, value, text in (
            ("autoscaler_stats_received", stats.received, "Pushed stats recorded for a scaled revision"),
            ("autoscaler_stats_unknown_revision", stats.unknown, "Pushed stats for revisions this autoscaler does not scale"),
            ("autoscaler_stat_frames_rejected", stats.rejected_frames, "Stat frames that could not be decoded"),
        ):
            family = CounterMetricFamily(name, text)
            family.add_metric([], value)
            yield family


def registry_for(service: AutoscalerService) -> CollectorRegistry:
    """A registry holding only the service's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AutoscalerCollector(service))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus text format."""
    return generate_latest(registry)
