"""Duration strings as Knative spells them (Go's ``time.ParseDuration``).

ConfigMaps and annotations carry durations such as ``60s``, ``1m30s``,
``1.5h`` or ``300ms``. They are parsed exactly, to integer nanoseconds, so a
"whole seconds only" rule can be checked without float rounding.
"""

from __future__ import annotations

import re

_NS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # micro sign
    "μs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
# "ms" must be tried before "m", and the micro spellings before "s".
_COMPONENT = re.compile(r"([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)")
_MAX_NS = (1 << 63) - 1
NS_PER_SECOND = 1_000_000_000


def parse_duration_ns(text: str) -> int:
    """Parse a Go duration string into integer nanoseconds.

    Raises ``ValueError`` for anything ``time.ParseDuration`` rejects: a
    missing unit (other than a bare ``0``), an unknown unit, empty numbers,
    whitespace, or a value beyond the int64 nanosecond range.
    """
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
        match = _COMPONENT.match(rest, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}")
        whole, frac, unit = match.groups()
        if not whole and not frac:
            raise ValueError(f"invalid duration {text!r}")
        scale = _NS_PER_UNIT[unit]
        total += int(whole or "0") * scale
        if frac:
            # Go truncates sub-nanosecond remainders toward zero.
            total += int(frac) * scale // 10 ** len(frac)
        if total > _MAX_NS:
            raise ValueError(f"invalid duration {text!r}: out of range")
        pos = match.end()
    return -total if negative else total


def parse_duration(text: str) -> float:
    """Parse a Go duration string into seconds."""
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
