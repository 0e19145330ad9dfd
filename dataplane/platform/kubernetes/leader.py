"""Leader election with a ``coordination.k8s.io/v1`` Lease, as client-go's leaderelection does it.

Not kubernetes_asyncio.leaderelection: it never releases the Lease (a new leader waits out the
lease), its clock and sleeps are time.time()/asyncio.sleep with no way to inject them (expiry on the
wall clock, tests in real time), and it writes local time marked "Z" as renewTime and never counts
leaseTransitions.

A candidate takes the Lease when nobody holds it or when its holder has not
renewed it for ``lease_duration`` seconds, measured on this process's own
clock from when it last saw the record change (so clock skew between
machines does not matter). The leader renews every ``retry_period``; if it
cannot renew for ``renew_deadline`` it has lost and must stop acting.
Releasing on shutdown lets the next candidate take over at once.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.client import ApiError, KubeClient

log = logging.getLogger("dataplane.kubernetes")


@dataclass(frozen=True)
class LeaseSettings:
    """Which Lease, who we are, and the timings (seconds)."""

    namespace: str
    identity: str
    name: str = "dataplane-controller"
    lease_duration: int = 15
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def micro_time(seconds: float) -> str:
    """RFC 3339 with microseconds, as metav1.MicroTime is written."""
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Acquires, renews and releases one Lease for one identity."""

    def __init__(
        self,
        client: KubeClient,
        settings: LeaseSettings,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        """``clock`` measures expiry and deadlines, ``wall`` stamps the Lease, ``sleep`` waits between attempts."""
        self.client = client
        self.settings = settings
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.is_leader = False
        self.observed: tuple | None = None
        self.observed_at = 0.0
        self.last_renew = 0.0

    @property
    def path(self) -> str:
        return r.LEASE.path(self.settings.namespace, self.settings.name)

    async def acquire(self) -> None:
        """Return once this identity holds the Lease."""
        while not await self.try_acquire_or_renew():
            await self.sleep(self.settings.retry_period)
        log.info("lease %s/%s: %s is the leader", self.settings.namespace, self.settings.name, self.settings.identity)

    async def hold(self) -> None:
        """Renew until the Lease is lost (returns then); cancel it to stop renewing."""
        while True:
            await self.sleep(self.settings.retry_period)
            if await self.try_acquire_or_renew():
                continue
            if self.clock() - self.last_renew >= self.settings.renew_deadline or not self.is_leader:
                self.is_leader = False
                log.warning("lease %s/%s: leadership lost", self.settings.namespace, self.settings.name)
                return

    async def release(self) -> None:
        """Give the Lease up, so another candidate need not wait for it to expire."""
        if not self.is_leader:
            return
        self.is_leader = False
        try:
            lease = await self.client.get(self.path)
            if (lease.get("spec") or {}).get("holderIdentity") != self.settings.identity:
                return
            now = micro_time(self.wall())
            lease["spec"].update(holderIdentity=None, leaseDurationSeconds=1, renewTime=now, acquireTime=now)
            await self.client.request("PUT", self.path, body=lease)
        except (TimeoutError, ApiError, aiohttp.ClientError) as exc:
            log.warning("lease %s/%s: release failed: %s", self.settings.namespace, self.settings.name, exc)

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this identity holds the Lease afterwards."""
        s = self.settings
        now, wall = self.clock(), micro_time(self.wall())
        try:
            try:
                lease = await self.client.get(self.path)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                spec = {
                    "holderIdentity": s.identity,
                    "leaseDurationSeconds": s.lease_duration,
                    "acquireTime": wall,
                    "renewTime": wall,
                    "leaseTransitions": 0,
                }
                body = {
                    "apiVersion": r.LEASE.api_version,
                    "kind": r.LEASE.kind,
                    "metadata": {"name": s.name, "namespace": s.namespace},
                    "spec": spec,
                }
                await self.client.request("POST", r.LEASE.path(s.namespace), body=body)
                return self._won(now)
            spec = lease.setdefault("spec", {})
            holder = spec.get("holderIdentity") or ""
            record = (holder, spec.get("renewTime"), spec.get("leaseDurationSeconds"))
            if record != self.observed:
                self.observed, self.observed_at = record, now
            duration = spec.get("leaseDurationSeconds") or s.lease_duration
            if holder and holder != s.identity and self.observed_at + duration > now:
                self.is_leader = False
                return False
            if holder != s.identity:
                spec["acquireTime"] = wall
                spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            spec.update(holderIdentity=s.identity, leaseDurationSeconds=s.lease_duration, renewTime=wall)
            await self.client.request("PUT", self.path, body=lease)  # carries resourceVersion: a race loses with 409
            return self._won(now)
        except (TimeoutError, ApiError, aiohttp.ClientError) as exc:
            log.info("lease %s/%s: %s", s.namespace, s.name, exc)
            return False

    def _won(self, now: float) -> bool:
        self.is_leader = True
        self.last_renew = now
        return True
