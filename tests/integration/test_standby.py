"""A queue-proxy started ahead of its pod: held, loaded, until a start line on its standard input; and the local
runtime keeping one such standby per routed revision and handing it to the next pod, on real processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from dataplane.api import keys
from dataplane.http.probe import connect_now, probe_once
from dataplane.platform.local.runtime import LocalRuntime
from dataplane.platform.local.store import SqliteStore
from dataplane.ports import free_port
from tests.support import TESTAPP, dataplane_cmd, queue_proxy_env, raw_exchange, start_testapp, status_of, wait_port


def held_queue_proxy(app_port: int) -> tuple[subprocess.Popen, dict[str, int]]:
    ports, env = queue_proxy_env(app_port)
    env["QUEUE_START_ON_STDIN"] = "1"
    proc = subprocess.Popen(dataplane_cmd("queue-proxy"), env={**os.environ, **env}, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, ports


def loaded(pid: int) -> bool:
    """Whether the process has mapped uvloop's extension: what it needs to serve is imported."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return "/uvloop/loop." in f.read()
    except OSError:
        return False


def reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    for pipe in (proc.stdin, proc.stderr):
        if pipe is not None:
            pipe.close()


async def test_a_held_queue_proxy_serves_only_after_its_start_line():
    app = start_testapp()
    proc, ports = held_queue_proxy(app.port)
    try:
        await until(lambda: loaded(proc.pid), "the held queue-proxy loaded")
        await asyncio.sleep(0.5)  # long enough to have listened, were it not held
        assert proc.poll() is None and connect_now("127.0.0.1", ports["serving"]) is False
        serving = free_port()  # the start line moves it: the platform picks a pod's ports as it starts
        proc.stdin.write(json.dumps({"QUEUE_SERVING_PORT": str(serving)}).encode() + b"\n")
        proc.stdin.flush()
        wait_port(serving, proc=proc)
        answer = await raw_exchange(serving, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status_of(answer) == 200 and answer.endswith(b"hello")
        assert connect_now("127.0.0.1", ports["serving"]) is False
    finally:
        reap(proc)
        app.stop()


async def test_a_held_queue_proxy_whose_input_ends_exits_without_serving():
    app = start_testapp()
    proc, ports = held_queue_proxy(app.port)
    try:
        proc.stdin.close()
        assert proc.wait(15) == 0
        assert b"no start line before the end of the standard input: not serving" in proc.stderr.read()
        assert connect_now("127.0.0.1", ports["serving"]) is False
    finally:
        reap(proc)
        app.stop()


# a start line that is not a JSON object of environment variables -> what the queue-proxy says
BAD_LINES = [
    pytest.param(b"start\n", b"not JSON", id="not JSON"),
    pytest.param(b'["a"]\n', b"not an object of strings", id="a list"),
    pytest.param(b'{"QUEUE_SERVING_PORT": 8080}\n', b"not an object of strings", id="a number"),
    pytest.param(b'{"A=B": "1"}\n', b"'A=B' is not an environment variable", id="= in a name"),
    pytest.param(b'{"": "1"}\n', b"'' is not an environment variable", id="empty name"),
    pytest.param(b'{"USER_PORT": "x"}\n', b"USER_PORT", id="a bad setting"),
    pytest.param(b'{"A": "' + b"x" * 70000 + b'"}\n', b"longer than 65536 bytes", id="too long"),
]


@pytest.mark.parametrize(("line", "said"), BAD_LINES)
async def test_a_bad_start_line_is_refused_and_nothing_served(line, said):
    proc, ports = held_queue_proxy(free_port())
    try:
        proc.stdin.write(line)
        proc.stdin.close()
        assert proc.wait(30) == 2
        assert said in proc.stderr.read()
        assert connect_now("127.0.0.1", ports["serving"]) is False
    finally:
        reap(proc)


def routed_revision() -> dict:
    return {
        "apiVersion": keys.API_VERSION,
        "kind": "Revision",
        "metadata": {"name": "web-00001", "namespace": "default", "uid": "u1",
                     "labels": {keys.CONFIGURATION_LABEL: "web", keys.SERVICE_LABEL: "web",
                                keys.ROUTING_STATE_LABEL: keys.ROUTING_STATE_ACTIVE}},
        "spec": {"containers": [{"image": "local/testapp", "command": [sys.executable, str(TESTAPP)]}]},
    }


async def until(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_the_runtime_hands_its_standby_to_the_pod_a_cold_start_needs(tmp_path):
    store = SqliteStore(tmp_path / "state.db")
    runtime = LocalRuntime(store, tmp_path / "home", drain_quiet=0.1)
    try:
        rev = await store.create(routed_revision())
        await runtime.ensure_revision(rev, 0)
        dep = runtime.deployments[("default", "web-00001")]
        await until(lambda: dep.standby is not None, "a standby")
        spare = dep.standby
        assert runtime.pods() == []
        await until(lambda: spare.held.done(), "the standby's queue-proxy spawned")
        held_pid = spare.qp.pid
        await until(lambda: loaded(held_pid), "the standby's queue-proxy loaded")
        await asyncio.sleep(0.5)
        held_ports = dict(spare.ports)
        assert spare.qp.returncode is None and connect_now("127.0.0.1", held_ports["serving"]) is False

        await runtime.scale("default", "web-00001", 1)
        await until(lambda: runtime.pods() and runtime.pods()[0].ready, "the pod ready")
        (pod,) = runtime.pods()
        assert pod is spare and pod.qp.pid == held_pid and pod.app is not None
        assert pod.ports["serving"] != held_ports["serving"]  # chosen as it started
        assert await probe_once(pod.address, 2.0)
        answer = await raw_exchange(pod.ports["serving"], b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status_of(answer) == 200 and answer.endswith(b"hello")
        # the next standby once this pod is ready, held like the first
        await until(lambda: dep.standby is not None and dep.standby.held.done(), "a new standby")
        second = dep.standby
        assert second is not pod and second.qp.returncode is None and second.log_dir.is_dir()
    finally:
        await runtime.close()
        store.close()
    # closing stops the pod and discards the standby, whose (empty) logs go with it
    assert pod.qp.returncode is not None and pod.app.returncode is not None
    assert second.qp.returncode == 0 and not second.log_dir.exists() and pod.log_dir.is_dir()
