"""``dataplane revision list|describe|delete``: a service's revisions the ``kn`` way."""

from __future__ import annotations

import argparse

from dataplane.api import keys
from dataplane.cli import kinds
from dataplane.cli.common import add_common, client_for, guard, namespace_of, not_found
from dataplane.cli.http import ApiError, path
from dataplane.cli.knstyle import AGE, add_output_flags, add_wait_flags, conditions, print_list, print_one, ready, reason
from dataplane.cli.service import delete_objects

REVISION = kinds.resolve("revision")
SERVICE = kinds.resolve("ksvc")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``revision`` actions and their flags."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", aliases=["ls"], help="list revisions, newest first per service")
    add_common(listing)
    listing.add_argument("name", nargs="?", metavar="NAME", help="only this revision")
    listing.add_argument("--service", help="only the revisions of this service")
    listing.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    add_output_flags(listing)

    show = actions.add_parser("describe", help="show a revision in detail")
    add_common(show)
    show.add_argument("name", metavar="NAME")
    show.add_argument("-o", "--output", help="yaml|json|name|jsonpath=TEMPLATE")

    delete = actions.add_parser("delete", aliases=["rm"], help="delete revisions")
    add_common(delete)
    delete.add_argument("names", nargs="+", metavar="NAME")
    add_wait_flags(delete, "revision delete")


@guard
def run(args: argparse.Namespace) -> int:
    """Carry out one ``revision`` action."""
    if args.action in ("list", "ls"):
        return list_revisions(args)
    if args.action == "describe":
        return describe_revision(args)
    return delete_objects(args, REVISION, "Revision", "deleted")


def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def traffic_columns(services: dict[tuple[str, str], dict]) -> tuple:
    """SERVICE, TRAFFIC and TAGS read from each revision's Service (its ``status.traffic``)."""

    def targets(rev: dict) -> list[dict]:
        meta = rev.get("metadata") or {}
        svc = services.get((str(meta.get("namespace")), str(_labels(rev).get(keys.SERVICE_LABEL))))
        traffic = ((svc or {}).get("status") or {}).get("traffic") or []
        return [t for t in traffic if isinstance(t, dict) and t.get("revisionName") == meta.get("name")]

    def share(rev: dict, _now: float) -> str:
        total = sum(int(t.get("percent") or 0) for t in targets(rev))
        return f"{total}%" if total else ""

    def tags(rev: dict, _now: float) -> str:
        return ",".join(str(t["tag"]) for t in targets(rev) if t.get("tag"))

    return (
        ("SERVICE", lambda o, _n: str(_labels(o).get(keys.SERVICE_LABEL) or "")),
        ("TRAFFIC", share),
        ("TAGS", tags),
        ("GENERATION", lambda o, _n: str(_labels(o).get(keys.CONFIGURATION_GENERATION_LABEL) or "")),
        AGE,
        ("CONDITIONS", conditions),
        ("READY", ready),
        ("REASON", reason),
    )


def _generation(rev: dict) -> int:
    text = str(_labels(rev).get(keys.CONFIGURATION_GENERATION_LABEL) or "0")
    return int(text) if text.isdigit() else 0


def list_revisions(args: argparse.Namespace) -> int:
    client = client_for(args)
    query = {"allNamespaces": "1"} if args.all_namespaces else {"namespace": namespace_of(args)}
    items = client.get(path(REVISION.resource), query).get("items") or []
    if args.service:
        items = [r for r in items if _labels(r).get(keys.SERVICE_LABEL) == args.service]
    if args.name:
        items = [r for r in items if (r.get("metadata") or {}).get("name") == args.name]
    # kn's order: by service, newest generation first
    items.sort(key=lambda r: (str((r.get("metadata") or {}).get("namespace")), str(_labels(r).get(keys.SERVICE_LABEL)),
                              -_generation(r)))
    services = {(str(s["metadata"].get("namespace")), str(s["metadata"]["name"])): s
                for s in client.get(path(SERVICE.resource), query).get("items") or []}
    where = "" if args.all_namespaces else f" in {namespace_of(args)} namespace"
    print_list(items, REVISION, traffic_columns(services), args, f"No revisions found{where}.")
    return 0


def describe_revision(args: argparse.Namespace) -> int:
    try:
        rev = client_for(args).get(path(REVISION.resource, namespace_of(args), args.name))
    except ApiError as exc:
        if exc.status != 404:
            raise
        not_found(REVISION, args.name)
        return 1
    print_one(rev, REVISION, args.output)
    return 0
