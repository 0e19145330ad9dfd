"""``dataplane logs POD | ksvc/NAME | revision/NAME``: container logs, followed with ``-f``.

A Service or Revision selects every pod of it; each line is then prefixed ``[pod/NAME/CONTAINER]`` as kubectl's
``--prefix`` does, pod after pod (or interleaved as they come with ``-f``).
"""

from __future__ import annotations

import argparse
import codecs
import sys
import threading
import time
from collections.abc import Callable

from dataplane.api import keys
from dataplane.api.durations import parse_duration_seconds
from dataplane.cli import kinds
from dataplane.cli.common import UsageError, add_common, client_for, guard, namespace_of, reparse, with_words
from dataplane.cli.http import ApiError, Client, path

SELECTING = {"services": keys.SERVICE_LABEL, "revisions": keys.REVISION_LABEL}
"""Types whose pods ``logs`` can select, and the pod label naming them."""


def _logs_options(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("-c", "--container", help="user-container (default) or queue-proxy")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing as the log grows")
    parser.add_argument("--tail", type=int, default=-1, help="only the last N lines (default: all)")
    parser.add_argument("--since", type=_since, metavar="DURATION",
                        help="only lines newer than this Go duration, e.g. 10s, 5m, 1h30m")
    parser.add_argument("--timestamps", action="store_true", help="put each line's RFC 3339 time in front of it")
    parser.add_argument("-p", "--previous", action="store_true",
                        help="the log of the container's previous run (before its last restart)")
    parser.add_argument("--prefix", action="store_true", help="prefix each line with [pod/NAME/CONTAINER]")


def _since(text: str) -> float:
    try:
        seconds = parse_duration_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: {exc}") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must be positive")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``dataplane logs``."""
    with_words(parser, _logs_options, "POD [CONTAINER] | ksvc/NAME | revision/NAME")


def rfc3339_since(seconds: float, now: float) -> str:
    """The ``sinceTime`` for ``--since``: ``seconds`` before ``now`` (epoch), to the microsecond."""
    cutoff = now - seconds
    whole = int(cutoff)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((cutoff - whole) * 1e6):06d}Z"


@guard
def run(args: argparse.Namespace) -> int:
    """Copy the logs to stdout, following them with ``-f``."""
    args = reparse(args, _logs_options)
    if not 1 <= len(args.words) <= 2:
        raise UsageError("expected 'logs POD [-c CONTAINER]' or 'logs ksvc/NAME' or 'logs revision/NAME'")
    if args.follow and args.previous:
        raise UsageError("only one of --follow and --previous can be used")
    target = args.words[0]
    container = args.container or (args.words[1] if len(args.words) == 2 else "user-container")
    query = {"container": container, "follow": "1" if args.follow else "0"}
    if args.tail >= 0:
        query["tail"] = str(args.tail)
    if args.since is not None:
        query["sinceTime"] = rfc3339_since(args.since, time.time())
    if args.timestamps:
        query["timestamps"] = "1"
    if args.previous:
        query["previous"] = "1"
    client = client_for(args)
    ns = namespace_of(args)
    if "/" not in target:
        return _one(client, ns, target, container, query, args.prefix)
    type_, _, name = target.partition("/")
    kind = kinds.resolve(type_)
    if kind.resource == "pods":
        return _one(client, ns, name, container, query, args.prefix)
    if kind.resource not in SELECTING:
        raise UsageError(f'logs are only available for pods, services and revisions, not "{type_}"')
    return _selected(client, ns, kind, name, container, query)


def _one(client: Client, ns: str, pod: str, container: str, query: dict[str, str], prefix: bool) -> int:
    write = _prefixed(f"[pod/{pod}/{container}] ", threading.Lock()) if prefix else _plain
    _copy(client, ns, pod, query, write)
    return 0


def _selected(client: Client, ns: str, kind: kinds.Kind, name: str, container: str, query: dict[str, str]) -> int:
    """Every pod of the Service or Revision, each line prefixed with its pod and container."""
    try:
        client.get(path(kind.resource, ns, name))
    except ApiError as exc:
        if exc.status == 404:
            raise UsageError(f'{kind.qualified_plural} "{name}" not found') from None
        raise
    pods = client.get(path("pods"), {"namespace": ns}).get("items") or []
    label = SELECTING[kind.resource]
    names = sorted(str(p["metadata"]["name"]) for p in pods
                   if ((p.get("metadata") or {}).get("labels") or {}).get(label) == name)
    if not names:
        print(f'No pods found for {kind.singular}/{name} in {ns} namespace (it may be scaled to zero).', file=sys.stderr)
        return 0
    lock = threading.Lock()
    failed = False
    if query["follow"] == "1":
        # one stream per pod, lines interleaved as they come
        threads = [threading.Thread(target=_copy_quietly, args=(client, ns, pod, query, _prefixed(f"[pod/{pod}/{container}] ", lock)),
                                    daemon=True) for pod in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)  # a timed join lets Ctrl-C through
        return 0
    for pod in names:
        try:
            _copy(client, ns, pod, query, _prefixed(f"[pod/{pod}/{container}] ", lock))
        except ApiError as exc:
            # a pod may be gone between the listing and its log; the others are still shown
            print(f"error: pod/{pod}: {exc.message}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def _copy_quietly(client: Client, ns: str, pod: str, query: dict[str, str], write: Callable[[str, bool], None]) -> None:
    try:
        _copy(client, ns, pod, query, write)
    except (ApiError, OSError) as exc:
        print(f"error: pod/{pod}: {getattr(exc, 'message', exc)}", file=sys.stderr)


def _copy(client: Client, ns: str, pod: str, query: dict[str, str], write: Callable[[str, bool], None]) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        with client.stream(path("pods", ns, pod, "log"), query) as stream:
            for chunk in stream.chunks():
                write(decoder.decode(chunk), False)
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a follow
    write(decoder.decode(b"", final=True), True)


def _plain(text: str, _final: bool) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _prefixed(prefix: str, lock: threading.Lock) -> Callable[[str, bool], None]:
    """A writer that puts ``prefix`` before every whole line; a line's start waits for its end."""
    pending = ""

    def write(text: str, final: bool) -> None:
        nonlocal pending
        *lines, pending = (pending + text).split("\n")
        if final and pending:
            lines.append(pending)
            pending = ""
        if lines:
            with lock:
                sys.stdout.write("".join(f"{prefix}{line}\n" for line in lines))
                sys.stdout.flush()

    return write
