"""Go-syntax durations (``1h30m``, ``300ms``, ``6s``), as Knative's ConfigMaps and annotations use them.

Parsed exactly, to integer nanoseconds, so a "whole seconds only" rule is
checked without float rounding, and with Go's ``time.ParseDuration`` range:
a duration is an int64 count of nanoseconds.
"""

from __future__ import annotations

import re

NS_PER_SECOND = 1_000_000_000

_NS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": NS_PER_SECOND,
    "m": 60 * NS_PER_SECOND,
    "h": 3600 * NS_PER_SECOND,
}
# Go reads the unit as everything up to the next digit or '.', then looks it up;
# [0-9], not \d: Go takes ASCII digits only.
_TERM = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_NEGATIVE_LIMIT = 1 << 63  # -2^63 ns is the most negative int64
_POSITIVE_LIMIT = (1 << 63) - 1


def parse_duration_ns(text: str) -> int:
    """Parse a Go duration into integer nanoseconds; ``ValueError`` for what Go rejects.

    Accepts an optional sign, then one or more ``<number><unit>`` terms, or a
    bare ``0``. Sub-nanosecond remainders of each term are truncated, and a
    value outside int64 nanoseconds (about ±292 years) is an error, as in Go.
    """
    if not isinstance(text, str):
        raise ValueError(f"duration must be a string, got {type(text).__name__}")
    rest = text
    negative = False
    if rest[:1] in ("+", "-"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"invalid duration {text!r}")
    total = 0
    pos = 0
    while pos < len(rest):
        match = _TERM.match(rest, pos)
        whole, frac, unit = match.groups()
        if not whole and not frac:
            raise ValueError(f"invalid duration {text!r}")
        if not unit:
            raise ValueError(f"missing unit in duration {text!r}")
        scale = _NS_PER_UNIT.get(unit)
        if scale is None:
            raise ValueError(f"unknown unit {unit!r} in duration {text!r}")
        total += int(whole or "0") * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
        if total > _NEGATIVE_LIMIT:
            raise ValueError(f"invalid duration {text!r}: out of range")
        pos = match.end()
    if negative:
        return -total
    if total > _POSITIVE_LIMIT:
        raise ValueError(f"invalid duration {text!r}: out of range")
    return total


def parse_duration_seconds(text: str) -> float:
    """Parse a Go duration into seconds."""
    return parse_duration_ns(text) / NS_PER_SECOND


def format_seconds(seconds: float) -> str:
    """Render seconds compactly for messages: ``6s``, ``1h``, ``1m30s``, ``0.5s``."""
    if seconds != int(seconds) or seconds < 0:
        return f"{seconds:g}s"
    whole = int(seconds)
    if whole == 0:
        return "0s"
    hours, rem = divmod(whole, 3600)
    minutes, secs = divmod(rem, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs:
        parts.append(f"{secs}s")
    return "".join(parts)
