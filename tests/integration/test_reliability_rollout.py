"""Revision 1 → 2 under steady load: every request is answered, once, by one revision or the other."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from loadtests._scenario_api import pod_ready
from tests.integration.test_reliability_support import Load, host_of, read_records, recorder_service, running_plane

pytestmark = pytest.mark.slow


@pytest.fixture
async def plane(tmp_path):
    async with running_plane(tmp_path) as p:
        yield p


async def test_rollout_under_steady_load_fails_no_request(plane, tmp_path):
    record = tmp_path / "requests.log"
    api = plane.api

    def version(n: int) -> dict:
        return recorder_service("roll", record, sleep_ms=100, container_concurrency=4, revision_name=f"roll-v{n}", env={"VERSION": str(n)})

    await api.apply([version(1)])
    await api.wait_service_ready("roll")
    load = Load(plane.port, host_of("roll"), clients=6, limit=4000, max_s=60)
    try:
        await asyncio.sleep(3)
        await api.apply([version(2)])
        await api.wait_service_ready("roll")

        async def old_revision_gone():
            return not await api.pods(revision="roll-v1")

        # the old revision, no longer routed, scales to zero (stable window 6 s + grace 1 s) while the load goes on
        await api.wait_for("roll-v1 to scale to zero", old_revision_gone, timeout=40, interval=0.5)
        new_pods = [p for p in await api.pods(revision="roll-v2") if pod_ready(p)]
        await asyncio.sleep(1)
    finally:
        tally = await load.stop()

    answered_by = tally.revisions()
    print(f"sent {tally.sent}, answered {len(tally.answered)}, failed {len(tally.failed)}; answered by {dict(Counter(answered_by))}")
    assert tally.sent > 100, f"the load hardly ran: {tally.sent} requests"
    assert not tally.failed, tally.describe_failures()
    assert len(tally.answered) == tally.sent
    assert set(answered_by) == {"roll-v1", "roll-v2"}, Counter(answered_by)
    # once revision 2 took over, revision 1 answered nothing more
    switch = answered_by.index("roll-v2")
    assert "roll-v1" not in answered_by[switch + 6 :], "revision 1 kept answering after revision 2 took the traffic"
    assert answered_by[-1] == "roll-v2" and new_pods
    seen = Counter(r.id for r in read_records(record))
    assert seen == Counter(str(o.id) for o in tally.outcomes), "the app did not see every request exactly once"
