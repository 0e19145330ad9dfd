"""Steady load on a service whose traffic is split 90/10 between two revisions.

    locust -f loadtests/locust/split.py --headless -u 10 -r 10 -t 60s \
        --host http://127.0.0.1:8080 --host-header split.default.example.com
"""

from steady import SteadyUser


class SplitUser(SteadyUser):
    """A client of the split service; which revision answers is counted by the router."""
