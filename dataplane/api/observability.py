"""``config-observability`` (metrics) and ``config-logging`` (log levels): parsed and validated once.

``metrics-dialect`` is ours (``dataplane/dialects.py`` says what each dialect is and why
``opencensus`` is the default): the names every component's Prometheus endpoint serves.

``config-logging`` keeps Knative's ``loglevel.<component>`` keys (zap's level names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dataplane.dialects import DEFAULT_DIALECT, DIALECT_KEY, parse_dialect

from .errors import ConfigError

OBSERVABILITY_CONFIGMAP = "config-observability"
LOGGING_CONFIGMAP = "config-logging"

# zap's level names, as config-logging takes them, and the standard-library level each becomes
LOG_LEVELS = {"debug": "DEBUG", "info": "INFO", "warn": "WARNING", "error": "ERROR", "dpanic": "CRITICAL", "panic": "CRITICAL", "fatal": "CRITICAL"}
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class ObservabilityConfig:
    """What ``config-observability`` says about metrics."""

    metrics_dialect: str = DEFAULT_DIALECT
    """``metrics-dialect``: ``opencensus`` or ``opentelemetry``."""

    @classmethod
    def from_map(cls, data: Mapping[str, str]) -> ObservabilityConfig:
        """Parse ConfigMap data; ``ConfigError`` names the key of a bad value."""
        try:
            dialect = parse_dialect(data.get(DIALECT_KEY), DIALECT_KEY)
        except ValueError as exc:
            raise ConfigError(OBSERVABILITY_CONFIGMAP, DIALECT_KEY, str(exc).split(": ", 1)[1]) from None
        return cls(metrics_dialect=dialect)


def parse_log_level(raw: str | None, where: str) -> str:
    """A zap (``warn``) or standard-library (``WARNING``) level name as the standard library's; ``ValueError`` naming ``where``."""
    if raw is None or raw.strip() == "":
        return "INFO"
    value = raw.strip().lower()
    if value in LOG_LEVELS:
        return LOG_LEVELS[value]
    if value in ("warning", "critical"):
        return value.upper()
    raise ValueError(f"{where}: must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")


def log_levels(data: Mapping[str, str]) -> dict[str, str]:
    """``config-logging``'s ``loglevel.<component>`` keys as standard-library levels; ``ConfigError`` on a bad one."""
    levels = {}
    for key, raw in data.items():
        if key.startswith("loglevel."):
            try:
                levels[key[len("loglevel."):]] = parse_log_level(raw, key)
            except ValueError as exc:
                raise ConfigError(LOGGING_CONFIGMAP, key, str(exc).split(": ", 1)[1]) from None
    return levels

