"""Validation errors that carry the field path, or the ConfigMap key, they are about."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one field.

    ``path`` is a dotted path with list indexes and map keys in brackets, e.g.
    ``spec.template.spec.containers[0].ports[0].containerPort`` or
    ``metadata.annotations[autoscaling.knative.dev/min-scale]``.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ValidationError(Exception):
    """A resource was rejected; ``errors`` lists every problem found.

    Maps to what the Kubernetes API answers for an invalid object:
    HTTP 422 with reason ``Invalid``.
    """

    http_status = 422
    reason = "Invalid"

    def __init__(self, errors: Iterable[FieldError]):
        unique = list(dict.fromkeys(errors))  # in order; linear even for thousands of errors
        if not unique:
            raise ValueError("ValidationError needs at least one FieldError")
        self.errors: tuple[FieldError, ...] = tuple(unique)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)

    @property
    def paths(self) -> list[str]:
        """The field paths of all errors, in the order they were found."""
        return [e.path for e in self.errors]


class ConfigError(ValueError):
    """A ConfigMap value that cannot be used; names the ConfigMap and the key."""

    def __init__(self, configmap: str, key: str, message: str):
        self.configmap = configmap
        self.key = key
        self.message = message
        super().__init__(f"{configmap}: {key}: {message}")


def raise_if_any(errors: list[FieldError]) -> None:
    """Raise a :class:`ValidationError` when ``errors`` is not empty."""
    if errors:
        raise ValidationError(errors)


def join(base: str, field: str) -> str:
    """Append a field (or an ``[index]``/``[key]`` suffix) to a path."""
    if not base:
        return field
    if field.startswith("["):
        return base + field
    return f"{base}.{field}"
