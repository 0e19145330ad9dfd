"""Leader election on a Lease: one leader, renewals, take-over after expiry, release on shutdown.

Time is a manual clock: electors sleep on it, and the test moves it on once every elector task is
asleep again (its requests to the fake API server done), so nothing waits on the wall clock.
"""

from __future__ import annotations

import asyncio

from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.leader import LeaderElector, LeaseSettings
from tests.unit.kubernetes.support import eventually

EPOCH = 1767225600.0


class ManualClock:
    """A clock that moves only in ``run_for``; ``sleep`` parks the calling task until its deadline."""

    def __init__(self):
        self.now = 0.0
        self.sleepers: dict[asyncio.Task, tuple[float, asyncio.Future]] = {}
        self.changed = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    async def sleep(self, delay: float) -> None:
        future = asyncio.get_running_loop().create_future()
        task = asyncio.current_task()
        self.sleepers[task] = (self.now + delay, future)
        self.changed.set()
        try:
            await future
        finally:
            self.sleepers.pop(task, None)

    async def _all_asleep(self, tasks) -> None:
        for task in tasks:
            task.add_done_callback(lambda _t: self.changed.set())
        while not all(t.done() or (t in self.sleepers and not self.sleepers[t][1].done()) for t in tasks):
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 5)

    async def run_for(self, seconds: float, *tasks: asyncio.Task) -> None:
        """Move time on by ``seconds``, waking each sleeper at its deadline, while ``tasks`` run in between."""
        end = self.now + seconds
        while True:
            await self._all_asleep(tasks)
            due = [d for d, f in self.sleepers.values() if not f.done()]
            if not due or min(due) > end:
                self.now = end
                return
            self.now = max(self.now, min(due))
            for deadline, future in list(self.sleepers.values()):
                if deadline <= self.now and not future.done():
                    future.set_result(None)


def elector(kube, identity: str, clock: ManualClock | None = None) -> LeaderElector:
    settings = LeaseSettings("knative-serving", identity, lease_duration=1, renew_deadline=0.6, retry_period=0.1)
    if clock is None:
        return LeaderElector(kube, settings)
    return LeaderElector(kube, settings, clock=clock, wall=clock.wall, sleep=clock.sleep)


def holder(fake) -> str | None:
    lease = fake.get(r.LEASE, "knative-serving", "dataplane-controller")
    return lease["spec"]["holderIdentity"] if lease else None


async def test_first_candidate_creates_the_lease_and_renews_it(fake, kube):
    clock = ManualClock()
    a = elector(kube, "a", clock)
    assert await a.try_acquire_or_renew()
    lease = fake.get(r.LEASE, "knative-serving", "dataplane-controller")
    assert lease["spec"]["holderIdentity"] == "a" and lease["spec"]["leaseDurationSeconds"] == 1
    assert lease["spec"]["leaseTransitions"] == 0
    first_renew = lease["spec"]["renewTime"]
    assert first_renew == "2026-01-01T00:00:00.000000Z"  # the wall clock given, in UTC
    await clock.run_for(0.01)
    assert await a.try_acquire_or_renew()
    assert fake.get(r.LEASE, "knative-serving", "dataplane-controller")["spec"]["renewTime"] > first_renew
    b = elector(kube, "b")
    assert not await b.try_acquire_or_renew()  # held, and not expired
    assert holder(fake) == "a" and not b.is_leader


async def test_a_leader_that_stops_renewing_is_replaced_and_learns_it(fake, kube):
    clock = ManualClock()
    a, b = elector(kube, "a", clock), elector(kube, "b", clock)
    await a.acquire()
    loop = asyncio.get_running_loop()
    renewing, contender = loop.create_task(a.hold()), loop.create_task(b.acquire())
    await clock.run_for(1.5, renewing, contender)  # longer than the lease: renewals keep it
    assert holder(fake) == "a" and not contender.done()
    renewing.cancel()  # a freezes: no more renewals
    await asyncio.gather(renewing, return_exceptions=True)
    frozen_at = clock.now
    await clock.run_for(5, contender)
    assert contender.done() and holder(fake) == "b" and b.is_leader
    lease = fake.get(r.LEASE, "knative-serving", "dataplane-controller")
    assert lease["spec"]["leaseTransitions"] == 1
    assert lease["spec"]["acquireTime"] == lease["spec"]["renewTime"]
    assert 0.9 <= b.last_renew - frozen_at <= 1.2  # the lease (1 s) from the last renewal b saw, within a retry period
    # a wakes up: its next renewal fails and it knows it has lost
    waking = loop.create_task(a.hold())
    await clock.run_for(1, waking)
    assert waking.done() and not a.is_leader and holder(fake) == "b"


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
