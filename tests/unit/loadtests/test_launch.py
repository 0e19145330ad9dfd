"""Pinning, ports and readiness of processes under test."""

from __future__ import annotations

import socket
import sys

import pytest

from loadtests._launch import (
    Pinning,
    free_port,
    pin_argv,
    pinning_for,
    start_process,
    stop_process,
    wait_port,
)


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [
        ({0, 1}, Pinning(server_cpu=1, load_cpu=0)),
        ({2, 5, 7}, Pinning(server_cpu=5, load_cpu=2)),
        ({0}, Pinning(server_cpu=None, load_cpu=None)),
    ],
)
def test_pinning_for(cpus, expected):
    assert pinning_for(cpus) == expected


def test_single_cpu_is_not_pinned():
    assert not pinning_for({3}).pinned
    assert pin_argv(["wrk", "x"], None) == ["wrk", "x"]


def test_pin_argv_uses_taskset():
    assert pin_argv(["nginx"], 1) == ["taskset", "-c", "1", "nginx"]


def test_free_port_can_be_bound():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_wait_port_returns_once_listening():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        wait_port(s.getsockname()[1], timeout_s=5)


def test_wait_port_times_out_on_a_closed_port():
    with pytest.raises(TimeoutError):
        wait_port(free_port(), timeout_s=0.2)


def test_wait_port_fails_fast_when_the_process_exits(tmp_path):
    log = tmp_path / "out.log"
    code = "print('bad config'); raise SystemExit(3)"
    proc = start_process([sys.executable, "-c", code], None, str(log))
    try:
        with pytest.raises(RuntimeError, match="exited with 3"):
            wait_port(free_port(), timeout_s=30, proc=proc)
    finally:
        stop_process(proc)
    assert "bad config" in log.read_text()


def test_stop_process_terminates():
    proc = start_process([sys.executable, "-c", "import signal; signal.pause()"], None)
    assert stop_process(proc) == -15
    assert proc.poll() == -15
