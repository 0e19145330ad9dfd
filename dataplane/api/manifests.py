"""Manifest text to documents: YAML or JSON, as ``dataplane apply -f`` reads a file and the console a pasted one.

One reading for both, so a manifest the CLI accepts is the one the console accepts, with the
same messages (``error parsing <source>: line L, column C: ...``). Pure: text in, dicts out.
"""

from __future__ import annotations

import functools
import json
from typing import Any


class ManifestError(ValueError):
    """Manifest text that cannot be parsed, or a document without apiVersion, kind or metadata.name."""


def parse_documents(text: str, source: str) -> list[dict]:
    """Every document of ``text`` (a ``List``'s items spliced in); ``source`` names the text in messages."""
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
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise ManifestError(f"error parsing {source}: document {index + 1} is not an object")
        missing = [f"{field} not set" for field in ("apiVersion", "kind") if not isinstance(doc.get(field), str)]
        if not isinstance((doc.get("metadata") or {}).get("name"), str):
            missing.append("metadata.name not set")
        if missing:
            raise ManifestError(f'error validating "{source}" (document {index + 1}): {", ".join(missing)}')
    return docs


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
