"""``dataplane completion bash|zsh``: a shell completion script, generated from the command's own parser (shtab)."""

from __future__ import annotations

import argparse
import sys

SHELLS = ("bash", "zsh")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The shell to write a script for."""
    parser.add_argument("shell", choices=SHELLS, help="bash: source <(dataplane completion bash); "
                        "zsh: dataplane completion zsh > \"${fpath[1]}/_dataplane\"")


def run(args: argparse.Namespace) -> int:
    """Print the script for ``args.shell`` on stdout."""
    import shtab

    from dataplane.cli.main import build_parser

    parser, _ = build_parser()  # every subcommand, so that every one completes
    sys.stdout.write(shtab.complete(parser, shell=args.shell))
    sys.stdout.flush()
    return 0
