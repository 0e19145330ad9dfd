"""Strict decoding: every field of a submitted object must be one the schema knows.

Errors name the full path of each unknown field as the user wrote it, with a
"did you mean" hint when a known sibling is close, so a typo such as
``comand:`` is reported instead of leaving the app on defaults.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from .checks import quote
from .errors import FieldError, join
from .schema import ListOf, Schema, Struct


def unknown_fields(value: Any, schema: Schema, path: str = "") -> list[FieldError]:
    """Every field of ``value`` that ``schema`` does not accept, at any depth.

    A mapping where a list is expected (or the reverse) is reported too, and
    not descended into. Nulls are absent fields, as the API server decodes them.
    """
    if value is None:
        return []
    if isinstance(schema, Struct):
        if not isinstance(value, Mapping):
            return [FieldError(path, f"must be a mapping, got {_type_name(value)}")]
        errs = []
        for key, item in value.items():
            name = str(key)
            where = join(path, name)
            if key in schema.fields:
                errs += unknown_fields(item, schema.fields[key], where)
            elif key in schema.disallowed:
                reason = schema.disallowed[key]
                errs.append(FieldError(where, "must not set the field(s)" + (f" ({reason})" if reason else "")))
            else:
                errs.append(FieldError(where, "unknown field" + _hint(name, schema)))
        return errs
    if isinstance(schema, ListOf):
        if not isinstance(value, list):
            return [FieldError(path, f"must be a list, got {_type_name(value)}")]
        errs = []
        for i, item in enumerate(value):
            errs += unknown_fields(item, schema.item, f"{path}[{i}]")
        return errs
    return []


_CUTOFF = 0.6
"""difflib's default similarity for a hint."""


def _hint(name: str, schema: Struct) -> str:
    # A name this much longer than every field cannot reach the cutoff (ratio <= 2*short/(long+short));
    # skipping it keeps a document of huge made-up keys from costing difflib time.
    if len(name) > max(map(len, schema.fields), default=0) * (2 / _CUTOFF - 1):
        return ""
    close = difflib.get_close_matches(name, list(schema.fields), n=1, cutoff=_CUTOFF)
    return f"; did you mean {quote(close[0])}?" if close else ""


def _type_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return quote(value)
