"""A user that sends requests back to back for ``--burst-seconds``, then stops."""

from __future__ import annotations

import time

from locust import task
from locust.exception import StopUser
from service_users import ServiceUser
from shapes import burst_over


class BurstUser(ServiceUser):
    """Requests back to back until its burst is over; users left at 0 show the scale-down that follows."""

    abstract = True

    def on_start(self) -> None:
        super().on_start()
        self.started = time.monotonic()
        self.burst_s = self.environment.parsed_options.burst_seconds

    @task
    def request(self) -> None:
        self.call()
        if burst_over(time.monotonic() - self.started, self.burst_s):
            raise StopUser()
