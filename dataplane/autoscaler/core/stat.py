"""The per-pod load report the autoscaler consumes (Knative's ``metrics.Stat``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SCRAPER_POD_NAME = "service-scraper"
"""Pod name given to a scrape aggregated over a revision's pods."""


@dataclass(frozen=True, slots=True)
class Stat:
    """One second of load, from a queue-proxy scrape or an activator push."""

    pod_name: str = ""
    """Reporting pod; ``service-scraper`` for an aggregated scrape."""
    average_concurrent_requests: float = 0.0
    """Time-weighted requests in flight over the period, proxied ones included."""
    average_proxied_concurrent_requests: float = 0.0
    """The part of the above that arrived through the activator."""
    request_count: float = 0.0
    """Requests that arrived in the period (per second)."""
    proxied_request_count: float = 0.0
    """The part of the above that arrived through the activator."""
    process_uptime: float = 0.0
    """Seconds the reporting process has been up."""
    timestamp: float = 0.0
    """When the stat was taken, seconds on the caller's clock; 0 = unknown."""


class LoadReport(Protocol):
    """What recording needs from a stat; ``Stat`` here and the wire ``Stat`` both fit."""

    @property
    def average_concurrent_requests(self) -> float: ...

    @property
    def average_proxied_concurrent_requests(self) -> float: ...

    @property
    def request_count(self) -> float: ...

    @property
    def proxied_request_count(self) -> float: ...
