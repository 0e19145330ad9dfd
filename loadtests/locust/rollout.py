"""Steady load while revision 1 is replaced by revision 2 (the runner applies the change mid-run).

    locust -f loadtests/locust/rollout.py --headless -u 10 -r 10 -t 60s \
        --host http://127.0.0.1:8080 --host-header rollout.default.example.com
"""

from steady import SteadyUser


class RolloutUser(SteadyUser):
    """A client that should never notice the rollout."""
