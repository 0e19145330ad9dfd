"""The whole admission path for one submitted object: decode strictly, convert, default, validate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import schema
from .config import DEFAULT_CONFIG, Config
from .convert import check_type, source_paths, to_source_path, to_v1
from .defaults import default_resource
from .errors import FieldError, ValidationError, raise_if_any
from .strict import unknown_fields
from .validation import validate, validate_update


def admit(obj: Any, cfg: Config = DEFAULT_CONFIG, *, previous: Mapping | None = None) -> dict:
    """Return the v1, defaulted form of ``obj`` to store, or raise ``ValidationError``.

    Every problem is reported at once: fields the schema does not know, then
    whatever conversion and validation find. Paths are those of ``obj`` as
    submitted, also for a v1alpha1 object. ``previous`` is the stored object
    this one replaces, if any; update rules (immutable Revision spec, BYO
    revision names) are then checked too.
    """
    raise_if_any(check_type(obj))
    errs = unknown_fields(obj, schema.for_object(obj["apiVersion"], obj["kind"]))
    try:
        converted = to_v1(obj)  # its errors already name the submitted paths
    except ValidationError as exc:
        raise ValidationError(errs + _beside(errs, exc.errors)) from None
    result = default_resource(converted, cfg)
    try:
        validate(result, cfg)
        if previous is not None:
            validate_update(previous, result)
    except ValidationError as exc:
        paths = source_paths(obj)
        errs += _beside(errs, [FieldError(to_source_path(e.path, paths), e.message) for e in exc.errors])
    raise_if_any(errs)
    return result


def _beside(decoded: list[FieldError], found: tuple[FieldError, ...] | list[FieldError]) -> list[FieldError]:
    """``found`` less what repeats a decoding error: the same field, or one inside a field of the wrong shape."""
    shapes = [e.path for e in decoded]
    return [e for e in found if not any(e.path == p or e.path.startswith((p + ".", p + "[")) for p in shapes)]
