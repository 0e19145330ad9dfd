"""``dataplane apply|get|describe|delete|logs``: kubectl's resource commands against the local control plane."""

from __future__ import annotations

import argparse
import codecs
import functools
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from dataplane.api import selectors
from dataplane.cli import kinds
from dataplane.cli.http import ApiError, Client, Unreachable, local_token, path, server_url
from dataplane.cli.kinds import Kind, UnknownType
from dataplane.cli.printers import Output, OutputError, TablePrinter, describe

DEFAULT_NAMESPACE = "default"
POLL_INTERVAL = 0.25
"""Seconds between readiness checks while ``apply`` waits."""
WAITED_FOR = ("services", "configurations", "routes")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class UsageError(Exception):
    """A command line that cannot be carried out; printed as ``error: ...``."""


class ManifestError(Exception):
    """A manifest file that cannot be read or parsed."""


def _guard(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the CLI's expected failures into kubectl-style messages on stderr and exit status 1."""

    @functools.wraps(run)
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except ApiError as exc:
            _print_api_error(exc)
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


def _print_api_error(exc: ApiError, detail: Callable[[Any], str] | None = None) -> None:
    tag = " (NotFound)" if exc.status == 404 else ""
    lines = [f"Error from server{tag}: {exc.message}"]
    lines += [(detail or _detail_text)(d) for d in exc.details]
    print("\n".join(lines), file=sys.stderr)


def _detail_text(detail: Any) -> str:
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


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--server", help="control API URL (default: $DATAPLANE_SERVER or http://127.0.0.1:8081)")
    parser.add_argument("-n", "--namespace", help="namespace (default: default)")


def _client(args: argparse.Namespace) -> Client:
    url = server_url(args.server)
    return Client(url, token=local_token(url))


def _with_words(parser: argparse.ArgumentParser, options: Callable[[argparse.ArgumentParser], None], metavar: str) -> None:
    options(parser)
    # argparse cannot mix options between positionals under a subcommand, so the words are parsed again in _reparse
    parser.add_argument("words", nargs=argparse.REMAINDER, metavar=metavar)


def _reparse(args: argparse.Namespace, options: Callable[[argparse.ArgumentParser], None]) -> argparse.Namespace:
    inner = argparse.ArgumentParser(prog=f"dataplane {args.command}")
    options(inner)
    inner.add_argument("words", nargs="*")
    seen = argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "words"})
    return inner.parse_intermixed_args(args.words, namespace=seen)


def _namespace(args: argparse.Namespace) -> str:
    return args.namespace or DEFAULT_NAMESPACE


def _targets(words: list[str]) -> list[tuple[Kind, list[str]]]:
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


# --- manifests ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Manifest:
    """One document of a manifest file."""

    source: str
    doc: dict
    directory: str | None = None
    """Absolute directory of the file it came from; None for stdin."""

    @property
    def ref(self) -> str:
        return kinds.ref_for_object(str(self.doc.get("apiVersion", "")), str(self.doc.get("kind", "")),
                                    str((self.doc.get("metadata") or {}).get("name", "")))


def load_manifests(paths: list[str], stdin: TextIO) -> list[Manifest]:
    """Every document of every file (``-`` is stdin; a directory contributes its manifest files)."""
    manifests: list[Manifest] = []
    for given in paths:
        if given == "-":
            manifests += _parse(stdin.read(), "<stdin>", None)
            continue
        where = Path(given)
        if where.is_dir():
            files = sorted(p for p in where.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file())
        else:
            files = [where]
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ManifestError(f'the path "{file}" does not exist') from None
            except (OSError, UnicodeDecodeError) as exc:
                raise ManifestError(f'cannot read "{file}": {exc}') from None
            manifests += _parse(text, str(file), str(file.resolve().parent))
    return manifests


def _parse(text: str, source: str, directory: str | None) -> list[Manifest]:
    raw: list[Any] | None = None
    if source.endswith(".json") or text.lstrip()[:1] in ("{", "["):
        try:
            loaded = json.loads(text)
            raw = loaded if isinstance(loaded, list) else [loaded]
        except json.JSONDecodeError as exc:
            if source.endswith(".json"):
                raise ManifestError(f"error parsing {source}: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
            # not JSON after all: perhaps YAML in flow style, which the YAML parser will judge
    if raw is None:
        raw = _load_yaml(text, source)
    docs: list[Any] = []
    for doc in raw:
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            docs.extend(doc["items"])
        elif doc is not None:
            docs.append(doc)
    manifests = []
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise ManifestError(f"error parsing {source}: document {index + 1} is not an object")
        missing = [f"{field} not set" for field in ("apiVersion", "kind") if not isinstance(doc.get(field), str)]
        if not isinstance((doc.get("metadata") or {}).get("name"), str):
            missing.append("metadata.name not set")
        if missing:
            raise ManifestError(f'error validating "{source}" (document {index + 1}): {", ".join(missing)}')
        manifests.append(Manifest(source, doc, directory))
    return manifests


def _load_yaml(text: str, source: str) -> list[Any]:
    import yaml

    try:
        return list(yaml.load_all(text, Loader=_yaml_loader()))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ManifestError(f"error parsing {source}: {where}{problem}") from None


@functools.cache
def _yaml_loader() -> type:
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # timestamps stay strings, as Kubernetes reads them; a datetime would not serialise to JSON
    resolvers = {
        first: [(tag, rx) for tag, rx in entries if tag != "tag:yaml.org,2002:timestamp"]
        for first, entries in base.yaml_implicit_resolvers.items()
    }
    return type("ManifestLoader", (base,), {"yaml_implicit_resolvers": resolvers})


# --- apply --------------------------------------------------------------------------------------

def add_apply_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``dataplane apply``."""
    _common(parser)
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


@_guard
def run_apply(args: argparse.Namespace) -> int:
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
        meta.setdefault("namespace", _namespace(args))
    client = _client(args)
    try:
        answer = client.post("/v1/apply", {"documents": [m.doc for m in manifests], "workingDir": _working_dir(manifests)})
    except ApiError as exc:
        _print_api_error(exc, functools.partial(_apply_detail, manifests))
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
    return _detail_text(detail)


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


# --- get ----------------------------------------------------------------------------------------

def _get_options(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    parser.add_argument("-o", "--output", help="wide|yaml|json|name|jsonpath=TEMPLATE|custom-columns=SPEC")
    parser.add_argument("--template", help="template for -o jsonpath")
    parser.add_argument("-w", "--watch", action="store_true", help="after listing, print a row per change")
    parser.add_argument("-l", "--selector",
                        help="label selector: k=v, k!=v, k in (a,b), k notin (a,b), k, !k (comma separated)")
    parser.add_argument("--no-headers", action="store_true", help="omit table headers")


def add_get_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``dataplane get``."""
    _with_words(parser, _get_options, "TYPE[,TYPE...] [NAME...] | TYPE/NAME...")


@_guard
def run_get(args: argparse.Namespace) -> int:
    """List or show resources as a table or in the ``-o`` format."""
    args = _reparse(args, _get_options)
    words = list(args.words)
    if args.output == "jsonpath" and not args.template and words and "{" in words[-1]:
        args.template = words.pop()  # `-o jsonpath TEMPLATE`: resource names never contain braces
    output = Output(args.output, args.template)
    targets = _targets(words)
    if args.all_namespaces and any(names for _, names in targets):
        raise UsageError("a resource cannot be retrieved by name across all namespaces")
    select = _selector(args.selector)
    client = _client(args)
    if args.watch:
        if len(targets) != 1 or len(targets[0][1]) > 1:
            raise UsageError("watch is only supported on individual resources and resource collections, "
                             "but a single type and at most one name are required")
        return _watch(client, args, output, targets[0][0], targets[0][1][:1], select)
    found: list[tuple[Kind, list[dict]]] = []
    failed = False
    for kind, names in targets:
        objects, missing = _fetch(client, kind, names, _namespace(args), args.all_namespaces)
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
            print(_nothing_found(args))
    elif everything or (output.format in ("json", "yaml") and not failed):
        kind_of = _kind_lookup(found)
        single = len(targets) == 1 and len(targets[0][1]) == 1
        sys.stdout.write(output.render(kind_of, everything, single))
    elif not failed:
        print(_nothing_found(args), file=sys.stderr)
    sys.stdout.flush()
    return 1 if failed else 0


def _fetch(client: Client, kind: Kind, names: list[str], namespace: str, everywhere: bool) -> tuple[list[dict], bool]:
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
            _not_found(kind, name)
            missing = True
    return objects, missing


def _not_found(kind: Kind, name: str) -> None:
    print(f'Error from server (NotFound): {kind.qualified_plural} "{name}" not found', file=sys.stderr)


def _table(kind: Kind, args: argparse.Namespace, output: Output, prefix: bool) -> TablePrinter:
    return TablePrinter(kind, wide=output.format == "wide", namespaces=args.all_namespaces, prefix=prefix,
                        headers=not args.no_headers, now=time.time)


def _nothing_found(args: argparse.Namespace) -> str:
    return "No resources found." if args.all_namespaces else f"No resources found in {_namespace(args)} namespace."


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

    query = {"allNamespaces": "1"} if args.all_namespaces else {"namespace": _namespace(args)}
    query["watch"] = "1"
    if names:
        query["name"] = names[0]
    try:
        objects, missing = _fetch(client, kind, names, _namespace(args), args.all_namespaces)
        if missing:
            return 1
        objects = [o for o in objects if select(o) and fresh(o)]
        if objects:
            emit(objects)
        else:
            print(_nothing_found(args), file=sys.stderr, flush=True)
        with client.stream(path(kind.resource), query) as stream:
            for event in stream.events():
                obj = event.get("object")
                if isinstance(obj, dict) and select(obj) and fresh(obj, deleted=event.get("type") == "DELETED"):
                    emit([obj])
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch ends
    return 0


# --- describe -----------------------------------------------------------------------------------

def _describe_options(parser: argparse.ArgumentParser) -> None:
    _common(parser)


def add_describe_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``dataplane describe``."""
    _with_words(parser, _describe_options, "TYPE [NAME...] | TYPE/NAME...")


@_guard
def run_describe(args: argparse.Namespace) -> int:
    """Print each named object (or every object of the type) in detail."""
    args = _reparse(args, _describe_options)
    client = _client(args)
    sheets, failed = [], False
    for kind, names in _targets(args.words):
        objects, missing = _fetch(client, kind, names, _namespace(args), False)
        failed |= missing
        sheets += [describe(obj, time.time()) for obj in objects]
    if not sheets and not failed:
        print(_nothing_found(args), file=sys.stderr)
    sys.stdout.write("\n\n".join(sheets))
    return 1 if failed else 0


# --- delete -------------------------------------------------------------------------------------

def _delete_options(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("-f", "--filename", action="append", metavar="FILE", help="delete what these manifests name")
    parser.add_argument("--all", action="store_true", help="delete every object of the type in the namespace")
    parser.add_argument("--ignore-not-found", action="store_true", help="treat missing objects as deleted")


def add_delete_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``dataplane delete``."""
    _with_words(parser, _delete_options, "TYPE NAME... | TYPE/NAME...")


@_guard
def run_delete(args: argparse.Namespace) -> int:
    """Delete by type and name, every object of a type, or what manifests name."""
    args = _reparse(args, _delete_options)
    client = _client(args)
    doomed: list[tuple[Kind, str, str]] = []
    if args.filename:
        if args.words:
            raise UsageError("use either -f FILE or TYPE NAME, not both")
        for manifest in load_manifests(args.filename, sys.stdin):
            meta = manifest.doc.get("metadata") or {}
            kind = kinds.for_object(manifest.doc["apiVersion"], manifest.doc["kind"])
            if kind is None:
                raise UnknownType(f"{manifest.doc['kind']}.{manifest.doc['apiVersion']}")
            doomed.append((kind, str(meta.get("namespace") or _namespace(args)), str(meta["name"])))
    else:
        for kind, names in _targets(args.words):
            if args.all:
                listed = client.get(path(kind.resource), {"namespace": _namespace(args)}).get("items") or []
                names = [str((o.get("metadata") or {}).get("name")) for o in listed]
            elif not names:
                raise UsageError("resource(s) were provided, but no name was specified")
            doomed += [(kind, _namespace(args), name) for name in names]
    failed = False
    for kind, namespace, name in doomed:
        try:
            client.delete(path(kind.resource, namespace, name))
        except ApiError as exc:
            if exc.status != 404:
                raise
            if not args.ignore_not_found:
                _not_found(kind, name)
                failed = True
            continue
        print(f'{kind.qualified} "{name}" deleted', flush=True)
    return 1 if failed else 0


# --- logs ---------------------------------------------------------------------------------------

def _logs_options(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("-c", "--container", help="user-container (default) or queue-proxy")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing as the log grows")
    parser.add_argument("--tail", type=int, default=-1, help="only the last N lines (default: all)")


def add_logs_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``dataplane logs``."""
    _with_words(parser, _logs_options, "POD [CONTAINER]")


@_guard
def run_logs(args: argparse.Namespace) -> int:
    """Copy a pod container's log to stdout, following it with ``-f``."""
    args = _reparse(args, _logs_options)
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
        with _client(args).stream(path("pods", _namespace(args), pod, "log"), query) as stream:
            for chunk in stream.chunks():
                sys.stdout.write(decoder.decode(chunk))
                sys.stdout.flush()
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a follow
    sys.stdout.write(decoder.decode(b"", final=True))
    sys.stdout.flush()
    return 0
