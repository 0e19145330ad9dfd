"""What the ``kn``-style verbs (service, revision, route) share: wait flags, list tables and describe output."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from dataplane.cli.ages import age
from dataplane.cli.common import UsageError
from dataplane.cli.kinds import Kind, condition
from dataplane.cli.printers import Output, describe, layout

Cell = Callable[[dict, float], str]


def add_wait_flags(parser: argparse.ArgumentParser, what: str) -> None:
    """kn's ``--no-wait``, ``--wait``, ``--wait-timeout`` (seconds) and, where Ready can fail, ``--wait-window``."""
    parser.add_argument("--no-wait", dest="wait", action="store_false", default=True,
                        help=f"do not wait for '{what}' to be completed")
    parser.add_argument("--wait", dest="wait", action="store_true", help=f"wait for '{what}' to be completed (default)")
    parser.add_argument("--wait-timeout", type=_positive_seconds, default=600, metavar="SECONDS",
                        help="seconds to wait before giving up (default 600)")


def add_wait_window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait-window", type=_seconds, default=2, metavar="SECONDS",
                        help="seconds a Ready=False must last before it counts as a failure (default 2)")


def _seconds(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"invalid seconds {text!r}: expected a whole number")
    return int(text)


def _positive_seconds(text: str) -> int:
    value = _seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"invalid seconds {text!r}: must be positive")
    return value


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", help="yaml|json|name|jsonpath=TEMPLATE (default: a table)")
    parser.add_argument("--no-headers", action="store_true", help="omit the table header")


def conditions(obj: dict, _now: float = 0.0) -> str:
    """kn's CONDITIONS cell: ``3 OK / 3``."""
    conds = [c for c in (obj.get("status") or {}).get("conditions") or [] if isinstance(c, dict)]
    return f"{sum(1 for c in conds if c.get('status') == 'True')} OK / {len(conds)}"


def ready(obj: dict, _now: float = 0.0) -> str:
    return str(condition(obj, "Ready").get("status") or "")


def reason(obj: dict, _now: float = 0.0) -> str:
    return str(condition(obj, "Ready").get("reason") or "")


def print_list(objects: Sequence[dict], kind: Kind, columns: Sequence[tuple[str, Cell]], args: argparse.Namespace,
               empty: str) -> None:
    """A kn table (``NAME`` and ``columns``), or the ``-o`` format; ``empty`` when there is nothing."""
    output = Output(args.output)
    if output.format == "wide":
        raise UsageError('unable to match a printer suitable for the output format "wide"')
    if not output.is_table:
        sys.stdout.write(output.render(lambda _o: kind, list(objects), single=False))
        return
    if not objects:
        print(empty)
        return
    now = time.time()
    rows = [[str((o.get("metadata") or {}).get("name", ""))] + [cell(o, now) for _, cell in columns] for o in objects]
    if not args.no_headers:
        rows.insert(0, ["NAME"] + [title for title, _ in columns])
    sys.stdout.write("".join(line + "\n" for line in layout(rows)))


def print_one(obj: dict, kind: Kind, output_flag: str | None) -> None:
    """``describe``: the detailed sheet, or the object in the ``-o`` format."""
    output = Output(output_flag)
    if output.is_table:
        sys.stdout.write(describe(obj, time.time()))
    else:
        sys.stdout.write(output.render(lambda _o: kind, [obj], single=True))


AGE: tuple[str, Cell] = ("AGE", age)
