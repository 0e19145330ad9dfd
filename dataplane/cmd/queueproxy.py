"""`dataplane queue-proxy`: the sidecar in front of every pod's app, configured by its environment."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from dataplane import logs
from dataplane.queueproxy.settings import START_ON_STDIN_ENV, SettingsError, from_env
from dataplane.queueproxy.sidecar import QueueProxy

if TYPE_CHECKING:
    import argparse

MAX_START_LINE = 64 * 1024
"""Bytes a start line may have (a pipe's buffer: the platform's write never waits on a loading sidecar)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Configured by Knative's environment variables: CONTAINER_CONCURRENCY, QUEUE_SERVING_PORT, USER_PORT, "
        "REVISION_TIMEOUT_SECONDS, SERVING_NAMESPACE, SERVING_CONFIGURATION, SERVING_REVISION, SERVING_POD, "
        "SERVING_POD_IP, SERVING_READINESS_PROBE and the optional ones in the README; LOG_FORMAT (json or text) "
        "and LOG_LEVEL for its log lines."
    )


def run(args: argparse.Namespace | None) -> int:
    """Serve until drained; ``args`` is unused (everything comes from the environment)."""
    try:
        settings = from_env()
    except SettingsError as exc:
        print(f"queue-proxy: {exc}", file=sys.stderr)
        return 2
    # no flags (the sidecar skips argparse): LOG_FORMAT and LOG_LEVEL, which the platform sets
    logs.setup_from_env("queueproxy")
    import uvloop

    if os.environ.get(START_ON_STDIN_ENV) == "1":
        try:
            changes = wait_for_start()
        except ValueError as exc:
            print(f"queue-proxy: the start line: {exc}", file=sys.stderr)
            return 2
        if changes is None:
            print(f"queue-proxy: {START_ON_STDIN_ENV}=1 and no start line before the end of the standard input: not serving", file=sys.stderr)
            return 0
        os.environ.update(changes)
        try:
            settings = from_env()
        except SettingsError as exc:
            print(f"queue-proxy: {exc}", file=sys.stderr)
            return 2
    try:
        uvloop.run(QueueProxy(settings).serve())
    except OSError as exc:
        print(f"queue-proxy: {exc}", file=sys.stderr)
        return 1
    return 0


def wait_for_start() -> dict[str, str] | None:
    """Started ahead of its pod: hold, loaded, until told to go or not needed (the end of the input: None).

    The start line is a JSON object of environment variables to serve with over those it was started with
    (the pod's ports, chosen as it starts: ports chosen long before could have been taken since); ``{}``
    starts it as it is. ValueError for anything else. The interpreter's start and the imports (most of a
    sidecar's 100+ ms to listen) are then behind it when a request wakes a revision from zero; waiting on a
    pipe costs no CPU.
    """
    import json

    from dataplane.http.memory import release_memory

    release_memory()  # what the imports freed, for however long it waits (this loads ctypes, too)
    try:
        line = sys.stdin.buffer.readline(MAX_START_LINE + 1)
    except (OSError, ValueError, AttributeError):  # no standard input at all
        return None
    if not line:
        return None
    if len(line) > MAX_START_LINE:
        raise ValueError(f"longer than {MAX_START_LINE} bytes")
    try:
        changes = json.loads(line)
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(changes, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in changes.items()):
        raise ValueError("not an object of strings")
    for key, value in changes.items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise ValueError(f"{key!r} is not an environment variable")
    return changes
