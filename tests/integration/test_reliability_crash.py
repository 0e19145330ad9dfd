"""The app failing under the data plane: its process SIGKILLed under load, its connection dropped mid-request.

SIGKILL: two pods at containerConcurrency 1, more clients than the pods can
take (the rest wait in the activator). Expected: only the request in flight in
the killed app fails, with 502; the waiting ones are served by the other pod;
the pod's app is restarted and both the pod and its Revision say so.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from loadtests._scenario_api import pod_ready
from tests.integration.test_reliability_support import (
    Load,
    app_pid,
    host_of,
    http_get,
    http_request,
    read_records,
    recorder_service,
    running_plane,
)

pytestmark = pytest.mark.slow
REVISION = "crash-00001"


@pytest.fixture
async def plane(tmp_path):
    async with running_plane(tmp_path) as p:
        yield p


def user_status(pod: dict) -> dict:
    return next(s for s in pod["status"]["containerStatuses"] if s["name"] == "user-container")


async def test_killed_app_fails_only_its_own_request(plane, tmp_path):
    record = tmp_path / "requests.log"
    api = plane.api
    bounds = {"min-scale": "2", "max-scale": "2"}
    await api.apply([recorder_service("crash", record, sleep_ms=800, container_concurrency=1, annotations=bounds)])
    await api.wait_service_ready("crash")
    pods = await api.wait_pods(REVISION, 2, timeout=30)
    victim = pods[0]
    victim_name = victim["metadata"]["name"]
    pid = app_pid(victim)

    load = Load(plane.port, host_of("crash"), clients=6, limit=2000, max_s=60)
    revision_restarts = []
    try:
        await asyncio.sleep(3)  # both pods busy, four requests waiting in the activator
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()

        async def victim_back():
            # meanwhile, watch the Revision report the restart
            rev = await api.get("revisions", "default", REVISION)
            for status in (rev or {}).get("status", {}).get("containerStatuses") or []:
                revision_restarts.append(status.get("restartCount"))
            pod = await api.get("pods", "default", victim_name)
            if pod is not None and pod_ready(pod) and user_status(pod)["restartCount"] >= 1:
                return pod
            return None

        victim = await api.wait_for("the killed app to be restarted and ready", victim_back, timeout=30, interval=0.1)
        await asyncio.sleep(2)  # served by both pods again
    finally:
        tally = await load.stop()

    records = read_records(record)
    answered = {str(o.id) for o in tally.answered}
    in_flight_on_victim = {r.id for r in records if r.pid == pid and r.id not in answered}
    failed = tally.failed
    print(
        f"sent {tally.sent}, answered {len(tally.answered)}, failed {len(failed)} "
        f"(statuses {sorted({o.status for o in failed})}), in flight in the killed app {sorted(in_flight_on_victim)}"
    )
    assert tally.sent >= 10  # enough load that requests waited while the pod was down (fewer on a busy machine)
    assert len(in_flight_on_victim) <= 1, "containerConcurrency 1: at most one request can be in the app"
    assert {str(o.id) for o in failed} == in_flight_on_victim, (
        f"only the request in flight in the killed app may fail; {tally.describe_failures()}; "
        f"in flight there: {sorted(in_flight_on_victim)}"
    )
    assert all(o.status == 502 for o in failed), tally.describe_failures()
    after_kill = [o for o in tally.answered if o.started > killed_at]
    assert after_kill, "nothing was served after the kill"
    others = {r.pid for r in records if r.pid != pid}
    served_elsewhere = [r for r in records if r.pid in others and r.id in {str(o.id) for o in after_kill}]
    assert served_elsewhere, "the waiting requests were not served by the other pod"

    status = user_status(victim)
    assert status["restartCount"] == 1, status
    terminated = status.get("lastState", {}).get("terminated", {})
    # SIGKILL: the local runtime reports the signal as a negative exit code (Kubernetes would say 137)
    assert terminated.get("exitCode") in (-9, 137), status
    assert terminated.get("reason") == "Error", status
    assert 1 in revision_restarts, f"the Revision never reported the restart: {revision_restarts}"
    duplicates = [rid for rid in answered if sum(1 for r in records if r.id == rid) != 1]
    assert not duplicates, f"requests the app saw more than once: {duplicates[:10]}"


async def test_request_the_app_dropped_is_not_sent_again(plane, tmp_path):
    """An app that closes the connection mid-request got the request: a POST must not be replayed to it.

    The queue-proxy keeps its connections to the app open between requests;
    a POST that goes out on such a connection and finds it closed without an
    answer may have been processed (RFC 9110 §9.2.2: a proxy must not retry
    non-idempotent requests on its own). The client gets a 502, the app sees
    the request once.
    """
    record = tmp_path / "requests.log"
    api = plane.api
    await api.apply([recorder_service("dropper", record, annotations={"min-scale": "1"})])
    await api.wait_service_ready("dropper")
    await api.wait_pods("dropper-00001", 1, timeout=30)
    host = host_of("dropper")
    for i in range(3):  # the queue-proxy now holds an open connection to the app
        assert (await http_get(plane.port, f"/?id=warm-{i}", host)).status == 200
    answer = await http_request(plane.port, "POST", "/?id=order-1&drop=1", host, b'{"charge": 10}')
    seen = [r for r in read_records(record) if r.id == "order-1"]
    print(f"POST answered {answer.status}; the app saw it {len(seen)} time(s)")
    assert answer.status == 502, answer
    assert len(seen) == 1, f"the app received the POST {len(seen)} times: {seen}"
