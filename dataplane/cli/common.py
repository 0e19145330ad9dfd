"""What the resource verbs share: common flags, TYPE/NAME words, fetching, and kubectl-style error reporting."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from dataplane.cli import kinds
from dataplane.cli.http import ApiError, Client, Unreachable, local_token, path, server_url
from dataplane.cli.kinds import Kind, UnknownType
from dataplane.cli.manifests import ManifestError
from dataplane.cli.printers import OutputError

DEFAULT_NAMESPACE = "default"


class UsageError(Exception):
    """A command line that cannot be carried out; printed as ``error: ...``."""


def guard(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the CLI's expected failures into kubectl-style messages on stderr and exit status 1."""

    @functools.wraps(run)
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except ApiError as exc:
            print_api_error(exc)
        except Unreachable as exc:
            print(exc, file=sys.stderr)
        except (UsageError, ManifestError, UnknownType, OutputError) as exc:
            print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            _silence_stdout()  # the reader went away (e.g. `| head`); nothing left to say
        return 1

    return guarded


def print_api_error(exc: ApiError, detail: Callable[[Any], str] | None = None) -> None:
    tag = " (NotFound)" if exc.status == 404 else ""
    lines = [f"Error from server{tag}: {exc.message}"]
    lines += [(detail or detail_text)(d) for d in exc.details]
    print("\n".join(lines), file=sys.stderr)


def detail_text(detail: Any) -> str:
    if isinstance(detail, dict):
        parts = [str(detail[k]) for k in ("path", "message") if detail.get(k)]
        return "  " + (": ".join(parts) if parts else json.dumps(detail))
    return f"  {detail}"


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--server", help="control API URL (default: $DATAPLANE_SERVER or http://127.0.0.1:8081)")
    parser.add_argument("-n", "--namespace", help="namespace (default: default)")


def client_for(args: argparse.Namespace) -> Client:
    url = server_url(args.server)
    return Client(url, token=local_token(url))


def with_words(parser: argparse.ArgumentParser, options: Callable[[argparse.ArgumentParser], None], metavar: str) -> None:
    options(parser)
    # argparse cannot mix options between positionals under a subcommand, so the words are parsed again in reparse
    parser.add_argument("words", nargs=argparse.REMAINDER, metavar=metavar)


def reparse(args: argparse.Namespace, options: Callable[[argparse.ArgumentParser], None]) -> argparse.Namespace:
    inner = argparse.ArgumentParser(prog=f"dataplane {args.command}")
    options(inner)
    inner.add_argument("words", nargs="*")
    seen = argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "words"})
    return inner.parse_intermixed_args(args.words, namespace=seen)


def namespace_of(args: argparse.Namespace) -> str:
    return args.namespace or DEFAULT_NAMESPACE


def parse_targets(words: list[str]) -> list[tuple[Kind, list[str]]]:
    """``TYPE[,TYPE...] [NAME...]`` or ``TYPE/NAME...`` as (type, names) pairs in the order given."""
    if not words:
        raise UsageError("you must specify the type of resource. Valid resource types include:\n" + kinds.type_summary())
    grouped: dict[Kind, list[str]] = {}
    if any("/" in word for word in words):
        if not all("/" in word for word in words):
            raise UsageError("there is no need to specify a resource type as a separate argument when passing "
                             "arguments in resource/name form (e.g. 'dataplane get resource/<resource_name>')")
        for word in words:
            type_, _, name = word.partition("/")
            if not name:
                raise UsageError(f'arguments in resource/name form must have a single resource and name, got "{word}"')
            grouped.setdefault(kinds.resolve(type_), []).append(name)
        return list(grouped.items())
    for type_ in words[0].split(","):
        if type_:
            grouped.setdefault(kinds.resolve(type_), list(words[1:]))
    return list(grouped.items())


def fetch(client: Client, kind: Kind, names: list[str], namespace: str, everywhere: bool) -> tuple[list[dict], bool]:
    """The named objects (reporting missing ones), or the whole list."""
    if not names:
        query = {"allNamespaces": "1"} if everywhere else {"namespace": namespace}
        return list(client.get(path(kind.resource), query).get("items") or []), False
    objects, missing = [], False
    for name in names:
        try:
            objects.append(client.get(path(kind.resource, namespace, name)))
        except ApiError as exc:
            if exc.status != 404:
                raise
            not_found(kind, name)
            missing = True
    return objects, missing


def not_found(kind: Kind, name: str) -> None:
    print(f'Error from server (NotFound): {kind.qualified_plural} "{name}" not found', file=sys.stderr)


def nothing_found(args: argparse.Namespace) -> str:
    return "No resources found." if args.all_namespaces else f"No resources found in {namespace_of(args)} namespace."
