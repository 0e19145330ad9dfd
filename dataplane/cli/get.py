"""``dataplane get``: list or show resources as kubectl does, as tables or in an ``-o`` format, and watch them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from dataplane.api import selectors
from dataplane.cli.common import (
    UsageError,
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
from dataplane.cli.http import Client, path
from dataplane.cli.kinds import Kind
from dataplane.cli.printers import Output, TablePrinter


def _get_options(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    parser.add_argument("-o", "--output", help="wide|yaml|json|name|jsonpath=TEMPLATE|custom-columns=SPEC")
    parser.add_argument("--template", help="template for -o jsonpath")
    parser.add_argument("-w", "--watch", action="store_true", help="after listing, print a row per change")
    parser.add_argument("-l", "--selector",
                        help="label selector: k=v, k!=v, k in (a,b), k notin (a,b), k, !k (comma separated)")
    parser.add_argument("--no-headers", action="store_true", help="omit table headers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``dataplane get``."""
    with_words(parser, _get_options, "TYPE[,TYPE...] [NAME...] | TYPE/NAME...")


@guard
def run(args: argparse.Namespace) -> int:
    """List or show resources as a table or in the ``-o`` format."""
    args = reparse(args, _get_options)
    words = list(args.words)
    if args.output == "jsonpath" and not args.template and words and "{" in words[-1]:
        args.template = words.pop()  # `-o jsonpath TEMPLATE`: resource names never contain braces
    output = Output(args.output, args.template)
    targets = parse_targets(words)
    if args.all_namespaces and any(names for _, names in targets):
        raise UsageError("a resource cannot be retrieved by name across all namespaces")
    select = _selector(args.selector)
    client = client_for(args)
    if args.watch:
        if len(targets) != 1 or len(targets[0][1]) > 1:
            raise UsageError("watch is only supported on individual resources and resource collections, "
                             "but a single type and at most one name are required")
        return _watch(client, args, output, targets[0][0], targets[0][1][:1], select)
    found: list[tuple[Kind, list[dict]]] = []
    failed = False
    for kind, names in targets:
        objects, missing = fetch(client, kind, names, namespace_of(args), args.all_namespaces)
        failed |= missing
        found.append((kind, [o for o in objects if select(o)]))
    everything = [obj for _, objs in found for obj in objs]
    if output.is_table:
        blocks = []
        for kind, objs in found:
            if objs:
                printer = _table(kind, args, output, prefix=len(targets) > 1)
                blocks.append("\n".join(printer.lines(objs)) + "\n")
        sys.stdout.write("\n".join(blocks))
        if not everything and not failed:
            print(nothing_found(args))
    elif everything or (output.format in ("json", "yaml") and not failed):
        kind_of = _kind_lookup(found)
        single = len(targets) == 1 and len(targets[0][1]) == 1
        sys.stdout.write(output.render(kind_of, everything, single))
    elif not failed:
        print(nothing_found(args), file=sys.stderr)
    sys.stdout.flush()
    return 1 if failed else 0


def _table(kind: Kind, args: argparse.Namespace, output: Output, prefix: bool) -> TablePrinter:
    return TablePrinter(kind, wide=output.format == "wide", namespaces=args.all_namespaces, prefix=prefix,
                        headers=not args.no_headers, now=time.time)


def _kind_lookup(found: list[tuple[Kind, list[dict]]]) -> Callable[[dict], Kind]:
    by_id = {id(obj): kind for kind, objs in found for obj in objs}
    return lambda obj: by_id[id(obj)]


def _selector(text: str | None) -> Callable[[dict], bool]:
    """A client-side label selector with kubectl's grammar (see :mod:`dataplane.api.selectors`)."""
    if not text:
        return lambda _obj: True
    try:
        selector = selectors.parse(text)
    except selectors.SelectorError as exc:
        raise UsageError(str(exc)) from None
    return lambda obj: selector.matches((obj.get("metadata") or {}).get("labels"))


def _watch(client: Client, args: argparse.Namespace, output: Output, kind: Kind, names: list[str],
           select: Callable[[dict], bool]) -> int:
    """Print what exists now, then one row (or document) per change until the stream ends or Ctrl-C."""
    printer = _table(kind, args, output, prefix=False) if output.is_table else None
    shown: dict[tuple[str, str], str] = {}

    def emit(objects: list[dict]) -> None:
        if printer is not None:
            sys.stdout.write("\n".join(printer.lines(objects)) + "\n")
        else:
            sys.stdout.write("".join(output.render(lambda _o: kind, [o], True).rstrip("\n") + "\n" for o in objects))
        sys.stdout.flush()

    def fresh(obj: dict, deleted: bool = False) -> bool:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        if deleted:
            shown.pop(key, None)
            return True
        body = json.dumps(obj, sort_keys=True)
        if shown.get(key) == body:
            return False  # the stream replays current objects first; they are already on screen
        shown[key] = body
        return True

    query = {"allNamespaces": "1"} if args.all_namespaces else {"namespace": namespace_of(args)}
    query["watch"] = "1"
    if names:
        query["name"] = names[0]
    try:
        objects, missing = fetch(client, kind, names, namespace_of(args), args.all_namespaces)
        if missing:
            return 1
        objects = [o for o in objects if select(o) and fresh(o)]
        if objects:
            emit(objects)
        else:
            print(nothing_found(args), file=sys.stderr, flush=True)
        with client.stream(path(kind.resource), query) as stream:
            for event in stream.events():
                obj = event.get("object")
                if isinstance(obj, dict) and select(obj) and fresh(obj, deleted=event.get("type") == "DELETED"):
                    emit([obj])
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch ends
    return 0
