"""Before a scale-down: mark busy pods dearer to delete, so the ReplicaSet removes idle ones first.

Kubernetes deletes pods with a lower ``controller.kubernetes.io/pod-deletion-cost``
first (among pods equally ready). Each pod's cost is its queue-proxy's
in-flight gauge (``revision_in_flight_requests``, or ``http_server_active_requests``
under the OpenTelemetry dialect), read from ``:9091/metrics`` with a short
timeout; a pod that does not answer in time keeps the cost it has.
"""

from __future__ import annotations

import asyncio
import logging
import math

import aiohttp

from dataplane.dialects import sum_in_flight
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.client import MERGE_PATCH, ApiError, KubeClient

log = logging.getLogger("dataplane.kubernetes")
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
MAX_COST = 2**31 - 1  # the annotation is an int32


def parse_in_flight(text: str) -> float | None:
    """The sum of the queue-proxy's in-flight samples (either metrics dialect) in a Prometheus text exposition."""
    return sum_in_flight(text)


async def scrape_in_flight(session: aiohttp.ClientSession, address: str, timeout: float) -> float | None:
    """In-flight requests of the queue-proxy at ``address`` (host:port), or None when it cannot tell."""
    try:
        async with session.get(f"http://{address}/metrics", timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status != 200:
                return None
            return parse_in_flight(await resp.text())
    except (TimeoutError, aiohttp.ClientError, UnicodeDecodeError):
        return None


async def mark_deletion_costs(
    client: KubeClient, session: aiohttp.ClientSession, pods: list[dict], metrics_port: int, timeout: float
) -> dict[str, int]:
    """Annotate each running pod with its in-flight count as deletion cost; returns the costs set by pod name."""
    running = [p for p in pods if (p.get("status") or {}).get("podIP") and not p["metadata"].get("deletionTimestamp")]
    loads = await asyncio.gather(*(scrape_in_flight(session, f"{p['status']['podIP']}:{metrics_port}", timeout) for p in running))
    costs = {}
    for pod, load in zip(running, loads, strict=True):
        if load is None:
            continue
        cost = min(MAX_COST, math.ceil(load))
        costs[pod["metadata"]["name"]] = cost
        if (pod["metadata"].get("annotations") or {}).get(DELETION_COST) == str(cost):
            continue
        meta = pod["metadata"]
        try:
            await client.request(
                "PATCH",
                r.POD.path(meta["namespace"], meta["name"]),
                body={"metadata": {"annotations": {DELETION_COST: str(cost)}}},
                content_type=MERGE_PATCH,
            )
        except ApiError as exc:  # a pod that just went away needs no cost
            if exc.status != 404:
                log.warning("pod %s/%s: setting its deletion cost failed: %s", meta["namespace"], meta["name"], exc)
    return costs
