"""The kubelet's crash-loop back-off for a pod's app, and how an exit is reported (pure, clock injected)."""

from __future__ import annotations

import signal
from pathlib import Path

from dataplane.platform.local.podlogs import LogReader, render

INITIAL = 10.0
"""Seconds the kubelet waits before the second restart of a crashing container."""
MAXIMUM = 300.0
"""Cap of the doubling delay (5 min)."""
RESET_AFTER = 600.0
"""A container that ran this long before exiting starts the back-off over (10 min)."""
LOG_TAIL_LINES = 3
LOG_TAIL_BYTES = 4096


class CrashBackoff:
    """Delay before restarting an app that exited, as the kubelet's: the first restart is at once,
    then 10 s, doubling up to 5 min; a run of 10 min or more resets it."""

    def __init__(self, initial: float = INITIAL, maximum: float = MAXIMUM, reset_after: float = RESET_AFTER):
        self.initial = initial
        self.maximum = maximum
        self.reset_after = reset_after
        self.delay = 0.0

    def next_delay(self, ran_for: float) -> float:
        """Seconds to wait before the next start of an app that exited after ``ran_for`` seconds."""
        if ran_for >= self.reset_after:
            self.delay = 0.0
        current = self.delay
        self.delay = self.initial if current == 0.0 else min(current * 2, self.maximum)
        return current


def exit_code(returncode: int) -> int:
    """The exit code as Kubernetes reports it: a process killed by signal N exited with 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def exit_reason(returncode: int) -> str:
    """The kubelet's terminated reason: ``Completed`` for 0, else ``Error``."""
    return "Completed" if returncode == 0 else "Error"


def exit_message(returncode: int, log_tail: str) -> str:
    """What the app's exit says, with the last lines it logged."""
    if returncode < 0:
        try:
            what = f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            what = f"killed by signal {-returncode}"
    else:
        what = f"exited with code {returncode}"
    return f"the command {what}" + (f"; last log lines: {log_tail}" if log_tail else "")


def log_tail(path: Path, lines: int = LOG_TAIL_LINES, limit: int = LOG_TAIL_BYTES) -> str:
    """The last ``lines`` non-empty lines of a log (reading at most its last ``limit`` bytes), joined by `` | ``."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read(limit)
    except OSError:
        return ""
    entries = LogReader().feed(data if data.endswith(b"\n") else data + b"\n")
    text = render(entries, timestamps=False).decode("utf-8", "replace")
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[:limit]
