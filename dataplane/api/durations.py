"""Go-syntax durations (``1h30m``, ``300ms``, ``6s``), as Knative's ConfigMaps and annotations use them."""

from __future__ import annotations

import re
from fractions import Fraction

NS_PER_SECOND = 1_000_000_000

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": NS_PER_SECOND,
    "m": 60 * NS_PER_SECOND,
    "h": 3600 * NS_PER_SECOND,
}
_TERM = re.compile(r"(\d*)(?:\.(\d*))?([a-zµμ]+)")


def parse_duration_ns(text: str) -> int:
    """Parse a Go duration into integer nanoseconds; ``ValueError`` when malformed.

    Accepts what Go's ``time.ParseDuration`` accepts: an optional sign, then one
    or more ``<number><unit>`` terms, or a bare ``0``.
    """
    if not isinstance(text, str):
        raise ValueError(f"duration must be a string, got {type(text).__name__}")
    rest = text
    sign = 1
    if rest and rest[0] in "+-":
        sign = -1 if rest[0] == "-" else 1
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"invalid duration {text!r}")
    total = Fraction(0)
    pos = 0
    while pos < len(rest):
        m = _TERM.match(rest, pos)
        if not m or not (m.group(1) or m.group(2)):
            raise ValueError(f"invalid duration {text!r}")
        whole, frac, unit = m.groups()
        if unit not in _UNITS_NS:
            raise ValueError(f"unknown unit {unit!r} in duration {text!r}")
        value = Fraction(int(whole or "0"))
        if frac:
            value += Fraction(int(frac), 10 ** len(frac))
        total += value * _UNITS_NS[unit]
        pos = m.end()
    # Go truncates sub-nanosecond remainders.
    return sign * int(total)


def parse_duration_seconds(text: str) -> float:
    """Parse a Go duration into seconds."""
    return parse_duration_ns(text) / NS_PER_SECOND

