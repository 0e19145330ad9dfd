"""What the scenarios' users share: the Host header, the request, plain failure reasons.

Works against any install: ``--host`` is where requests enter (the local router,
or a Kubernetes ingress) and ``--host-header`` names the service
(``<service>.<namespace>.example.com``), as the seed article's curl does.
"""

from __future__ import annotations

import locust.stats
from locust import FastHttpUser, constant, events

# The runner reads the per-second history while locust runs: recent percentiles
# (2 s, not locust's 10 s, so a cold start shows as a spike) and a flush every second.
locust.stats.CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW = 2
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    parser.add_argument("--host-header", default="", help="Host header naming the service, e.g. hello.default.example.com")
    parser.add_argument("--path", default="/", help="path to request (default /)")
    parser.add_argument("--burst-seconds", type=float, default=10.0, help="burst scenarios: seconds each user keeps sending")


class ServiceUser(FastHttpUser):
    """A client sending one request after another to the service (no think time)."""

    abstract = True
    wait_time = constant(0)
    # cold starts and queueing can take long; the revision timeout (300 s) is the real bound
    network_timeout = 120.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.request_headers = {"Host": options.host_header} if options.host_header else {}
        self.path = options.path

    def call(self) -> None:
        """One GET; anything but 200 is a failure named by its status or its exception."""
        with self.client.get(self.path, headers=self.request_headers, name=self.path, catch_response=True) as resp:
            if resp.status_code == 200:
                resp.success()
            elif resp.status_code:
                resp.failure(f"HTTP {resp.status_code}")
            else:
                resp.failure(f"no answer: {type(resp.error).__name__}")
