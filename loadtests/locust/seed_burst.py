"""The seed article's burst: 20 parallel clients against containerConcurrency 1 and a 1 s app.

    locust -f loadtests/locust/seed_burst.py --headless -u 20 -r 20 -t 60s \
        --host http://127.0.0.1:8080 --host-header knative-example.default.example.com --burst-seconds 20
"""

from burst import BurstUser


class SeedBurstUser(BurstUser):
    """One of the seed's parallel curls, repeated for the burst."""
