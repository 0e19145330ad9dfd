"""A private `dataplane up` for a scenario or a test: free loopback ports, its own home, always stopped.

Pods run in sessions of their own (so a stray signal to the terminal does not
reach them), which also means killing `dataplane up` alone would orphan them:
:meth:`LocalInstall.stop` asks it to stop (it drains its pods), and only if that
fails kills it together with every process it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dataplane.ports import free_port
from dataplane.platform.local.home import read_token
from loadtests._launch import wait_port


def parent_of(pid: int) -> int | None:
    """The parent pid from /proc, or None if ``pid`` is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name is in parentheses and may itself contain spaces or ')'
    return int(stat[stat.rfind(b")") + 2 :].split()[1])


def descendants(pid: int) -> list[int]:
    """Every living process below ``pid`` (children, their children, ...)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = parent_of(int(entry))
            if ppid is not None:
                parents[int(entry)] = ppid
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, ppid in parents.items() if ppid in frontier}
        found.extend(sorted(frontier))
    return found


def cmdline(pid: int) -> list[str]:
    """The argv of ``pid`` ([] if it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except OSError:
        return []


def environ(pid: int) -> dict[str, str]:
    """The environment ``pid`` was started with ({} if it is gone or not readable)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def listening_ports(pid: int) -> set[int]:
    """TCP ports ``pid`` listens on: its socket inodes matched against the LISTEN rows of /proc/net/tcp{,6}."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # fields: sl local_address rem_address st ... inode (10th)
            if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class LocalInstall:
    """`dataplane up` on free ports with ``home`` as its state directory; output goes to ``log_path``."""

    def __init__(self, home: Path, log_path: Path, port: int | None = None, api_port: int | None = None):
        self.home = home
        self.log_path = log_path
        self.port = port or free_port()
        self.api_port = api_port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def router_url(self) -> str:
        """Where requests enter (the activator)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The control API (and the autoscaler under /autoscaler/)."""
        return f"http://127.0.0.1:{self.api_port}"

    def token(self) -> str | None:
        """The control API token of the running install (None before it has started)."""
        return read_token(self.home)

    def start(self, timeout: float = 30.0) -> None:
        """Start it and wait until both the control API and the router accept connections."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dataplane", "up", "--port", str(self.port), "--api-port", str(self.api_port), "--home", str(self.home)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            wait_port(self.api_port, timeout_s=timeout, proc=self.proc)
            wait_port(self.port, timeout_s=timeout, proc=self.proc)
        except Exception:
            self.stop(timeout=5)
            raise RuntimeError(f"dataplane up did not start; its log:\n{self.log_tail()}") from None

    def log_tail(self, size: int = 3000) -> str:
        """The end of the install's log."""
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def activator_pid(self) -> int | None:
        """The activator child of `dataplane up`."""
        if self.proc is None:
            return None
        for pid in descendants(self.proc.pid):
            argv = cmdline(pid)
            if "activator" in argv and "dataplane" in argv:
                return pid
        return None

    def activator_metrics_port(self, wait: float = 5.0) -> int | None:
        """The activator's metrics port: `dataplane up` binds it to port 0, so it is read from /proc.

        The activator binds it just after the router port, so this waits up to ``wait`` seconds for it.
        """
        deadline = time.monotonic() + wait
        while True:
            pid = self.activator_pid()
            others = listening_ports(pid) - {self.port} if pid is not None else set()
            if others or time.monotonic() >= deadline:
                return min(others) if others else None
            time.sleep(0.05)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait (pods drain); on timeout SIGKILL it and everything below it. Returns its exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            below = descendants(proc.pid)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                below = sorted(set(below) | set(descendants(proc.pid)))
                proc.kill()
                proc.wait(10)
                for pid in below:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        return proc.returncode
