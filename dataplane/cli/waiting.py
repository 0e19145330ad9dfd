"""Waiting for a Service as ``kn`` does: a timed line per new Ready message, until Ready, a lasting failure or a timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from dataplane.cli.apply import readiness
from dataplane.cli.kinds import condition

POLL_INTERVAL = 0.25
"""Seconds between readiness checks."""


@dataclass
class Outcome:
    """How a wait ended: the last object seen, and the error to report when it did not become Ready."""

    obj: dict
    error: str | None = None


def wait_for_ready(get: Callable[[], dict], out: TextIO, timeout: float, window: float,
                   clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                   interval: float = POLL_INTERVAL) -> Outcome:
    """Poll ``get`` until the object is Ready.

    A Ready=False is final only once it has lasted ``window`` seconds (kn's ``--wait-window``): a rollout may
    pass through one. Each new Ready message is printed with the seconds since the start.
    """
    start = clock()
    failed_since: float | None = None
    shown = None
    while True:
        obj = get()
        state, text = readiness(obj)
        now = clock()
        if state == "ready":
            out.write(f"{now - start:8.3f}s Ready to serve.\n")
            out.flush()
            return Outcome(obj)
        message = str(condition(obj, "Ready").get("message") or text)
        if message != shown:
            out.write(f"{now - start:8.3f}s {message}\n")
            out.flush()
            shown = message
        if state == "failed":
            failed_since = now if failed_since is None else failed_since
            if now - failed_since >= window:
                return Outcome(obj, text)
        else:
            failed_since = None
        if now - start >= timeout:
            return Outcome(obj, f"timeout: not ready after {timeout:g} seconds: {text}")
        sleep(max(0.0, min(interval, start + timeout - now)))
