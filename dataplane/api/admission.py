"""The whole admission path for one submitted object: convert, default, validate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import DEFAULT_CONFIG, Config
from .convert import to_v1
from .defaults import default_resource
from .validation import validate, validate_update


def admit(obj: Any, cfg: Config = DEFAULT_CONFIG, *, previous: Mapping | None = None) -> dict:
    """Return the v1, defaulted form of ``obj`` to store, or raise ``ValidationError``.

    ``previous`` is the stored object this one replaces, if any; update rules
    (immutable Revision spec, BYO revision names) are then checked too.
    """
    result = default_resource(to_v1(obj), cfg)
    validate(result, cfg)
    if previous is not None:
        validate_update(previous, result)
    return result
