"""Small value checks shared by validation, conversion and config parsing."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_LABEL = 63
MAX_SUBDOMAIN = 253

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_int(value: Any) -> bool:
    """True for real integers; YAML booleans are not numbers here."""
    return isinstance(value, int) and not isinstance(value, bool)


def dns1035_label_problem(name: Any) -> str | None:
    """Why ``name`` is not a DNS-1035 label, or None when it is one."""
    if not isinstance(name, str):
        return f"must be a string, got {type(name).__name__}"
    if len(name) > MAX_LABEL:
        return f"must be no more than {MAX_LABEL} characters, got {len(name)}"
    if not _DNS1035.match(name):
        return (
            f"{quote(name)} is not a DNS-1035 label: lower-case letters, digits and \"-\", "
            "starting with a letter and ending with a letter or digit"
        )
    return None


def dns1035_prefix_problem(prefix: Any) -> str | None:
    """Like :func:`dns1035_label_problem` for a ``generateName`` prefix (may end in '-')."""
    if not isinstance(prefix, str):
        return f"must be a string, got {type(prefix).__name__}"
    return dns1035_label_problem(prefix[:-1] + "a" if prefix.endswith("-") else prefix)


def dns1123_label_problem(name: Any) -> str | None:
    """Why ``name`` is not a DNS-1123 label (Kubernetes namespace names), or None."""
    if not isinstance(name, str):
        return f"must be a string, got {type(name).__name__}"
    if len(name) > MAX_LABEL:
        return f"must be no more than {MAX_LABEL} characters, got {len(name)}"
    if not _DNS1123.match(name):
        return f"{quote(name)} is not a DNS-1123 label: lower-case letters, digits and \"-\""
    return None


def dns1123_subdomain_problem(name: Any) -> str | None:
    """Why ``name`` is not a DNS-1123 subdomain (dot-separated labels), or None."""
    if not isinstance(name, str):
        return f"must be a string, got {type(name).__name__}"
    if not name or len(name) > MAX_SUBDOMAIN:
        return f"must be 1 to {MAX_SUBDOMAIN} characters, got {len(name)}"
    if not all(_DNS1123.match(part) for part in name.split(".")):
        return f"{quote(name)} is not a DNS-1123 subdomain: dot-separated lower-case labels"
    return None


def bounds_message(value: Any, low: Any, high: Any) -> str:
    """The message every out-of-range number gets."""
    return f"must be between {low} and {high}, got {quote(value)}"


def quote(value: Any) -> str:
    """Render a value for a message the way Kubernetes does: strings in double quotes."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
