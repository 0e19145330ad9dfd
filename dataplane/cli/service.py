"""``dataplane service create|update|list|describe|delete``: Knative Services the ``kn`` way, without a manifest.

The Service is built from the flags and sent to the same ``/v1/apply`` as ``dataplane apply``, so the API's
defaulting and validation judge it and an error names the field path. ``update`` reads the Service and changes
only what the flags say; a changed revision template makes a new revision. Both wait for Ready unless ``--no-wait``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from dataplane.cli import kinds
from dataplane.cli.common import UsageError, add_common, client_for, guard, namespace_of, not_found, print_api_error
from dataplane.cli.http import ApiError, Client, path
from dataplane.cli.knstyle import (
    AGE,
    add_output_flags,
    add_wait_flags,
    add_wait_window,
    conditions,
    print_list,
    print_one,
    ready,
    reason,
)
from dataplane.cli.service_flags import add_template_flags, apply_edit, new_service, template_changed, template_edit
from dataplane.cli.traffic_flags import TrafficFlags, compute, parse_percents, parse_tags
from dataplane.cli.waiting import wait_for_ready

SERVICE = kinds.resolve("ksvc")
REVISION = kinds.resolve("revision")
POLL_INTERVAL = 0.25

COLUMNS = (
    ("URL", lambda o, _n: str((o.get("status") or {}).get("url") or "")),
    ("LATEST", lambda o, _n: str((o.get("status") or {}).get("latestReadyRevisionName") or "")),
    AGE,
    ("CONDITIONS", conditions),
    ("READY", ready),
    ("REASON", reason),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``service`` actions and their flags."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a service")
    add_common(create)
    create.add_argument("name", metavar="NAME")
    add_template_flags(create)
    create.add_argument("--tag", action="append", metavar="REVISION=TAG", help="tag a revision (@latest for the latest)")
    create.add_argument("--force", action="store_true", help="replace the service if it exists")
    add_wait_flags(create, "service create")
    add_wait_window(create)

    update = actions.add_parser("update", help="update a service (a new revision when its template changes)")
    add_common(update)
    update.add_argument("name", metavar="NAME")
    add_template_flags(update)
    update.add_argument("--traffic", action="append", metavar="REVISION=PERCENT",
                        help="traffic split; REVISION is a revision, a tag or @latest (repeatable, summing to 100)")
    update.add_argument("--tag", action="append", metavar="REVISION=TAG", help="tag a revision (@latest for the latest)")
    update.add_argument("--untag", action="append", metavar="TAG", help="remove a tag")
    add_wait_flags(update, "service update")
    add_wait_window(update)

    listing = actions.add_parser("list", aliases=["ls"], help="list services")
    add_common(listing)
    listing.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    add_output_flags(listing)

    show = actions.add_parser("describe", help="show a service in detail")
    add_common(show)
    show.add_argument("name", metavar="NAME")
    show.add_argument("-o", "--output", help="yaml|json|name|jsonpath=TEMPLATE")

    delete = actions.add_parser("delete", aliases=["rm"], help="delete services")
    add_common(delete)
    delete.add_argument("names", nargs="+", metavar="NAME")
    add_wait_flags(delete, "service delete")


@guard
def run(args: argparse.Namespace) -> int:
    """Carry out one ``service`` action."""
    return {"create": create, "update": update, "list": list_services, "ls": list_services,
            "describe": describe_service, "delete": delete, "rm": delete}[args.action](args)


def create(args: argparse.Namespace) -> int:
    ns = namespace_of(args)
    edit = template_edit(args)  # every flag is checked before anything is sent
    tags = TrafficFlags(tags=list(args.tag or []))
    parse_tags(tags.tags)
    svc = apply_edit(new_service(args.name, ns), edit, generation=1)
    if tags:
        named = ((svc["spec"]["template"].get("metadata") or {}).get("name"))
        svc["spec"]["traffic"] = [{"latestRevision": True, "percent": 100}]
        svc["spec"]["traffic"] = compute(svc, tags, [named] if named else [], makes_revision=True)
    client = client_for(args)
    exists = _get(client, ns, args.name) is not None
    if exists and not args.force:
        raise UsageError(f"cannot create service '{args.name}' in namespace '{ns}' because the service already "
                         "exists and no --force option was given")
    if not _send(client, svc):
        return 1
    verb = "replaced" if exists else "created"
    if not args.wait:
        print(f"Service '{args.name}' {verb} in namespace '{ns}'.")
        return 0
    print(f"{'Replacing' if exists else 'Creating'} service '{args.name}' in namespace '{ns}':\n", flush=True)
    return _wait(client, args, ns, verb, previous_revision=None)


def update(args: argparse.Namespace) -> int:
    ns = namespace_of(args)
    edit = template_edit(args)
    flags = TrafficFlags(list(args.traffic or []), list(args.tag or []), list(args.untag or []))
    parse_percents(flags.traffic)
    parse_tags(flags.tags)
    client = client_for(args)
    current = _get(client, ns, args.name)
    if current is None:
        not_found(SERVICE, args.name)
        return 1
    generation = int((current.get("metadata") or {}).get("generation") or 0) + 1
    svc = apply_edit(current, edit, generation)
    makes_revision = template_changed(current, svc)
    if flags:
        svc["spec"]["traffic"] = compute(svc, flags, _revisions_of(client, ns, args.name), makes_revision)
    if not _send(client, svc):
        return 1
    if not args.wait:
        print(f"Service '{args.name}' updated in namespace '{ns}'.")
        return 0
    print(f"Updating Service '{args.name}' in namespace '{ns}':\n", flush=True)
    previous = (current.get("status") or {}).get("latestReadyRevisionName")
    return _wait(client, args, ns, "updated", previous_revision=previous)


def _get(client: Client, ns: str, name: str) -> dict | None:
    try:
        return client.get(path(SERVICE.resource, ns, name))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def _revisions_of(client: Client, ns: str, service: str) -> list[str]:
    items = client.get(path(REVISION.resource), {"namespace": ns}).get("items") or []
    return [str(r["metadata"]["name"]) for r in items
            if ((r.get("metadata") or {}).get("labels") or {}).get("serving.knative.dev/service") == service]


def _send(client: Client, svc: dict) -> bool:
    """Through the same door as ``apply``: the API's admission judges the object."""
    try:
        client.post("/v1/apply", {"documents": [svc], "workingDir": os.getcwd()})
    except ApiError as exc:
        print_api_error(exc)
        return False
    return True


def _wait(client: Client, args: argparse.Namespace, ns: str, verb: str, previous_revision: str | None) -> int:
    outcome = wait_for_ready(lambda: client.get(path(SERVICE.resource, ns, args.name)), sys.stdout,
                             args.wait_timeout, args.wait_window)
    status = outcome.obj.get("status") or {}
    if outcome.error is not None:
        print(f"error: service '{args.name}' is not ready: {outcome.error}", file=sys.stderr)
        return 1
    latest = status.get("latestReadyRevisionName", "")
    url = status.get("url", "")
    if previous_revision is not None and latest == previous_revision:
        print(f"\nService '{args.name}' with latest revision '{latest}' (unchanged) is available at URL:\n{url}")
    else:
        print(f"\nService '{args.name}' {verb} to latest revision '{latest}' is available at URL:\n{url}")
    return 0


def list_services(args: argparse.Namespace) -> int:
    query = {"allNamespaces": "1"} if args.all_namespaces else {"namespace": namespace_of(args)}
    items = client_for(args).get(path(SERVICE.resource), query).get("items") or []
    empty = "No services found." if args.all_namespaces else f"No services found in {namespace_of(args)} namespace."
    print_list(items, SERVICE, COLUMNS, args, empty)
    return 0


def describe_service(args: argparse.Namespace) -> int:
    svc = _get(client_for(args), namespace_of(args), args.name)
    if svc is None:
        not_found(SERVICE, args.name)
        return 1
    print_one(svc, SERVICE, args.output)
    return 0


def delete(args: argparse.Namespace) -> int:
    return delete_objects(args, SERVICE, "Service", "successfully deleted")


def delete_objects(args: argparse.Namespace, kind: kinds.Kind, title: str, done: str) -> int:
    """Delete each name, then (unless ``--no-wait``) wait until the server no longer has it."""
    client, ns, failed = client_for(args), namespace_of(args), False
    for name in args.names:
        try:
            client.delete(path(kind.resource, ns, name))
        except ApiError as exc:
            if exc.status != 404:
                raise
            not_found(kind, name)
            failed = True
            continue
        if args.wait and not _gone(client, kind, ns, name, args.wait_timeout):
            print(f"error: timeout: {title.lower()} '{name}' not deleted after {args.wait_timeout} seconds",
                  file=sys.stderr)
            failed = True
            continue
        print(f"{title} '{name}' {done} in namespace '{ns}'.", flush=True)
    return 1 if failed else 0


def _gone(client: Client, kind: kinds.Kind, ns: str, name: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.get(path(kind.resource, ns, name))
        except ApiError as exc:
            if exc.status == 404:
                return True
            raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)
