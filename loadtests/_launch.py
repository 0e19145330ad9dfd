"""Start processes under test: ports, CPU pinning, readiness, shutdown."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time

from dataplane.ports import free_port as free_port  # the benchmarks take it from here
from loadtests._proc import child_pids


@dataclasses.dataclass(frozen=True)
class Pinning:
    """Which CPU the process under test and the load generator run on.

    ``None`` means "not pinned": on a machine with a single usable CPU both
    must share it, and pinning would only hide that.
    """

    server_cpu: int | None
    load_cpu: int | None

    @property
    def pinned(self) -> bool:
        """Whether processes are pinned at all."""
        return self.server_cpu is not None


def pinning_for(cpus: set[int]) -> Pinning:
    """Pinning for the given usable CPUs: server on the second, load on the first."""
    if len(cpus) < 2:
        return Pinning(None, None)
    ordered = sorted(cpus)
    return Pinning(server_cpu=ordered[1], load_cpu=ordered[0])


def detect_pinning() -> Pinning:
    """Pinning for this process's usable CPUs; says so on stderr when it cannot pin."""
    pinning = pinning_for(os.sched_getaffinity(0))
    if not pinning.pinned:
        print("harness: only one usable CPU, processes are not pinned", file=sys.stderr)
    return pinning


def pin_argv(argv: list[str], cpu: int | None) -> list[str]:
    """``argv`` prefixed with ``taskset -c cpu``, or unchanged for ``None``."""
    if cpu is None:
        return list(argv)
    return ["taskset", "-c", str(cpu), *argv]


def start_process(
    argv: list[str], cpu: int | None, log_path: str | None = None, env: dict | None = None
) -> subprocess.Popen:
    """Start ``argv`` pinned to ``cpu``, output to ``log_path`` (or discarded)."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        # A new session keeps a Ctrl-C at the terminal from reaching it
        # before the harness has measured and stopped it in order.
        return subprocess.Popen(
            pin_argv(argv, cpu),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    finally:
        if log is not subprocess.DEVNULL:
            log.close()


def wait_port(
    port: int,
    host: str = "127.0.0.1",
    timeout_s: float = 10.0,
    proc: subprocess.Popen | None = None,
) -> None:
    """Wait until ``host:port`` accepts a TCP connection.

    Raises ``TimeoutError`` after ``timeout_s``, or ``RuntimeError`` at once if
    ``proc`` exits first (a bad config should not cost the whole timeout).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{host}:{port} not accepting after {timeout_s}s") from None
            time.sleep(0.05)


def stop_process(proc: subprocess.Popen, timeout_s: float = 5.0) -> int:
    """SIGTERM ``proc``, SIGKILL it if it lingers; return its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)
    return proc.returncode


def wait_children(pid: int, count: int = 1, timeout_s: float = 10.0) -> list[int]:
    """Wait until ``pid`` has at least ``count`` child processes; return their pids."""
    deadline = time.monotonic() + timeout_s
    while True:
        kids = child_pids(pid)
        if len(kids) >= count:
            return kids
        if time.monotonic() >= deadline:
            raise TimeoutError(f"pid {pid} has {len(kids)} children after {timeout_s}s")
        time.sleep(0.05)
