"""Validation of ``spec.traffic`` on a Service or Route."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .checks import bounds_message, dns1035_label_problem, is_int, quote
from .errors import FieldError, join


def validate_traffic(traffic: Any, path: str, *, in_service: bool) -> list[FieldError]:
    """Problems with a traffic list at ``path`` (``spec.traffic``).

    In a Service every target implicitly belongs to the Service's own
    Configuration, so ``configurationName`` is not allowed there.
    """
    if traffic is None:
        traffic = []
    if not isinstance(traffic, list):
        return [FieldError(path, "must be a list of traffic targets")]
    errs: list[FieldError] = []
    total = 0
    tags: dict[str, int] = {}
    for i, target in enumerate(traffic):
        tpath = f"{path}[{i}]"
        if not isinstance(target, Mapping):
            errs.append(FieldError(tpath, "must be a mapping"))
            continue
        errs += _target(target, tpath, in_service)
        percent = target.get("percent")
        if percent is not None:
            if not is_int(percent) or not 0 <= percent <= 100:
                errs.append(FieldError(join(tpath, "percent"), bounds_message(percent, 0, 100)))
            else:
                total += percent
        tag = target.get("tag")
        if tag is None or tag == "":
            continue
        problem = dns1035_label_problem(tag)
        if problem:
            errs.append(FieldError(join(tpath, "tag"), problem))
        elif tag in tags:
            errs.append(FieldError(join(tpath, "tag"),
                                   f"duplicate tag {quote(tag)} (also at {path}[{tags[tag]}].tag)"))
        else:
            tags[tag] = i
    if total != 100:
        errs.append(FieldError(path, f"traffic percents sum to {total}, want 100"))
    return errs


def _target(target: Mapping, path: str, in_service: bool) -> list[FieldError]:
    errs = []
    revision = target.get("revisionName") or ""
    configuration = target.get("configurationName") or ""
    latest = target.get("latestRevision")
    if latest is not None and not isinstance(latest, bool):
        errs.append(FieldError(join(path, "latestRevision"), f"must be true or false, got {quote(latest)}"))
    elif latest is True and revision:
        errs.append(FieldError(join(path, "latestRevision"),
                               f"may not set revisionName {quote(revision)} when latestRevision is true"))
    elif latest is False and not revision:
        errs.append(FieldError(join(path, "latestRevision"), "latestRevision: false requires a revisionName"))

    if in_service and configuration:
        errs.append(FieldError(join(path, "configurationName"),
                               "must not be set in a Service: its own Configuration is implied"))
    elif revision and configuration:
        errs.append(FieldError(path, "expected exactly one of revisionName, configurationName; got both"))
    elif not revision and not configuration and not in_service:
        errs.append(FieldError(path, "expected exactly one of revisionName, configurationName"))
    for field, value in (("revisionName", revision), ("configurationName", configuration)):
        problem = dns1035_label_problem(value) if value else None
        if problem:
            errs.append(FieldError(join(path, field), problem))
    if target.get("url") is not None:
        errs.append(FieldError(join(path, "url"), "must not be set in spec: URLs are reported in status"))
    return errs
