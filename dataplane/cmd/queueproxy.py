"""`dataplane queue-proxy`: the sidecar in front of every pod's app, configured by its environment."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from dataplane.queueproxy.settings import START_ON_STDIN_ENV, SettingsError, from_env
from dataplane.queueproxy.sidecar import QueueProxy

if TYPE_CHECKING:
    import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Configured by Knative's environment variables: CONTAINER_CONCURRENCY, QUEUE_SERVING_PORT, USER_PORT, "
        "REVISION_TIMEOUT_SECONDS, SERVING_NAMESPACE, SERVING_CONFIGURATION, SERVING_REVISION, SERVING_POD, "
        "SERVING_POD_IP, SERVING_READINESS_PROBE and the optional ones in the README."
    )


def run(args: argparse.Namespace | None) -> int:
    """Serve until drained; ``args`` is unused (everything comes from the environment)."""
    try:
        settings = from_env()
    except SettingsError as exc:
        print(f"queue-proxy: {exc}", file=sys.stderr)
        return 2
    import uvloop

    if os.environ.get(START_ON_STDIN_ENV) == "1" and not wait_for_start():
        print(f"queue-proxy: {START_ON_STDIN_ENV}=1 and no start line before the end of the standard input: not serving", file=sys.stderr)
        return 0
    try:
        uvloop.run(QueueProxy(settings).serve())
    except OSError as exc:
        print(f"queue-proxy: {exc}", file=sys.stderr)
        return 1
    return 0


def wait_for_start() -> bool:
    """Started ahead of its pod: hold, loaded, until told to go (a line) or not needed (end of input).

    The interpreter's start and the imports (most of a sidecar's 100+ ms to listen) are then behind
    it when a request wakes a revision from zero; waiting on a pipe costs no CPU.
    """
    from dataplane.http.memory import release_memory

    release_memory()  # what the imports freed, for however long it waits (this loads ctypes, too)
    try:
        line = sys.stdin.buffer.readline()
    except (OSError, ValueError, AttributeError):  # no standard input at all
        return False
    return bool(line)
