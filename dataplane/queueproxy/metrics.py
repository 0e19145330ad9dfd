"""Prometheus metrics of the queue-proxy in either dialect, gathered from the policy's plain counters at scrape time.

Knative measures the whole request (``revision_request_*``; OpenTelemetry: otelhttp's
``http.server.request.duration``) and, separately, the part after the breaker
(``revision_app_request_*``; ``kn.serving.invocation.duration``). The hot path here keeps
one latency histogram, from the request head to the end of the response, so the app
histograms are the same histogram (for a revision with containerConcurrency 0, the
default, the two are the same thing); the app counts leave out the requests the
queue-proxy answered itself with 503 because its queue was full.
"""

from __future__ import annotations

from dataplane.exposition import COUNTER, GAUGE, HISTOGRAM, Instrument, Sheet, status_class
from dataplane.queueproxy.policy import LATENCY_BUCKETS, QueueProxyPolicy

CONTAINER = "queue-proxy"

# OpenTelemetry has no request counter (a histogram's _count is one) but no histogram here is by
# status code, so the per-code counts keep a name of ours in that dialect
REQUEST_COUNT = Instrument(
    "revision_request_count", "kn.serving.requests", COUNTER, "{request}", "The number of requests that are routed to queue-proxy"
)
REQUEST_LATENCIES = Instrument(
    "revision_request_latencies", "http.server.request.duration", HISTOGRAM, "s", "Time to serve a request, queueing included"
)
APP_COUNT = Instrument("revision_app_request_count", None, COUNTER, "{request}", "The number of requests that are routed to user-container")
APP_LATENCIES = Instrument(
    "revision_app_request_latencies", "kn.serving.invocation.duration", HISTOGRAM, "s", "The duration of the task execution"
)
QUEUE_DEPTH = Instrument(
    "revision_queue_depth", "kn.serving.queue.depth", GAUGE, "{request}", "Number of current items in the queue proxy queue"
)
IN_FLIGHT = Instrument(
    "revision_in_flight_requests", "http.server.active_requests", GAUGE, "{request}", "Requests in the queue-proxy, queued ones included"
)
WAITING = Instrument(
    "revision_queue_waiting_requests", "kn.serving.queue.waiting", GAUGE, "{request}", "Requests waiting for a concurrency slot"
)
EXTRA_COUNTERS = (
    ("rejected_bad_input", Instrument(
        "revision_request_rejected_count", "kn.serving.request.rejected", COUNTER, "{request}",
        "Malformed requests answered 400/408/431 and closed")),
    ("queue_full", Instrument(
        "revision_request_shed_count", "kn.serving.request.shed", COUNTER, "{request}",
        "Requests answered 503 because the queue was full")),
    ("timeouts", Instrument(
        "revision_request_timeout_count", "kn.serving.request.timeouts", COUNTER, "{request}",
        "Requests that ran past a revision timeout")),
    ("upstream_errors", Instrument(
        "revision_app_error_count", "kn.serving.app.errors", COUNTER, "{request}",
        "Requests the app refused or dropped (502)")),
    ("aborted", Instrument(
        "revision_request_aborted_count", "kn.serving.request.aborted", COUNTER, "{request}",
        "Requests whose client went away first")),
)  # fmt: skip
INSTRUMENTS = (REQUEST_COUNT, REQUEST_LATENCIES, APP_COUNT, APP_LATENCIES, QUEUE_DEPTH, IN_FLIGHT, WAITING) + tuple(
    i for _, i in EXTRA_COUNTERS
)


def resource_labels(policy: QueueProxyPolicy) -> dict[str, str]:
    """The labels of every series: the pod's revision and the container (Knative's resource attributes)."""
    s = policy.settings
    return {
        "namespace": s.namespace,
        "service": s.service,
        "configuration": s.configuration,
        "revision": s.revision,
        "pod": s.pod,
        "container": CONTAINER,
    }


def render(policy: QueueProxyPolicy, dialect: str) -> bytes:
    """The policy's counters as Prometheus text in ``dialect``."""
    sheet = Sheet(dialect)
    m = policy.metrics
    base = resource_labels(policy)
    shed_503 = m.queue_full
    for code, count in enumerate(m.by_code):
        if count:
            labels = {**base, "code": code, "code_class": status_class(code)}
            sheet.add(REQUEST_COUNT, labels, count)
            app = count - shed_503 if code == 503 else count
            if app:
                sheet.add(APP_COUNT, labels, app)
    sheet.observe(REQUEST_LATENCIES, base, LATENCY_BUCKETS, m.latency_counts, m.latency_sum)
    sheet.observe(APP_LATENCIES, base, LATENCY_BUCKETS, m.latency_counts, m.latency_sum)
    breaker = policy.breaker
    if breaker is not None:  # Knative reports no queue depth for unlimited concurrency
        sheet.add(QUEUE_DEPTH, base, policy.in_flight)
    sheet.add(IN_FLIGHT, base, policy.in_flight)
    sheet.add(WAITING, base, breaker.queued if breaker is not None else 0)
    for attr, instrument in EXTRA_COUNTERS:
        sheet.add(instrument, base, getattr(m, attr))
    return sheet.render()
