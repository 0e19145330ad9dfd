"""Probe rules for the serving container (Knative's ``validateProbe``/``validateReadinessProbe``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .checks import bounds_message, is_int, quote
from .containers import ServingPort
from .errors import FieldError, join

HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")
_INT32_MAX = 2**31 - 1


def validate_probe(probe: Any, path: str, port: ServingPort) -> list[FieldError]:
    """Exactly one handler; a named port must be the serving port's name."""
    if probe is None:
        return []
    if not isinstance(probe, Mapping):
        return [FieldError(path, "must be a mapping")]
    errs = []
    handlers = [h for h in HANDLERS if probe.get(h) is not None]
    if len(handlers) != 1:
        errs.append(FieldError(path, f"expected exactly one of {', '.join(HANDLERS)}"
                                     + (f"; got {', '.join(handlers)}" if handlers else "")))
    for handler in ("httpGet", "tcpSocket"):
        action = probe.get(handler)
        if not isinstance(action, Mapping):
            continue
        named = action.get("port")
        if isinstance(named, str) and named and named != port.probe_name:
            errs.append(FieldError(f"{path}.{handler}.port",
                                   f"invalid value {quote(named)}: probe port must match the container port "
                                   f"(name {quote(port.probe_name)} or a number)"))
    return errs


def _count(probe: Mapping, field: str) -> Any:
    value = probe.get(field)
    return 0 if value is None else value


def validate_readiness_probe(probe: Any, path: str, port: ServingPort) -> list[FieldError]:
    """Probe rules plus Knative's ``periodSeconds: 0`` mode (aggressive probing by the queue-proxy)."""
    errs = validate_probe(probe, path, port)
    if not isinstance(probe, Mapping):
        return errs
    malformed = [FieldError(join(path, field), f"must be an integer, got {quote(probe[field])}")
                 for field in ("periodSeconds", "initialDelaySeconds", "timeoutSeconds",
                               "failureThreshold", "successThreshold")
                 if probe.get(field) is not None and not is_int(probe[field])]
    if malformed:
        return errs + malformed
    for field in ("periodSeconds", "initialDelaySeconds"):
        if _count(probe, field) < 0:
            errs.append(FieldError(join(path, field), bounds_message(probe[field], 0, _INT32_MAX)))
    if "successThreshold" in probe and probe["successThreshold"] < 1:
        errs.append(FieldError(join(path, "successThreshold"),
                               bounds_message(probe["successThreshold"], 1, _INT32_MAX)))
    if _count(probe, "periodSeconds") == 0:
        for field in ("failureThreshold", "timeoutSeconds"):
            if _count(probe, field) != 0:
                errs.append(FieldError(join(path, field), f"{field} is disallowed when periodSeconds is zero"))
    else:
        for field in ("timeoutSeconds", "failureThreshold"):
            if field in probe and probe[field] < 1:
                errs.append(FieldError(join(path, field), bounds_message(probe[field], 1, _INT32_MAX)))
    return errs
