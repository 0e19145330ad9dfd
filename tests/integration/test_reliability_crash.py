"""The app failing under the data plane: its process SIGKILLed under load, its connection dropped mid-request.

SIGKILL: two pods at containerConcurrency 1, more clients than the pods can
take (the rest wait in the activator). Expected: only the request in flight in
the killed app fails, with 502; the waiting ones are served by the other pod;
the pod's app is restarted and both the pod and its Revision say so.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loadtests._scenario_api import pod_ready
from tests.integration.test_reliability_support import (
    Answer,
    Load,
    app_pid,
    host_of,
    http_get,
    http_request,
    parse_response,
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


# -- failures show, fast --------------------------------------------------------------------------

CRASHER = Path(__file__).resolve().parents[1] / "apps" / "crasher.py"


def python_service(name: str, argv: list[str], env: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict:
    """A Service running ``python3 *argv`` (this interpreter)."""
    template: dict = {"spec": {"containers": [{"image": "local/py", "command": [sys.executable, *argv],
                                               "env": [{"name": k, "value": v} for k, v in (env or {}).items()]}]}}
    if annotations:
        template["metadata"] = {"annotations": annotations}
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"template": template}}


async def raw_get(port: int, host: str, path: str = "/", request_id: str | None = None, timeout: float = 30.0) -> Answer:
    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    if request_id:
        head += f"X-Request-Id: {request_id}\r\n"
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(head.encode() + b"\r\n")
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    return parse_response(data)


def cli(plane, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATAPLANE_SERVER=plane.install.api_url, DATAPLANE_HOME=str(plane.install.home))
    return subprocess.run([sys.executable, "-m", "dataplane", *args], env=env, capture_output=True, text=True, timeout=timeout)


def condition_of(obj: dict | None, type_: str) -> dict:
    return next((c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c.get("type") == type_), {})


async def test_a_crash_after_ready_fails_waiting_requests_fast_and_heals(plane, tmp_path):
    """The app crash-loops after Ready: a request waiting for it gets 503 in seconds (not the 300 s timeout),
    the Revision and Service say why, `get pods` shows the back-off; once the cause is gone it serves again."""
    api = plane.api
    marker = tmp_path / "db-gone"
    await api.apply([python_service("crasher", [str(CRASHER)], {"CRASH_MARKER": str(marker)},
                                    {"autoscaling.knative.dev/min-scale": "1", "autoscaling.knative.dev/max-scale": "1"})])
    await api.wait_service_ready("crasher")
    host = host_of("crasher")
    assert (await raw_get(plane.port, host)).status == 200

    crashed = await raw_get(plane.port, host, "/crash")
    assert crashed.status == 502, crashed  # the request in flight in the app that exited

    async def restarting():
        pods = await api.pods("default", "crasher-00001")
        return pods and not any(pod_ready(p) for p in pods)

    await api.wait_for("the crashed pod to be unready", restarting, timeout=10, interval=0.05)
    started = time.monotonic()
    answer = await raw_get(plane.port, host, request_id="it-42", timeout=30)  # waits: the pod restarts, crashes, backs off
    waited = time.monotonic() - started
    print(f"answered {answer.status} after {waited:.1f}s: {answer.body!r}")
    assert answer.status == 503, answer
    assert answer.body == b"revision default/crasher-00001 cannot serve requests: ExitCode1 (request id it-42)"
    assert answer.headers.get("retry-after") == "10"
    assert waited < 20, "the waiting request should fail in seconds, not at the revision's timeout"

    async def failed():
        rev = await api.get("revisions", "default", "crasher-00001")
        return rev if condition_of(rev, "ContainerHealthy").get("status") == "False" else None

    rev = await api.wait_for("the revision to report the crash", failed, timeout=10)
    healthy = condition_of(rev, "ContainerHealthy")
    assert healthy["reason"] == "ExitCode1" and "fatal: the database is gone" in healthy["message"], healthy
    assert condition_of(rev, "Ready")["status"] == "False"
    svc = await api.get("services", "default", "crasher")
    assert condition_of(svc, "Ready")["status"] == "False" and "ExitCode1" not in condition_of(svc, "Ready").get("reason", "")
    assert "the database is gone" in condition_of(svc, "Ready")["message"]
    pods = await asyncio.to_thread(cli, plane, "get", "pods")
    row = next(line.split() for line in pods.stdout.splitlines() if line.startswith("crasher-00001"))
    assert row[2] == "CrashLoopBackOff" and int(row[3]) >= 2, pods.stdout

    marker.unlink()  # the database is back: the next restart (after the back-off) serves
    await api.wait_service_ready("crasher", timeout=40)
    assert (await raw_get(plane.port, host)).status == 200
    assert condition_of(await api.get("revisions", "default", "crasher-00001"), "ContainerHealthy")["status"] == "True"


async def test_a_service_whose_revision_never_ran_answers_503_not_404(plane):
    await plane.api.apply([python_service("broken", ["-c", "import sys; print('missing setting'); sys.exit(3)"])])
    host = host_of("broken")

    async def refused():
        answer = await raw_get(plane.port, host, request_id="r-1", timeout=30)
        return answer if answer.status == 503 else None

    answer = await plane.api.wait_for("503 for the failed service's host", refused, timeout=30, interval=0.5)
    assert answer.body == b"revision default/broken-00001 cannot serve requests: ExitCode3 (request id r-1)", answer
    assert (await raw_get(plane.port, host_of("nobody"))).status == 404


async def test_progress_deadline_scales_a_revision_that_never_becomes_ready_to_zero(plane):
    api = plane.api
    await api.apply([python_service("stuck", ["-c", "import time; time.sleep(60)"], annotations={
        "serving.knative.dev/progress-deadline": "2s", "autoscaling.knative.dev/min-scale": "1"})])

    async def timed_out():
        rev = await api.get("revisions", "default", "stuck-00001")
        return rev if condition_of(rev, "Ready").get("reason") == "ProgressDeadlineExceeded" else None

    rev = await api.wait_for("ProgressDeadlineExceeded", timed_out, timeout=20)
    assert condition_of(rev, "Ready")["status"] == "False"
    assert "progress deadline (2s)" in condition_of(rev, "Ready")["message"]
    await api.wait_pods("stuck-00001", 0, timeout=20)
    answer = await raw_get(plane.port, host_of("stuck"), timeout=30)
    assert answer.status == 503 and b"stuck-00001" in answer.body and b"ProgressDeadlineExceeded" in answer.body, answer


async def test_apply_says_nothing_listens_on_port_within_seconds(plane, tmp_path):
    manifest = tmp_path / "quiet.yaml"
    manifest.write_text(json.dumps(python_service("quiet", ["-c", "import time; time.sleep(60)"])))
    started = time.monotonic()
    done = await asyncio.to_thread(cli, plane, "apply", "-f", str(manifest), "--timeout", "12s")
    took = time.monotonic() - started
    print(done.stdout, done.stderr, f"{took:.1f}s", sep="\n")
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if "nothing is listening on PORT=" in line]
    assert lines and "ContainerNotListening" in lines[0] and "after 5 s" in lines[0], done.stderr
    described = await asyncio.to_thread(cli, plane, "describe", "revision", "quiet-00001")
    assert "ContainerNotListening" in described.stdout and "nothing is listening on PORT=" in described.stdout, described.stdout
    pod = (await plane.api.pods("default", "quiet-00001"))[0]
    described = await asyncio.to_thread(cli, plane, "describe", "pod", pod["metadata"]["name"])
    assert "nothing is listening on PORT=" in described.stdout, described.stdout
