"""`dataplane version`: versions, and whether compiled modules or twins are active."""

from __future__ import annotations

import argparse
import platform
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print as JSON")


def collect() -> dict[str, object]:
    from dataplane import __version__, _twins

    info: dict[str, object] = {
        "dataplane": __version__,
        "python": platform.python_version(),
        "uvloop": _version_of("uvloop"),
        "cython": _version_of("Cython"),
    }
    modules = _twins.twin_modules()
    kinds = set(modules.values())
    info["extensions"] = "compiled" if kinds == {"compiled"} else "pure-python" if kinds <= {"pure"} else "mixed"
    info["modules"] = modules
    return info


def _version_of(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps(info, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    for key in ("dataplane", "python", "uvloop", "cython", "extensions"):
        print(f"{key}: {info[key]}")
    for module, kind in info["modules"].items():  # type: ignore[union-attr]
        print(f"  {module}: {kind}")
    return 0
