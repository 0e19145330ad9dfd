"""A burst against a revision at zero: every first request waits for a pod to start.

    locust -f loadtests/locust/cold_start.py --headless -u 30 -r 30 -t 40s \
        --host http://127.0.0.1:8080 --host-header cold.default.example.com --burst-seconds 15
"""

from burst import BurstUser


class ColdStartUser(BurstUser):
    """A client arriving while the service has no pods."""
