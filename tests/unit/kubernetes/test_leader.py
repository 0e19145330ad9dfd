"""Leader election on a Lease: one leader, renewals, take-over after expiry, release on shutdown."""

from __future__ import annotations

import asyncio

from dataplane.runtime.kubernetes import resources as r
from dataplane.runtime.kubernetes.leader import LeaderElector, LeaseSettings
from tests.unit.kubernetes.support import eventually


def elector(kube, identity: str) -> LeaderElector:
    return LeaderElector(kube, LeaseSettings("knative-serving", identity, lease_duration=1, renew_deadline=0.6, retry_period=0.1))


def holder(fake) -> str | None:
    lease = fake.get(r.LEASE, "knative-serving", "dataplane-controller")
    return lease["spec"]["holderIdentity"] if lease else None


async def test_first_candidate_creates_the_lease_and_renews_it(fake, kube):
    a = elector(kube, "a")
    assert await a.try_acquire_or_renew()
    lease = fake.get(r.LEASE, "knative-serving", "dataplane-controller")
    assert lease["spec"]["holderIdentity"] == "a" and lease["spec"]["leaseDurationSeconds"] == 1
    assert lease["spec"]["leaseTransitions"] == 0
    first_renew = lease["spec"]["renewTime"]
    await asyncio.sleep(0.01)
    assert await a.try_acquire_or_renew()
    assert fake.get(r.LEASE, "knative-serving", "dataplane-controller")["spec"]["renewTime"] > first_renew
    b = elector(kube, "b")
    assert not await b.try_acquire_or_renew()  # held, and not expired
    assert holder(fake) == "a" and not b.is_leader


async def test_a_leader_that_stops_renewing_is_replaced_and_learns_it(fake, kube):
    a, b = elector(kube, "a"), elector(kube, "b")
    await a.acquire()
    renewing = asyncio.get_running_loop().create_task(a.hold())
    contender = asyncio.get_running_loop().create_task(b.acquire())
    await asyncio.sleep(1.5)  # longer than the lease: renewals keep it
    assert holder(fake) == "a" and not contender.done()
    renewing.cancel()  # a freezes: no more renewals
    await asyncio.gather(renewing, return_exceptions=True)
    await asyncio.wait_for(contender, 5)
    assert holder(fake) == "b" and b.is_leader
    lease = fake.get(r.LEASE, "knative-serving", "dataplane-controller")
    assert lease["spec"]["leaseTransitions"] == 1
    # a wakes up: its next renewal fails and it knows it has lost
    await asyncio.wait_for(a.hold(), 5)
    assert not a.is_leader and holder(fake) == "b"


async def test_release_hands_over_without_waiting_for_expiry(fake, kube):
    a, b = elector(kube, "a"), elector(kube, "b")
    await a.acquire()
    assert not await b.try_acquire_or_renew()
    await a.release()
    assert holder(fake) is None
    assert await b.try_acquire_or_renew()
    assert holder(fake) == "b"


async def test_two_candidates_racing_for_a_free_lease_get_one_leader(fake, kube):
    a, b = elector(kube, "a"), elector(kube, "b")
    await a.acquire()
    await a.release()
    results = await asyncio.gather(a.try_acquire_or_renew(), b.try_acquire_or_renew())
    assert sorted(results) == [False, True]  # the loser's PUT carried a stale resourceVersion: 409
    await eventually(lambda: holder(fake) in ("a", "b"))
    assert (holder(fake) == "a") == results[0]
