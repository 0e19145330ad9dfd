"""Manifest files for ``apply -f`` and ``delete -f``: YAML or JSON documents, from files, directories or stdin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from dataplane.api.manifests import ManifestError, parse_documents
from dataplane.cli import kinds

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


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
    return [Manifest(source, doc, directory) for doc in parse_documents(text, source)]
