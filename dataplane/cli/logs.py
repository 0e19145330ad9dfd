"""``dataplane logs POD``: a pod container's log, followed with ``-f``."""

from __future__ import annotations

import argparse
import codecs
import sys

from dataplane.cli import kinds
from dataplane.cli.common import UsageError, add_common, client_for, guard, namespace_of, reparse, with_words
from dataplane.cli.http import path


def _logs_options(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("-c", "--container", help="user-container (default) or queue-proxy")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing as the log grows")
    parser.add_argument("--tail", type=int, default=-1, help="only the last N lines (default: all)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``dataplane logs``."""
    with_words(parser, _logs_options, "POD [CONTAINER]")


@guard
def run(args: argparse.Namespace) -> int:
    """Copy a pod container's log to stdout, following it with ``-f``."""
    args = reparse(args, _logs_options)
    if not 1 <= len(args.words) <= 2:
        raise UsageError("expected 'logs POD [-c CONTAINER]'")
    pod = args.words[0]
    if "/" in pod:
        type_, _, pod = pod.partition("/")
        if kinds.resolve(type_).resource != "pods":
            raise UsageError(f'logs are only available for pods, not "{type_}"')
    container = args.container or (args.words[1] if len(args.words) == 2 else "user-container")
    query = {"container": container, "follow": "1" if args.follow else "0"}
    if args.tail >= 0:
        query["tail"] = str(args.tail)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        with client_for(args).stream(path("pods", namespace_of(args), pod, "log"), query) as stream:
            for chunk in stream.chunks():
                sys.stdout.write(decoder.decode(chunk))
                sys.stdout.flush()
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a follow
    sys.stdout.write(decoder.decode(b"", final=True))
    sys.stdout.flush()
    return 0
