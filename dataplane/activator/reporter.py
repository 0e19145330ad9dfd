"""Per-revision request statistics of the activator, pushed to the autoscaler every second.

Concurrency counts buffered requests too. The first request for a revision not
seen in the current period is reported at once (concurrency 1) so a revision at
zero scales up without waiting for the next tick; the next periodic report takes
that 1 back out, as Knative does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dataplane.stats.collector import Collector
from dataplane.stats.wire import Stat, WireStatMessage


class StatReporter:
    """Collects per-revision stats; ``send(messages)`` delivers them (to a WebSocket, a test list...)."""

    def __init__(self, pod_name: str, send: Callable[[list[WireStatMessage]], None], clock=time.monotonic):
        self.pod_name = pod_name
        self.send = send
        self.clock = clock
        self.collectors: dict[tuple[str, str], Collector] = {}
        self.fast_pathed: set[tuple[str, str]] = set()
        self.last_report = clock()
        self.last_concurrency: dict[tuple[str, str], float] = {}
        """Each revision's average concurrency in the last report (Knative's ``request_concurrency``)."""

    def request_in(self, key: tuple[str, str]) -> None:
        collector = self.collectors.get(key)
        if collector is None:
            collector = self.collectors[key] = Collector(self.clock)
            self.fast_pathed.add(key)
            self.send([WireStatMessage(key[0], key[1], Stat(pod_name=self.pod_name, average_concurrent_requests=1.0, request_count=1.0))])
        collector.request_in(False)

    def request_out(self, key: tuple[str, str]) -> None:
        collector = self.collectors.get(key)
        if collector is not None:
            collector.request_out(False)

    def report(self) -> list[WireStatMessage]:
        """Close the window: one message per revision with traffic; idle revisions are forgotten."""
        now = self.clock()
        elapsed = max(now - self.last_report, 1e-6)
        self.last_report = now
        messages = []
        self.last_concurrency = {}
        for key, collector in list(self.collectors.items()):
            avg, _, count, _ = collector.report()
            self.last_concurrency[key] = avg
            if key in self.fast_pathed:
                self.fast_pathed.discard(key)
                count = max(0, count - 1)
            messages.append(
                WireStatMessage(
                    key[0],
                    key[1],
                    Stat(pod_name=self.pod_name, average_concurrent_requests=avg, request_count=count / elapsed),
                )
            )
            if avg == 0 and collector.concurrency == 0:
                del self.collectors[key]
        if messages:
            self.send(messages)
        return messages
