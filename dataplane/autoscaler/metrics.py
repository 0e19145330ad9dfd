"""Prometheus metrics of the autoscaler in either dialect, gathered from the service's state at scrape time.

Names follow Knative's autoscaler: ``autoscaler_desired_pods`` and so on (OpenCensus), or
``kn.revision.pods.desired`` and so on (OpenTelemetry), labelled by the revision's namespace,
service, configuration and name.
"""

from __future__ import annotations

from dataplane.api.annotations import RPS
from dataplane.autoscaler.scraper import DURATION_BUCKETS
from dataplane.autoscaler.service import AutoscalerService
from dataplane.exposition import CONTENT_TYPE, COUNTER, GAUGE, HISTOGRAM, Instrument, Sheet

__all__ = ["CONTENT_TYPE", "INSTRUMENTS", "render"]


def _gauge(oc: str, otel: str, unit: str, text: str) -> Instrument:
    return Instrument(oc, otel, GAUGE, unit, text)


DESIRED = _gauge("autoscaler_desired_pods", "kn.revision.pods.desired", "{item}", "Number of pods autoscaler wants to allocate")
REQUESTED = _gauge("autoscaler_requested_pods", "kn.revision.pods.requested", "{pod}", "Number of pods autoscaler requested from Kubernetes")
ACTUAL = _gauge("autoscaler_actual_pods", "kn.revision.pods.count", "{pod}", "Number of pods that are allocated currently in ready state")
NOT_READY = _gauge("autoscaler_not_ready_pods", "kn.revision.pods.not_ready.count", "{pod}", "Number of pods that are not ready currently")
EXCESS = _gauge(
    "autoscaler_excess_burst_capacity", "kn.revision.capacity.excess", "{concurrency}", "Excess burst capacity observed over the stable window"
)
PANIC = _gauge("autoscaler_panic_mode", "kn.revision.panic.mode", "", "1 if autoscaler is in panic mode, 0 otherwise")
STABLE_CONCURRENCY = _gauge(
    "autoscaler_stable_request_concurrency", "kn.revision.concurrency.stable", "{concurrency}",
    "Average of requests count per observed pod over the stable window",
)  # fmt: skip
PANIC_CONCURRENCY = _gauge(
    "autoscaler_panic_request_concurrency", "kn.revision.concurrency.panic", "{concurrency}",
    "Average of requests count per observed pod over the panic window",
)  # fmt: skip
TARGET_CONCURRENCY = _gauge(
    "autoscaler_target_concurrency_per_pod", "kn.revision.concurrency.target", "{concurrency}",
    "The desired number of concurrent requests for each pod",
)  # fmt: skip
STABLE_RPS = _gauge(
    "autoscaler_stable_requests_per_second", "kn.revision.rps.stable", "{request}/s",
    "Average requests-per-second per observed pod over the stable window",
)  # fmt: skip
PANIC_RPS = _gauge(
    "autoscaler_panic_requests_per_second", "kn.revision.rps.panic", "{request}/s",
    "Average requests-per-second per observed pod over the panic window",
)  # fmt: skip
TARGET_RPS = _gauge(
    "autoscaler_target_requests_per_second", "kn.revision.rps.target", "{request}/s", "The desired requests-per-second for each pod"
)
SCRAPE_DURATION = Instrument(
    "autoscaler_scrape_latencies", "kn.autoscaler.scrape.duration", HISTOGRAM, "s", "The duration of scraping the revision"
)
SCRAPE_ERRORS = Instrument(
    "autoscaler_scrape_error_count", "kn.autoscaler.scrape.errors", COUNTER, "{scrape}",
    "Pod scrapes that failed or did not answer within the round",
)  # fmt: skip
STATS_RECEIVED = Instrument(
    "autoscaler_stats_received_count", "kn.autoscaler.stats.received", COUNTER, "{stat}", "Pushed stats recorded for a scaled revision"
)
STATS_UNKNOWN = Instrument(
    "autoscaler_stats_unknown_revision_count", "kn.autoscaler.stats.unknown_revision", COUNTER, "{stat}",
    "Pushed stats for revisions this autoscaler does not scale",
)  # fmt: skip
FRAMES_REJECTED = Instrument(
    "autoscaler_stat_frames_rejected_count", "kn.autoscaler.stats.frames_rejected", COUNTER, "{frame}",
    "Stat frames that could not be decoded",
)  # fmt: skip
INSTRUMENTS = (
    DESIRED, REQUESTED, ACTUAL, NOT_READY, EXCESS, PANIC, STABLE_CONCURRENCY, PANIC_CONCURRENCY, TARGET_CONCURRENCY,
    STABLE_RPS, PANIC_RPS, TARGET_RPS, SCRAPE_DURATION, SCRAPE_ERRORS, STATS_RECEIVED, STATS_UNKNOWN, FRAMES_REJECTED,
)  # fmt: skip


def render(service: AutoscalerService, dialect: str) -> bytes:
    """Every revision's latest decision and scrape tally as Prometheus text in ``dialect``."""
    sheet = Sheet(dialect)
    for key, revision in sorted(service.revisions.items()):
        info = revision.info
        labels = {
            "namespace": key[0],
            "service": getattr(info, "service", ""),
            "configuration": getattr(info, "configuration", ""),
            "revision": key[1],
        }
        tally = revision.tally
        sheet.add(SCRAPE_ERRORS, labels, tally.errors)
        sheet.observe(SCRAPE_DURATION, labels, DURATION_BUCKETS, tally.bucket_counts, tally.duration_sum)
        sheet.add(NOT_READY, labels, len(info.pods) - revision.ready)
        if revision.requested is not None:
            sheet.add(REQUESTED, labels, revision.requested)
        outcome = revision.latest
        if outcome is None:
            continue
        sheet.add(DESIRED, labels, outcome.desired)
        sheet.add(ACTUAL, labels, outcome.ready)
        sheet.add(EXCESS, labels, outcome.excess_burst_capacity)
        sheet.add(PANIC, labels, 1 if outcome.panic else 0)
        sheet.add(STABLE_CONCURRENCY, labels, outcome.stable_concurrency)
        sheet.add(PANIC_CONCURRENCY, labels, outcome.panic_concurrency)
        if outcome.metric == RPS:
            sheet.add(STABLE_RPS, labels, outcome.stable_rps or 0.0)
            sheet.add(PANIC_RPS, labels, outcome.panic_rps or 0.0)
            sheet.add(TARGET_RPS, labels, outcome.target)
        else:
            sheet.add(TARGET_CONCURRENCY, labels, outcome.target)
    stats = service.stats
    sheet.add(STATS_RECEIVED, {}, stats.received)
    sheet.add(STATS_UNKNOWN, {}, stats.unknown)
    sheet.add(FRAMES_REJECTED, {}, stats.rejected_frames)
    return sheet.render()
