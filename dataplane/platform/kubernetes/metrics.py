"""Prometheus metrics of the controller, read from its plane at scrape time (``GET /metrics`` on 8080).

``controller_leader`` and ``controller_synced`` tell which replica reconciles and whether its caches
are complete; the process collector adds CPU, memory and open files, as every component exports.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ControllerCollector:
    """A prometheus_client collector over a plane with ``leading`` and ``synced`` flags."""

    def __init__(self, plane) -> None:
        self.plane = plane

    def collect(self):
        leader = "1 while this replica holds the lease and reconciles"
        yield GaugeMetricFamily("controller_leader", leader, value=int(bool(self.plane.leading)))
        synced = "1 once this replica's caches are synced"
        yield GaugeMetricFamily("controller_synced", synced, value=int(bool(self.plane.synced)))


def registry_for(plane) -> CollectorRegistry:
    """A registry holding the plane's collector and the process's own metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ControllerCollector(plane))
    ProcessCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus text format."""
    return generate_latest(registry)
