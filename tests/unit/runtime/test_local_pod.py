"""A local pod's supervision, on fake processes and a fake probe: restarts and the kubelet's back-off on an
injected clock, exits reported as Kubernetes does, a queue-proxy that dies, readiness, and stopping."""

from __future__ import annotations

import asyncio
import errno
import json
import signal

import pytest

from dataplane.platform.local.pods import LocalPod
from tests.unit.runtime.fakeprocs import Clock, Launcher, Probe, template, until

NAME = "web-00001-deployment-abc123def-x1y2z"


async def started(tmp_path, ready: bool = False):
    """A pod on fake processes whose probe answers ``ready``, once it runs; and its fakes."""
    launcher, probe, clock, changes = Launcher(), Probe(ready), Clock(), []
    pod = LocalPod(NAME, template(tmp_path), tmp_path / "logs", 1.0, lambda: changes.append(pod.phase), clock=clock,
                   spawn=launcher, probe=probe)
    pod.start()
    await until(lambda: pod.phase == "Running", "pod running")
    return pod, launcher, probe, clock, changes


async def stopped(pod: LocalPod) -> None:
    pod.terminate("test over")
    await pod.done.wait()
    await pod.task


@pytest.fixture
async def rig(tmp_path):
    """A started pod that is not ready (its app does not answer); stopped at the end of the test."""
    parts = await started(tmp_path)
    yield parts
    await stopped(parts[0])


@pytest.fixture
async def ready_rig(tmp_path):
    """A started pod whose app answers at once."""
    parts = await started(tmp_path, ready=True)
    yield parts
    await stopped(parts[0])


async def test_a_pod_runs_its_queue_proxy_then_its_app(rig):
    pod, launcher, _, _, changes = rig
    assert [p.container for p in launcher.started] == ["queue-proxy", "user-container"]
    qp, app = launcher.qp(), launcher.app()
    assert qp.argv[1:] == ["-m", "dataplane", "queue-proxy"]
    assert (qp.env["SERVING_POD"], qp.env["USER_PORT"]) == (NAME, str(pod.ports["user"]))
    assert (app.argv, app.env["PORT"], app.env["A"], app.env["K_REVISION"]) == (["app"], str(pod.ports["user"]), "1", "web-00001")
    assert (pod.ready, pod.restarts, changes) == (False, 0, ["Running"])


async def test_a_pod_is_ready_when_its_queue_proxy_says_so(ready_rig):
    pod, _, probe, _, changes = ready_rig
    await until(lambda: pod.ready, "ready")
    assert probe.calls == 1 and changes == ["Running", "Running"]
    assert (pod.app_ready, pod.phase, pod.waiting_reason, pod.unready_reason) == (True, "Running", "", "")


# how long each run lasted (injected clock) -> the waits before each restart: "" restarted at once, else the back-off message
BACKOFF = [
    pytest.param([1.0], [""], id="the first crash restarts at once"),
    pytest.param([1.0, 1.0], ["", "back-off 10s"], id="the second waits 10 s"),
    pytest.param([1.0, 600.0], ["", ""], id="ten minutes of running starts over"),
    pytest.param([1.0, 599.0], ["", "back-off 10s"], id="just short of ten minutes does not"),
]


@pytest.mark.parametrize(("runs", "waits"), BACKOFF)
async def test_an_app_that_exits_is_restarted_with_the_kubelets_back_off(rig, runs, waits):
    pod, launcher, _, clock, _ = rig
    for i, (ran_for, wait) in enumerate(zip(runs, waits), start=1):
        clock.now += ran_for
        launcher.app().exit(1, f"boom {i}")
        await until(lambda: pod.restarts == i, "restart counted")
        if wait:
            assert (pod.waiting_reason, pod.waiting_message) == (
                "CrashLoopBackOff", f"{wait} restarting failed container=user-container pod={NAME}")
            assert len(launcher.of("user-container")) == i  # not started again yet
        else:
            await until(lambda: len(launcher.of("user-container")) == i + 1, "app started again")
            assert pod.waiting_reason == ""
        assert (pod.last_exit_code, pod.last_exit_reason) == (1, "Error")
        # each run has a log of its own (the one before is kept for `logs --previous`): the message quotes this run's
        assert pod.message == f"the command exited with code 1; last log lines: boom {i}"
        if not wait:
            assert (pod.log_dir / "user-container.previous.log").read_text() == f"boom {i}\n"
    assert len(launcher.of("queue-proxy")) == 1


# the app's returncode -> exit code, terminated reason, message
EXITS = [
    pytest.param(-signal.SIGKILL, 137, "Error", "the command killed by signal SIGKILL", id="killed"),
    pytest.param(0, 0, "Completed", "the command exited with code 0", id="exited cleanly"),
    pytest.param(2, 2, "Error", "the command exited with code 2", id="exit code"),
]


@pytest.mark.parametrize(("returncode", "code", "reason", "message"), EXITS)
async def test_exits_are_reported_as_kubernetes_does(rig, returncode, code, reason, message):
    pod, launcher, _, _, _ = rig
    launcher.app().exit(returncode)
    await until(lambda: pod.restarts == 1)
    assert (pod.last_exit_code, pod.last_exit_reason, pod.message) == (code, reason, message)


async def test_a_command_that_cannot_start_exits_127(rig):
    pod, launcher, _, _, _ = rig
    launcher.cannot_start = FileNotFoundError(errno.ENOENT, "No such file or directory")
    launcher.app().exit(1)
    await until(lambda: pod.last_exit_code == 127, "the restart failed")
    assert pod.message == "cannot start 'app': No such file or directory"
    # no process to wait for: straight to the next restart, which backs off
    assert (pod.restarts, pod.waiting_reason, pod.last_exit_reason) == (2, "CrashLoopBackOff", "Error")


async def test_a_queue_proxy_that_dies_is_restarted_and_the_app_kept(ready_rig):
    pod, launcher, probe, _, _ = ready_rig
    await until(lambda: pod.ready)
    app = launcher.app()
    launcher.qp().exit(-signal.SIGKILL)
    await until(lambda: pod.qp_restarts == 1, "queue-proxy restarted")
    assert len(launcher.of("queue-proxy")) == 2 and launcher.app() is app and app.returncode is None
    assert (pod.restarts, pod.last_exit_code) == (0, None)
    await until(lambda: pod.ready, "ready again through the new queue-proxy")


# why the pod is told to stop -> stop_reason (what the event lines print)
STOPS = [pytest.param("scaled down", id="scale down"), pytest.param("revision deleted", id="revision deleted")]


@pytest.mark.parametrize("reason", STOPS)
async def test_terminate_drains_the_queue_proxy_before_the_app(tmp_path, reason):
    launcher, probe = Launcher(), Probe(ready=True)
    pod = LocalPod(NAME, template(tmp_path), tmp_path, 1.0, lambda: None, spawn=launcher, probe=probe)
    pod.start()
    await until(lambda: pod.ready)
    pod.terminate(reason)
    assert (pod.terminating, pod.ready, pod.phase, pod.stop_reason) == (True, False, "Terminating", reason)
    pod.terminate("again")  # a second request changes nothing
    await pod.done.wait()
    await pod.task
    assert (pod.phase, pod.stop_reason) == ("Succeeded", reason)
    qp, app = launcher.qp(), launcher.app()
    assert (qp.signals, app.signals) == ([signal.SIGTERM], [signal.SIGTERM])
    assert launcher.started.index(qp) < launcher.started.index(app)


async def test_terminate_during_back_off_stops_at_once(rig):
    pod, launcher, _, _, _ = rig
    for i in (1, 2):
        launcher.app().exit(1)
        await until(lambda: pod.restarts == i)
    assert pod.waiting_reason == "CrashLoopBackOff"
    pod.terminate()
    await until(lambda: pod.done.is_set(), "stopped without waiting out the back-off")
    assert launcher.qp().signals == [signal.SIGTERM] and len(launcher.of("user-container")) == 2


class SwallowingProbe(Probe):
    """Says "not ready" when cancelled, as ``probe_once`` does when 3.11's ``asyncio.wait_for`` turns a cancel
    that meets its timeout into ``TimeoutError`` (seen: a stopping `dataplane up` held by a never-ready pod)."""

    async def __call__(self, address: str, timeout: float) -> bool:
        self.calls += 1
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return False
        return False


async def test_a_probe_that_spends_the_cancel_does_not_hold_a_stopping_pod(tmp_path):
    launcher, probe = Launcher(), SwallowingProbe()
    pod = LocalPod(NAME, template(tmp_path), tmp_path, 1.0, lambda: None, spawn=launcher, probe=probe)
    pod.start()
    await until(lambda: probe.calls == 1, "probing")
    pod.terminate("test over")
    await asyncio.wait_for(pod.done.wait(), 5)
    await pod.task
    assert probe.calls == 1 and launcher.qp().signals == [signal.SIGTERM]


# -- a pod started ahead: its queue-proxy held until the pod starts ----------------------------------


def standby(tmp_path):
    launcher, probe, changes = Launcher(), Probe(ready=True), []
    pod = LocalPod(NAME, template(tmp_path), tmp_path / "logs", 1.0, lambda: changes.append(pod.phase), clock=Clock(),
                   spawn=launcher, probe=probe)
    pod.prestart()
    return pod, launcher, changes


async def test_prestart_starts_only_the_queue_proxy_held_on_its_input(tmp_path):
    pod, launcher, changes = standby(tmp_path)
    await until(lambda: launcher.started, "queue-proxy spawned")
    qp = launcher.qp()
    assert [p.container for p in launcher.started] == ["queue-proxy"]
    assert qp.env["QUEUE_START_ON_STDIN"] == "1" and qp.env["SERVING_POD"] == NAME and qp.stdin is not None
    assert (qp.stdin.written, qp.stdin.closed) == (b"", False)
    assert (pod.phase, pod.ready, changes) == ("Pending", False, [])  # nobody hears of it yet
    await pod.discard()


async def test_start_releases_the_held_queue_proxy_on_fresh_ports_after_spawning_the_app(tmp_path):
    pod, launcher, changes = standby(tmp_path)
    await until(lambda: launcher.started, "queue-proxy spawned")
    held_ports = dict(pod.ports)
    pod.start()
    await until(lambda: pod.ready, "ready")
    qp = launcher.qp()
    assert [p.container for p in launcher.started] == ["queue-proxy", "user-container"]  # the same queue-proxy
    assert launcher.released_after == ["queue-proxy", "user-container"]  # let go once the app was spawned
    # ports chosen long ago may have been taken since: the pod gets fresh ones, the queue-proxy hears of them
    line = qp.stdin.written
    assert qp.stdin.closed and line.endswith(b"\n") and line.count(b"\n") == 1
    assert set(pod.ports.values()).isdisjoint(held_ports.values())
    assert json.loads(line) == {
        "QUEUE_SERVING_PORT": str(pod.ports["serving"]), "QUEUE_ADMIN_PORT": str(pod.ports["admin"]),
        "QUEUE_STATS_PORT": str(pod.ports["stats"]), "QUEUE_METRICS_PORT": str(pod.ports["metrics"]),
        "USER_PORT": str(pod.ports["user"]),
    }
    assert qp.env["USER_PORT"] == str(held_ports["user"]) and launcher.app().env["PORT"] == str(pod.ports["user"])
    assert launcher.app().env["PORT"] == str(pod.ports["user"]) and changes[0] == "Running"
    await stopped(pod)
    assert qp.signals == [signal.SIGTERM]


async def test_a_standby_whose_queue_proxy_died_starts_a_fresh_one(tmp_path):
    pod, launcher, _ = standby(tmp_path)
    await until(lambda: launcher.started, "queue-proxy spawned")
    held = launcher.qp()
    held.exit(-signal.SIGKILL)
    pod.start()
    await until(lambda: pod.ready, "ready")
    fresh = launcher.qp()
    assert fresh is not held and "QUEUE_START_ON_STDIN" not in fresh.env and fresh.stdin is None
    assert held.stdin.written == b"" and pod.qp_restarts == 0
    assert fresh.env["QUEUE_SERVING_PORT"] == str(pod.ports["serving"]) != held.env["QUEUE_SERVING_PORT"]
    await stopped(pod)


async def test_discard_ends_the_held_queue_proxys_input_and_leaves_no_logs(tmp_path):
    pod, launcher, changes = standby(tmp_path)
    await until(lambda: launcher.started, "queue-proxy spawned")
    assert pod.log_dir.is_dir()
    await pod.discard()
    qp = launcher.qp()
    assert (qp.stdin.written, qp.stdin.closed, qp.returncode) == (b"", True, 0)
    assert not pod.log_dir.exists() and changes == [] and [p.container for p in launcher.started] == ["queue-proxy"]
