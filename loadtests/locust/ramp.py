"""From 1 user up to -u users over 40 % of -t, held for 20 %, down to 0 over 20 %, then idle.

    locust -f loadtests/locust/ramp.py --headless -u 30 -t 120s \
        --host http://127.0.0.1:8080 --host-header ramp.default.example.com
"""

from __future__ import annotations

from locust import LoadTestShape
from shapes import ramp_users
from steady import SteadyUser


class RampUser(SteadyUser):
    """A client of the ramp."""


class Ramp(LoadTestShape):
    """The ramp; -u is the peak and -t the whole run, idle tail included."""

    use_common_options = True

    def tick(self):
        options = self.runner.environment.parsed_options
        users = ramp_users(self.get_run_time(), float(options.run_time or 60), int(options.num_users or 10))
        if users is None:
            return None
        return users, max(float(options.spawn_rate or 1), 1.0)
