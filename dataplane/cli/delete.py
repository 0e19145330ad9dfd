"""``dataplane delete``: by type and name, every object of a type, or what manifests name."""

from __future__ import annotations

import argparse
import sys

from dataplane.api import selectors
from dataplane.cli import kinds
from dataplane.cli.common import (
    UsageError,
    add_common,
    client_for,
    guard,
    namespace_of,
    not_found,
    parse_targets,
    reparse,
    with_words,
)
from dataplane.cli.http import ApiError, path
from dataplane.cli.kinds import Kind, UnknownType
from dataplane.cli.manifests import load_manifests


def _delete_options(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("-f", "--filename", action="append", metavar="FILE", help="delete what these manifests name")
    parser.add_argument("--all", action="store_true", help="delete every object of the type in the namespace")
    parser.add_argument("--ignore-not-found", action="store_true", help="treat missing objects as deleted")
    parser.add_argument("-l", "--selector",
                        help="delete the objects of the type whose labels match: k=v, k!=v, k in (a,b), k, !k")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``dataplane delete``."""
    with_words(parser, _delete_options, "TYPE NAME... | TYPE/NAME...")


@guard
def run(args: argparse.Namespace) -> int:
    """Delete by type and name, every object of a type, or what manifests name."""
    args = reparse(args, _delete_options)
    client = client_for(args)
    doomed: list[tuple[Kind, str, str]] = []
    if args.filename:
        if args.words or args.selector:
            raise UsageError("use either -f FILE or TYPE NAME (or TYPE -l SELECTOR), not both")
        for manifest in load_manifests(args.filename, sys.stdin):
            meta = manifest.doc.get("metadata") or {}
            kind = kinds.for_object(manifest.doc["apiVersion"], manifest.doc["kind"])
            if kind is None:
                raise UnknownType(f"{manifest.doc['kind']}.{manifest.doc['apiVersion']}")
            doomed.append((kind, str(meta.get("namespace") or namespace_of(args)), str(meta["name"])))
    else:
        select = _selector(args.selector)
        targets = parse_targets(args.words)
        if select is not None and (args.all or any(names for _, names in targets)):
            raise UsageError("name cannot be provided when a selector is specified" if not args.all
                             else "--all and --selector cannot be used together")
        for kind, names in targets:
            if args.all or select is not None:
                listed = client.get(path(kind.resource), {"namespace": namespace_of(args)}).get("items") or []
                names = [str((o.get("metadata") or {}).get("name")) for o in listed
                         if select is None or select.matches((o.get("metadata") or {}).get("labels"))]
            elif not names:
                raise UsageError("resource(s) were provided, but no name was specified")
            doomed += [(kind, namespace_of(args), name) for name in names]
    if not doomed and args.selector:
        print("No resources found", file=sys.stderr)
        return 0
    failed = False
    for kind, namespace, name in doomed:
        try:
            client.delete(path(kind.resource, namespace, name))
        except ApiError as exc:
            if exc.status != 404:
                raise
            if not args.ignore_not_found:
                not_found(kind, name)
                failed = True
            continue
        print(f'{kind.qualified} "{name}" deleted', flush=True)
    return 1 if failed else 0


def _selector(text: str | None) -> selectors.Selector | None:
    """kubectl's ``-l`` grammar (:mod:`dataplane.api.selectors`); a selector that does not parse is an error."""
    if text is None:
        return None
    try:
        return selectors.parse(text)
    except selectors.SelectorError as exc:
        raise UsageError(str(exc)) from None
