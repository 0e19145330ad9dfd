"""Prometheus metrics of the activator in either dialect, gathered at scrape time."""

from __future__ import annotations

from dataplane.activator.events import COLD_START_BUCKETS, ActivatorEvents
from dataplane.activator.policy import LATENCY_BUCKETS, WAIT_BUCKETS, ActivatorPolicy
from dataplane.exposition import COUNTER, GAUGE, HISTOGRAM, Instrument, Sheet, status_class

CONTAINER = "activator"

REQUEST_COUNT = Instrument(
    "activator_request_count", "kn.activator.requests", COUNTER, "{request}", "The number of requests that are routed to Activator"
)
REQUEST_LATENCIES = Instrument(
    "activator_request_latencies", "http.server.request.duration", HISTOGRAM, "s",
    "The response time of requests routed to the activator, from the head's arrival to the response's end",
)  # fmt: skip
REQUEST_CONCURRENCY = Instrument(
    "activator_request_concurrency", "kn.revision.request.concurrency", GAUGE, "{request}",
    "Concurrent requests that are routed to Activator (average over the last report interval)",
)  # fmt: skip
QUEUED = Instrument("activator_queued_requests", "kn.revision.request.queued", GAUGE, "{request}", "Requests waiting for capacity")
ACTIVE = Instrument(
    "activator_in_flight_requests", "kn.revision.request.active", GAUGE, "{request}", "Requests sent to pods and not yet answered"
)
CAPACITY = Instrument(
    "activator_capacity", "kn.activator.capacity", GAUGE, "{request}", "Requests the ready pods can take at once (-1: unlimited)"
)
READY_PODS = Instrument("activator_ready_pods", "kn.activator.pods.ready", GAUGE, "{pod}", "Pods that passed their probe")
SHED = Instrument(
    "activator_shed_request_count", "kn.activator.requests.shed", COUNTER, "{request}",
    "Requests answered 503 because the queue was full, the wait too long or no pod could serve",
)  # fmt: skip
TIMEOUTS = Instrument(
    "activator_request_timeout_count", "kn.activator.requests.timeouts", COUNTER, "{request}",
    "Requests answered 504 after the revision timeout",
)  # fmt: skip
ERRORS = Instrument(
    "activator_upstream_error_count", "kn.activator.requests.upstream_errors", COUNTER, "{request}", "Requests answered 502"
)
ABORTED = Instrument(
    "activator_request_aborted_count", "kn.activator.requests.aborted", COUNTER, "{request}", "Requests whose client went away first"
)
WAIT = Instrument(
    "activator_capacity_wait_latencies", "kn.activator.capacity.wait.duration", HISTOGRAM, "s",
    "Time requests waited for a pod with room (cold starts included)",
)  # fmt: skip
COLD_START = Instrument(
    "activator_cold_start_latencies", "kn.activator.cold_start.duration", HISTOGRAM, "s",
    "Cold starts: how long the first request waited for the revision's first ready pod",
)  # fmt: skip
INSTRUMENTS = (REQUEST_COUNT, REQUEST_LATENCIES, REQUEST_CONCURRENCY, QUEUED, ACTIVE, CAPACITY, READY_PODS, SHED, TIMEOUTS, ERRORS, ABORTED, WAIT, COLD_START)


def render(policy: ActivatorPolicy, events: ActivatorEvents | None, dialect: str, pod: str) -> bytes:
    """The activator's counters as Prometheus text in ``dialect``; ``pod`` is this activator's name."""
    sheet = Sheet(dialect)
    revisions = policy.state.revisions

    def labels(key: tuple[str, str]) -> dict[str, str]:
        info = revisions.get(key)
        return {
            "namespace": key[0],
            "service": getattr(info, "service", ""),
            "configuration": getattr(info, "configuration", ""),
            "revision": key[1],
            "pod": pod,
            "container": CONTAINER,
        }

    concurrency = getattr(policy.reporter, "last_concurrency", {})
    for key, t in policy.state.throttlers.items():
        base = labels(key)
        sheet.add(QUEUED, base, len(t.queue))
        sheet.add(ACTIVE, base, t.in_flight)
        sheet.add(CAPACITY, base, t.capacity)
        sheet.add(READY_PODS, base, len(t.ready))
        sheet.add(REQUEST_CONCURRENCY, base, concurrency.get(key, 0.0))
    for key, st in policy.stats.items():
        base = labels(key)
        for code, count in enumerate(st.by_code):
            if count:
                sheet.add(REQUEST_COUNT, {**base, "code": code, "code_class": status_class(code)}, count)
        sheet.add(SHED, base, st.shed)
        sheet.add(TIMEOUTS, base, st.timeouts)
        sheet.add(ERRORS, base, st.errors)
        sheet.add(ABORTED, base, st.aborted)
        sheet.observe(WAIT, base, WAIT_BUCKETS, st.wait_counts, st.wait_sum)
        sheet.observe(REQUEST_LATENCIES, base, LATENCY_BUCKETS, st.latency_counts, st.latency_sum)
    if events is not None:
        for key, tally in events.cold_starts.items():
            sheet.observe(COLD_START, labels(key), COLD_START_BUCKETS, tally.counts, tally.total)
    return sheet.render()
