"""`dataplane queue-proxy`: the sidecar in front of every pod's app, configured by its environment."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from dataplane import logs
from dataplane.queueproxy.settings import SettingsError, from_env
from dataplane.queueproxy.sidecar import QueueProxy

if TYPE_CHECKING:
    import argparse


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

    try:
        uvloop.run(QueueProxy(settings).serve())
    except OSError as exc:
        print(f"queue-proxy: {exc}", file=sys.stderr)
        return 1
    return 0
