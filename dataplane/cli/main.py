"""The `dataplane` command: one entry point, a subcommand per program."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

# subcommand -> (help, module that provides `add_arguments(parser)` and `run(args) -> int`)
PROGRAMS: dict[str, tuple[str, str]] = {
    "queue-proxy": ("run the per-pod queue-proxy sidecar", "dataplane.cmd.queueproxy"),
    "activator": ("run the activator (and local router)", "dataplane.cmd.activator"),
    "autoscaler": ("run the KPA autoscaler", "dataplane.cmd.autoscaler"),
    "controller": ("run the controller against a Kubernetes cluster", "dataplane.cmd.controller"),
    "up": ("run the whole data plane locally", "dataplane.cmd.up"),
    "apply": ("create or update resources from a file", "dataplane.cli.apply"),
    "get": ("list or show resources", "dataplane.cli.get"),
    "delete": ("delete resources", "dataplane.cli.delete"),
    "describe": ("show a resource in detail", "dataplane.cli.describe"),
    "logs": ("print the logs of a pod, or of every pod of a service or revision", "dataplane.cli.logs"),
    "service": ("create, update, list, describe or delete Knative services (kn style)", "dataplane.cli.service"),
    "revision": ("list, describe or delete revisions (kn style)", "dataplane.cli.revision"),
    "route": ("list routes (kn style)", "dataplane.cli.route"),
    "completion": ("print a bash or zsh completion script", "dataplane.cli.completion"),
}


# Programs configured by environment alone: started with no other word, they skip argparse
# (argparse, gettext, locale and shutil with its compressors cost a pod's sidecar about 1 MB).
FLAGLESS = {"queue-proxy"}


def build_parser(only: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, Callable[[argparse.Namespace], int]]]:
    """The parser; with ``only``, just that subcommand's module is imported (a CLI call starts fast)."""
    import argparse

    from dataplane.cli import version as version_cmd

    parser = argparse.ArgumentParser(prog="dataplane", description="A serverless data plane for HTTP workloads.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    runners: dict[str, Callable[[argparse.Namespace], int]] = {}
    vp = sub.add_parser("version", help="print versions and which build is active")
    version_cmd.add_arguments(vp)
    runners["version"] = version_cmd.run
    for name, (help_text, module_name) in PROGRAMS.items():
        p = sub.add_parser(name, help=help_text)
        if only is not None and name != only:
            continue
        module = importlib.import_module(module_name)
        module.add_arguments(p)
        runners[name] = module.run
    return parser, runners


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if len(words) == 1 and words[0] in FLAGLESS:
        return importlib.import_module(PROGRAMS[words[0]][1]).run(None)
    command = next((w for w in words if not w.startswith("-")), None)
    parser, runners = build_parser(command if command in PROGRAMS else None)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    return runners[args.command](args)
