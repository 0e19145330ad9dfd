"""``dataplane describe``: each named object, or every object of a type, in detail."""

from __future__ import annotations

import argparse
import sys
import time

from dataplane.cli.common import (
    add_common,
    client_for,
    fetch,
    guard,
    namespace_of,
    nothing_found,
    parse_targets,
    reparse,
    with_words,
)
from dataplane.cli.printers import describe


def _describe_options(parser: argparse.ArgumentParser) -> None:
    add_common(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``dataplane describe``."""
    with_words(parser, _describe_options, "TYPE [NAME...] | TYPE/NAME...")


@guard
def run(args: argparse.Namespace) -> int:
    """Print each named object (or every object of the type) in detail."""
    args = reparse(args, _describe_options)
    client = client_for(args)
    sheets, failed = [], False
    for kind, names in parse_targets(args.words):
        objects, missing = fetch(client, kind, names, namespace_of(args), False)
        failed |= missing
        sheets += [describe(obj, time.time()) for obj in objects]
    if not sheets and not failed:
        print(nothing_found(args), file=sys.stderr)
    sys.stdout.write("\n\n".join(sheets))
    return 1 if failed else 0
