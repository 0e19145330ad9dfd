"""Scaling under load loses nothing: scale-down while requests are in flight, scale to zero, and a
thousand concurrent requests arriving at a revision with no pods."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from loadtests._scenario_api import pod_ready
from tests.integration.test_reliability_support import (
    Load,
    alive,
    host_of,
    http_get,
    read_records,
    recorder_service,
    running_plane,
)

pytestmark = pytest.mark.slow


@pytest.fixture
async def plane(tmp_path):
    async with running_plane(tmp_path) as p:
        yield p


async def test_scale_down_under_load_then_to_zero_fails_no_request(plane, tmp_path):
    record = tmp_path / "requests.log"
    api = plane.api
    # 400 ms requests: a pod chosen for removal usually has some in flight, which it must finish
    await api.apply([recorder_service("shrink", record, sleep_ms=400, container_concurrency=2)])
    await api.wait_service_ready("shrink")
    revision = "shrink-00001"
    load = Load(plane.port, host_of("shrink"), clients=8, limit=5000, max_s=90)
    peak = low = 0
    try:
        # 8 clients / (2 per pod x 70 %) -> 6 pods
        ready = await api.wait_pods(revision, 5, timeout=40, exact=False)
        peak = len(ready)
        await asyncio.sleep(2)
        load.resize(3)  # 3 / 1.4 -> 3 pods: half of them go while the load continues

        async def shrunk():
            pods = await api.pods(revision=revision)
            return len(pods) <= 3 and sum(map(pod_ready, pods)) >= 1 and pods

        low = len(await api.wait_for("the revision to scale down under load", shrunk, timeout=40, interval=0.3))
        await asyncio.sleep(2)
    finally:
        tally = await load.stop()
    load_ended = time.monotonic()

    async def no_pods():
        return not await api.pods(revision=revision)

    await api.wait_for("scale to zero after the load", no_pods, timeout=40, interval=0.5)
    zero_after = time.monotonic() - load_ended

    records = read_records(record)
    pids = {r.pid for r in records}
    gone_under_load = {pid for pid in pids if not alive(pid)}
    served_by_removed = [r for r in records if r.pid in gone_under_load]
    print(
        f"sent {tally.sent}, answered {len(tally.answered)}, failed {len(tally.failed)}; pods {peak} -> {low} under load, "
        f"0 pods {zero_after:.1f} s after it; {len(pids)} app processes served requests"
    )
    assert tally.sent > 100
    assert not tally.failed, tally.describe_failures()
    assert len(tally.answered) == tally.sent
    assert peak >= 5 and low <= 3
    assert served_by_removed, "no request was served by a pod that was then removed"
    assert Counter(r.id for r in records) == Counter(str(o.id) for o in tally.outcomes), "not every request reached the app exactly once"


async def test_thousand_concurrent_requests_at_zero_are_each_answered_once(plane, tmp_path):
    record = tmp_path / "requests.log"
    api = plane.api
    # at most 4 pods of 50 each: most requests wait in the activator
    await api.apply([recorder_service("burst", record, sleep_ms=100, container_concurrency=50, annotations={"max-scale": "4"})])
    await api.wait_service_ready("burst")
    # the first pod goes once idle for the stable window (6 s) and the grace period (1 s)
    await api.wait_pods("burst-00001", 0, timeout=40)

    count = 1000
    started = time.monotonic()
    results = await asyncio.gather(
        *(http_get(plane.port, f"/?id={i}", host_of("burst"), timeout=60) for i in range(count)), return_exceptions=True
    )
    took = time.monotonic() - started
    errors = [r for r in results if isinstance(r, BaseException)]
    answers = [r for r in results if not isinstance(r, BaseException)]
    wrong = [(i, a.status, a.body[:60]) for i, a in enumerate(results) if not isinstance(a, BaseException) and (a.status != 200 or a.body.split()[-1:] != [str(i).encode()])]
    seen = Counter(r.id for r in read_records(record))
    print(f"sent {count}, answered {len(answers)} in {took:.1f} s, errors {len(errors)}, wrong answers {len(wrong)}, app saw {sum(seen.values())}")
    assert not errors, f"{len(errors)} requests got no answer, e.g. {errors[:3]!r}"
    assert not wrong, f"{len(wrong)} wrong answers, e.g. {wrong[:5]}"
    assert seen == Counter(str(i) for i in range(count)), (
        f"the app must see each request exactly once: missing {sorted(set(map(str, range(count))) - set(seen))[:10]}, "
        f"more than once {[k for k, v in seen.items() if v > 1][:10]}"
    )
