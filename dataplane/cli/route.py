"""``dataplane route list``: routes the ``kn`` way."""

from __future__ import annotations

import argparse

from dataplane.cli import kinds
from dataplane.cli.common import add_common, client_for, guard, namespace_of
from dataplane.cli.http import path
from dataplane.cli.knstyle import add_output_flags, print_list, ready

ROUTE = kinds.resolve("route")
COLUMNS = (
    ("URL", lambda o, _n: str((o.get("status") or {}).get("url") or "")),
    ("READY", ready),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``route`` actions and their flags."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", aliases=["ls"], help="list routes")
    add_common(listing)
    listing.add_argument("name", nargs="?", metavar="NAME", help="only this route")
    listing.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    add_output_flags(listing)


@guard
def run(args: argparse.Namespace) -> int:
    """List routes."""
    query = {"allNamespaces": "1"} if args.all_namespaces else {"namespace": namespace_of(args)}
    items = client_for(args).get(path(ROUTE.resource), query).get("items") or []
    if args.name:
        items = [r for r in items if (r.get("metadata") or {}).get("name") == args.name]
    where = "" if args.all_namespaces else f" in {namespace_of(args)} namespace"
    print_list(items, ROUTE, COLUMNS, args, f"No routes found{where}.")
    return 0
