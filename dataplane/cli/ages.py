"""kubectl's ages: ``5s``, ``2m30s``, ``3d4h`` since an RFC 3339 timestamp (the AGE column and describe's times)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def human_duration(seconds: float) -> str:
    """kubectl's short age: ``5s``, ``2m30s``, ``45m``, ``5h3m``, ``20h``, ``3d4h``, ``120d``, ``3y20d``."""
    if seconds < -1:
        return "<invalid>"
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    hours = s // 3600
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 timestamp, or None when absent or malformed."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def since(text: Any, now: float) -> str:
    """Age of a timestamp at epoch time ``now``; ``<unknown>`` when there is none."""
    parsed = parse_time(text)
    if parsed is None:
        return "<unknown>"
    return human_duration(now - parsed.timestamp())


def age(obj: dict, now: float) -> str:
    """The AGE column: time since ``metadata.creationTimestamp``."""
    return since((obj.get("metadata") or {}).get("creationTimestamp"), now)
