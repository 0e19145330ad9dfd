"""Manifest files for ``apply -f`` and ``delete -f``: YAML or JSON documents, from files, directories or stdin."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from dataplane.cli import kinds

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(Exception):
    """A manifest file that cannot be read or parsed."""


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
