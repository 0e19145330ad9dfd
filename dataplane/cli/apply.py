"""``dataplane apply -f FILE``: create or update resources from manifests, then wait until they are Ready."""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import sys
import time
from typing import Any, TextIO

from dataplane.cli import kinds
from dataplane.cli.common import (
    DEFAULT_NAMESPACE,
    UsageError,
    add_common,
    client_for,
    detail_text,
    guard,
    namespace_of,
    print_api_error,
)
from dataplane.cli.http import ApiError, Client, path
from dataplane.cli.kinds import Kind
from dataplane.cli.manifests import Manifest, load_manifests

POLL_INTERVAL = 0.25
"""Seconds between readiness checks while ``apply`` waits."""
WAITED_FOR = ("services", "configurations", "routes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``dataplane apply``."""
    add_common(parser)
    parser.add_argument("-f", "--filename", action="append", required=True, metavar="FILE",
                        help="manifest file, directory or - for stdin (repeatable)")
    parser.add_argument("--no-wait", action="store_true", help="return once the server has accepted the resources")
    parser.add_argument("--timeout", type=_duration, default=300.0,
                        help="how long to wait for Ready, e.g. 300, 90s, 5m (default 300s)")


def _duration(text: str) -> float:
    parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text.strip())
    if not text.strip() or parts is None:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (use e.g. 300, 90s, 5m)")
    hours, minutes, seconds = (float(p) if p else 0.0 for p in parts.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise argparse.ArgumentTypeError("the timeout must be positive")
    return total


@guard
def run(args: argparse.Namespace) -> int:
    """Send every document in one request, print kubectl's result lines, then wait for Ready."""
    manifests = load_manifests(args.filename, sys.stdin)
    if not manifests:
        raise UsageError("no objects passed to apply")
    for manifest in manifests:
        meta = manifest.doc.setdefault("metadata", {})
        if args.namespace and meta.get("namespace") not in (None, args.namespace):
            raise UsageError(f'the namespace from the provided object "{meta["namespace"]}" does not match the '
                             f'namespace "{args.namespace}". You must pass \'--namespace={meta["namespace"]}\' '
                             "to perform this operation.")
        meta.setdefault("namespace", namespace_of(args))
    client = client_for(args)
    try:
        answer = client.post("/v1/apply", {"documents": [m.doc for m in manifests], "workingDir": _working_dir(manifests)})
    except ApiError as exc:
        print_api_error(exc, functools.partial(_apply_detail, manifests))
        return 1
    waits = []
    for result in answer.get("results") or []:
        name = str(result.get("name", ""))
        print(f"{kinds.ref_for_object(str(result.get('apiVersion', '')), str(result.get('kind', '')), name)} "
              f"{result.get('action', 'configured')}", flush=True)
        kind = kinds.for_object(str(result.get("apiVersion", "")), str(result.get("kind", "")))
        if kind is not None and kind.resource in WAITED_FOR:
            waits.append((kind, str(result.get("namespace") or DEFAULT_NAMESPACE), name))
    if args.no_wait or not waits:
        return 0
    return wait_ready(client, waits, args.timeout, Progress(sys.stderr))


def _working_dir(manifests: list[Manifest]) -> str:
    """Where the local runtime starts a container that names no workingDir: beside its manifest.

    The manifest's directory rather than the shell's, so that applying the same file from elsewhere
    changes nothing; the current directory when the documents come from stdin or several directories.
    """
    directories = {m.directory for m in manifests}
    if len(directories) == 1 and None not in directories:
        return str(directories.pop())
    return os.getcwd()


def _apply_detail(manifests: list[Manifest], detail: Any) -> str:
    if isinstance(detail, dict) and isinstance(detail.get("document"), int) and 0 <= detail["document"] < len(manifests):
        manifest = manifests[detail["document"]]
        where = f"{manifest.ref} ({manifest.source})"
        return "  " + ": ".join([where] + [str(detail[k]) for k in ("path", "message") if detail.get(k)])
    return detail_text(detail)


def readiness(obj: dict) -> tuple[str, str]:
    """``("ready" | "failed" | "pending", what to show)`` for a Service, Configuration or Route."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if generation is not None and observed != generation:
        return "pending", f"generation {generation} not yet observed"
    ready = kinds.condition(obj, "Ready")
    text = ": ".join(str(ready[k]) for k in ("reason", "message") if ready.get(k))
    if ready.get("status") == "True":
        return "ready", text
    if ready.get("status") == "False":
        return "failed", text or "Ready is False"
    return "pending", text or ("Ready is Unknown" if ready else "no Ready condition yet")


class Progress:
    """One status line: rewritten in place on a terminal, a new line per change otherwise."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._tty = stream.isatty()
        self._last: str | None = None
        self._shown = False

    def update(self, text: str) -> None:
        if text == self._last:
            return
        self._last = text
        if self._tty:
            width = max(shutil.get_terminal_size().columns - 1, 20)  # a wrapped line could not be rewritten
            self._stream.write("\r\x1b[K" + text[:width])
            self._shown = True
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def clear(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False
        self._last = None

    def say(self, text: str) -> None:
        """A permanent line."""
        self.clear()
        self._stream.write(text + "\n")
        self._stream.flush()


def wait_ready(client: Client, targets: list[tuple[Kind, str, str]], timeout: float, progress: Progress,
               interval: float = POLL_INTERVAL) -> int:
    """Poll each target until Ready; 1 on a failed condition or when ``timeout`` seconds run out."""
    deadline = time.monotonic() + timeout
    try:
        for kind, namespace, name in targets:
            label = f"{kind.singular}/{name}"
            while True:
                obj = client.get(path(kind.resource, namespace, name))
                state, text = readiness(obj)
                if state == "ready":
                    url = (obj.get("status") or {}).get("url")
                    progress.say(f"{label} is ready" + (f" at {url}" if url else ""))
                    break
                if state == "failed":
                    progress.say(f"error: {label} is not ready: {text}")
                    return 1
                progress.update(f"waiting for {label}: {text}")
                left = deadline - time.monotonic()
                if left <= 0:
                    progress.say(f"error: timed out after {timeout:g}s waiting for {label}: {text}")
                    return 1
                time.sleep(min(interval, left))
    finally:
        progress.clear()
    return 0
