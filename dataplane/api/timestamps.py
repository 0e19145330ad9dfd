"""RFC 3339 timestamps as Kubernetes stores them, from an injected clock value."""

from __future__ import annotations

from datetime import datetime, timezone

Clock = float | datetime
"""A wall-clock reading: epoch seconds, or a timezone-aware datetime."""


def to_datetime(now: Clock) -> datetime:
    """Normalise a clock reading to an aware UTC datetime."""
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime or epoch seconds")
        return now.astimezone(timezone.utc)
    if isinstance(now, (int, float)) and not isinstance(now, bool):
        return datetime.fromtimestamp(now, tz=timezone.utc)
    raise TypeError(f"clock value must be epoch seconds or an aware datetime, got {type(now).__name__}")


def format_timestamp(now: Clock) -> str:
    """Kubernetes' second-precision form, e.g. ``2024-05-01T12:00:00Z``."""
    return to_datetime(now).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: object) -> datetime | None:
    """Parse an RFC 3339 timestamp; None when absent or malformed."""
    if not isinstance(text, str) or not text:
        return None
    value = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(timezone.utc)
