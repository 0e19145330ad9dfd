"""Prometheus metrics of the queue-proxy, gathered from plain counters at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from dataplane.queueproxy.policy import LATENCY_BUCKETS, QueueProxyPolicy

STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


class QueueProxyCollector:
    """A prometheus_client collector over a policy's counters."""

    def __init__(self, policy: QueueProxyPolicy):
        self.policy = policy
        s = policy.settings
        self.label_names = ["namespace_name", "configuration_name", "revision_name", "pod_name"]
        self.labels = [s.namespace, s.configuration, s.revision, s.pod]

    def collect(self):
        p = self.policy
        m = p.metrics
        names, labels = self.label_names, self.labels
        requests = CounterMetricFamily(
            "queueproxy_requests", "Requests served, by status class", labels=names + ["response_code_class"]
        )
        for i, cls in enumerate(STATUS_CLASSES, start=1):
            requests.add_metric(labels + [cls], m.by_class[i])
        yield requests
        hist = HistogramMetricFamily("queueproxy_request_duration_seconds", "Time to serve a request, queueing included", labels=names)
        buckets, running = [], 0
        for bound, count in zip(LATENCY_BUCKETS, m.latency_counts):
            running += count
            buckets.append((repr(bound), running))
        running += m.latency_counts[-1]
        buckets.append(("+Inf", running))
        hist.add_metric(labels, buckets, m.latency_sum)
        yield hist
        breaker = p.breaker
        depth = GaugeMetricFamily("queueproxy_queue_depth", "Requests waiting for a concurrency slot", labels=names)
        depth.add_metric(labels, breaker.queued if breaker is not None else 0)
        yield depth
        flight = GaugeMetricFamily("queueproxy_in_flight_requests", "Requests in the queue-proxy, queued ones included", labels=names)
        flight.add_metric(labels, p.in_flight)
        yield flight
        for name, value, text in (
            ("queueproxy_rejected_bad_requests", m.rejected_bad_input, "Malformed requests answered 400/408/431 and closed"),
            ("queueproxy_queue_full", m.queue_full, "Requests answered 503 because the queue was full"),
            ("queueproxy_timeouts", m.timeouts, "Requests that ran past a revision timeout"),
            ("queueproxy_upstream_errors", m.upstream_errors, "Requests the app refused or dropped (502)"),
            ("queueproxy_client_aborts", m.aborted, "Requests whose client went away first"),
        ):
            fam = CounterMetricFamily(name, text, labels=names)
            fam.add_metric(labels, value)
            yield fam


def registry_for(policy: QueueProxyPolicy) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueProxyCollector(policy))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
