"""Child-object names: Knative's 63-character truncation and revision numbering."""

from __future__ import annotations

import hashlib

from .checks import MAX_LABEL

_MD5_HEX_LEN = 32
# How much of the parent survives when a hash has to make room.
_HEAD = MAX_LABEL - _MD5_HEX_LEN


def _md5(text: str) -> str:
    # md5 is what Knative uses here; it names objects, it protects nothing.
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def child_name(parent: str, suffix: str) -> str:
    """``parent + suffix``, shortened Knative's way when longer than 63 characters.

    A too-long parent is cut and followed by its md5, keeping the suffix
    readable; a suffix of 31 characters or more makes the whole name hashed.
    The result is stable, so the same inputs always name the same object.
    """
    if len(parent) + len(suffix) <= MAX_LABEL:
        return parent + suffix
    if _HEAD - len(suffix) > 0:
        return parent[: _HEAD - len(suffix)] + _md5(parent) + suffix
    name = parent[:_HEAD] + _md5(parent + suffix)
    if len(name) < MAX_LABEL:
        name += suffix[: MAX_LABEL - len(name)]
    return name.rstrip("-")


def revision_name(config_name: str, generation: int) -> str:
    """``<config>-<generation, zero-padded to 5 digits>``, e.g. ``hello-00003``."""
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise ValueError(f"generation must be a non-negative integer, got {generation!r}")
    return child_name(config_name, f"-{generation:05d}")
