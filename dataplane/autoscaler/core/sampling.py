"""How many pods to scrape, and how a sample stands for the whole revision.

Sample size is Knative's (``metrics/sample_size.go``): enough pods to
estimate the mean within ±5 at 95 % confidence assuming variance 100, with
the finite-population correction. Unlike Knative, a scrape that reached
fewer pods than that still counts, scaled up by the pods that did answer;
only a scrape where no pod answered yields nothing.
"""

from __future__ import annotations

import math
from typing import Sequence

from dataplane.stats.wire import Stat

_CRITICAL_VALUE_SQUARED = 1.96 * 1.96
_MARGIN_OF_ERROR_SQUARED = 5.0 * 5.0
_POPULATION_VARIANCE = 100.0
SCRAPER_POD_NAME = "service-scraper"
"""Pod name given to a scrape aggregated over a revision's pods."""
UNBOUNDED_SAMPLE = _CRITICAL_VALUE_SQUARED * _POPULATION_VARIANCE / _MARGIN_OF_ERROR_SQUARED
"""Sample size for an unbounded population, ≈ 15.37."""


def sample_size(population: int) -> int:
    """Pods to scrape out of ``population`` ready pods: all of up to 3, else ceil(N·X / (N + X − 1))."""
    if population <= 3:
        return max(population, 0)
    return math.ceil(population * UNBOUNDED_SAMPLE / (population + UNBOUNDED_SAMPLE - 1))


def scale_to_population(sample: Sequence[Stat], population: int, now: int = 0) -> Stat | None:
    """Sum the stats of the pods that answered and scale them to ``population`` pods.

    Each field becomes sum / k × N for the k pods that answered, so a partial
    sample still reports for the whole revision; ``now`` (Unix seconds) is its
    timestamp. ``None`` when no pod answered.
    """
    answered = len(sample)
    if answered == 0:
        return None
    concurrent = proxied_concurrent = requests = proxied_requests = 0.0
    for stat in sample:
        concurrent += stat.average_concurrent_requests
        proxied_concurrent += stat.average_proxied_concurrent_requests
        requests += stat.request_count
        proxied_requests += stat.proxied_request_count
    return Stat(
        pod_name=SCRAPER_POD_NAME,
        average_concurrent_requests=concurrent / answered * population,
        average_proxied_concurrent_requests=proxied_concurrent / answered * population,
        request_count=requests / answered * population,
        proxied_request_count=proxied_requests / answered * population,
        timestamp=int(now),
    )
