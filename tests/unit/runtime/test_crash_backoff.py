"""The local pod's crash back-off (the kubelet's), how an app's exit is reported, and the pod object that shows it."""

from __future__ import annotations

import signal

import pytest

from dataplane.platform.local.backoff import CrashBackoff, exit_code, exit_message, exit_reason, log_tail
from dataplane.platform.local.podspec import PodTemplate
from dataplane.platform.local.pods import LocalPod
from dataplane.platform.local.runtime import pod_object


def test_restart_at_once_then_ten_seconds_doubling_to_five_minutes():
    backoff = CrashBackoff()
    delays = [backoff.next_delay(ran_for=1.0) for _ in range(9)]
    assert delays == [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0]


def test_ten_minutes_of_running_resets_the_back_off():
    backoff = CrashBackoff()
    for _ in range(5):
        backoff.next_delay(ran_for=30.0)
    assert backoff.next_delay(ran_for=599.0) == 160.0  # just short of 10 min: still backing off
    assert backoff.next_delay(ran_for=600.0) == 0.0  # ran 10 min: a fresh start
    assert backoff.next_delay(ran_for=1.0) == 10.0


def test_exits_are_reported_as_kubernetes_does():
    assert (exit_code(1), exit_reason(1)) == (1, "Error")
    assert (exit_code(0), exit_reason(0)) == (0, "Completed")
    assert (exit_code(-signal.SIGKILL), exit_reason(-signal.SIGKILL)) == (137, "Error")
    assert exit_message(3, "boom | db gone") == "the command exited with code 3; last log lines: boom | db gone"
    assert exit_message(-signal.SIGSEGV, "") == "the command killed by signal SIGSEGV"


def test_log_tail_keeps_the_last_lines_of_a_bounded_read(tmp_path):
    log = tmp_path / "user-container.log"
    log.write_bytes(b"x" * 10_000 + b"\nstarting\n\nTraceback (most recent call last)\nKeyError: 'DB_URL'\n")
    assert log_tail(log) == "starting | Traceback (most recent call last) | KeyError: 'DB_URL'"
    assert log_tail(log, lines=1, limit=64) == "KeyError: 'DB_URL'"
    assert log_tail(tmp_path / "missing.log") == ""


@pytest.fixture
def pod_template(tmp_path) -> PodTemplate:
    return PodTemplate(
        namespace="default", revision="crash-00001", configuration="crash", service="crash", argv=("python3", "app.py"),
        env={}, working_dir=str(tmp_path), container_concurrency=0, timeout=300, response_start_timeout=0, idle_timeout=0,
        readiness_probe=None, labels={"serving.knative.dev/revision": "crash-00001"},
    )


def test_pod_object_shows_back_off_restarts_and_the_exit(tmp_path, pod_template):
    pod = LocalPod("crash-00001-deployment-abc-x1y2z", pod_template, tmp_path, 1.0, lambda: None)
    pod.phase = "Running"
    pod.restarts = 2
    pod.waiting_reason, pod.waiting_message = "CrashLoopBackOff", "back-off 20s restarting failed container=user-container"
    (tmp_path / "user-container.log").write_text("listening\nfatal: lost the database\n")
    pod._record_exit(1)
    user = pod_object(pod)["status"]["containerStatuses"][0]
    assert user["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container=user-container"}}
    assert user["restartCount"] == 2
    assert user["lastState"]["terminated"] == {
        "exitCode": 1, "reason": "Error",
        "message": "the command exited with code 1; last log lines: listening | fatal: lost the database",
    }


def test_pod_object_says_nothing_listens_on_port(tmp_path, pod_template):
    pod = LocalPod("quiet-00001-deployment-abc-x1y2z", pod_template, tmp_path, 1.0, lambda: None)
    pod.phase = "Running"
    pod.unready_reason, pod.unready_message = "ContainerNotListening", "nothing is listening on PORT=8123 after 5 s"
    ready = pod_object(pod)["status"]["conditions"][0]
    assert ready == {"type": "Ready", "status": "False", "reason": "ContainerNotListening",
                     "message": "nothing is listening on PORT=8123 after 5 s"}
