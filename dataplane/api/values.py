"""Strict scalar parsing for ConfigMap values and annotations.

Python's ``int()`` and ``float()`` accept spellings Knative's Go parsers
reject (``"1_000"``, surrounding whitespace, ``"nan"``), so values are matched
against Go's grammar first. Every parser raises ``ValueError``.
"""

from __future__ import annotations

import math
import re

INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_int32(text: str) -> int:
    """A base-10 integer that fits in int32 (Go ``strconv.ParseInt(s, 10, 32)``)."""
    if not _INT.fullmatch(text):
        raise ValueError(f"not an integer: {text!r}")
    value = int(text)
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueError(f"out of int32 range: {text!r}")
    return value


def parse_float(text: str) -> float:
    """A finite decimal number (Go ``strconv.ParseFloat`` without inf/nan)."""
    if not _FLOAT.fullmatch(text):
        raise ValueError(f"not a number: {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"out of range: {text!r}")
    return value


def parse_bool(text: str) -> bool:
    """Go ``strconv.ParseBool``: 1/t/true/T/TRUE/True and their false twins."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")
