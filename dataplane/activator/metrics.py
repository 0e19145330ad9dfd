"""Prometheus metrics of the activator, gathered at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from dataplane.activator.policy import WAIT_BUCKETS, ActivatorPolicy

LABELS = ["namespace_name", "revision_name"]


class ActivatorCollector:
    def __init__(self, policy: ActivatorPolicy):
        self.policy = policy

    def collect(self):
        p = self.policy
        queued = GaugeMetricFamily("activator_queued_requests", "Requests waiting for capacity", labels=LABELS)
        flight = GaugeMetricFamily("activator_in_flight_requests", "Requests sent to pods and not yet answered", labels=LABELS)
        capacity = GaugeMetricFamily("activator_capacity", "Requests the ready pods can take at once (-1: unlimited)", labels=LABELS)
        ready = GaugeMetricFamily("activator_ready_pods", "Pods that passed their probe", labels=LABELS)
        for key, t in p.state.throttlers.items():
            labels = list(key)
            queued.add_metric(labels, len(t.queue))
            flight.add_metric(labels, t.in_flight)
            capacity.add_metric(labels, t.capacity)
            ready.add_metric(labels, len(t.ready))
        yield from (queued, flight, capacity, ready)
        requests = CounterMetricFamily("activator_requests", "Requests received", labels=LABELS)
        shed = CounterMetricFamily("activator_shed_requests", "Requests answered 503 because the queue was full or the wait too long", labels=LABELS)
        timeouts = CounterMetricFamily("activator_timed_out_requests", "Requests answered 504 after the revision timeout", labels=LABELS)
        errors = CounterMetricFamily("activator_upstream_errors", "Requests answered 502", labels=LABELS)
        wait = HistogramMetricFamily("activator_capacity_wait_seconds", "Time requests waited for a pod with room", labels=LABELS)
        for key, st in p.stats.items():
            labels = list(key)
            requests.add_metric(labels, st.requests)
            shed.add_metric(labels, st.shed)
            timeouts.add_metric(labels, st.timeouts)
            errors.add_metric(labels, st.errors)
            buckets, running = [], 0
            for bound, count in zip(WAIT_BUCKETS, st.wait_counts):
                running += count
                buckets.append((repr(bound), running))
            buckets.append(("+Inf", running + st.wait_counts[-1]))
            wait.add_metric(labels, buckets, st.wait_sum)
        yield from (requests, shed, timeouts, errors, wait)


_registries: dict[int, CollectorRegistry] = {}


def exposition(policy: ActivatorPolicy) -> bytes:
    registry = _registries.get(id(policy))
    if registry is None:
        registry = _registries[id(policy)] = CollectorRegistry(auto_describe=False)
        registry.register(ActivatorCollector(policy))
    return generate_latest(registry)
