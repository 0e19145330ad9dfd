"""``config-observability`` (metrics, tracing) and ``config-logging`` (log levels): parsed and validated once.

``metrics-dialect`` is ours (``dataplane/dialects.py`` says what each dialect is and why
``opencensus`` is the default): the names every component's Prometheus endpoint serves.

``config-logging`` keeps Knative's ``loglevel.<component>`` keys (zap's level names, ``dataplane/logs.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dataplane.dialects import DEFAULT_DIALECT, DIALECT_KEY, parse_dialect
from dataplane.logs import parse_level
from dataplane.tracingconfig import ENDPOINT_KEY, PROTOCOL_KEY, RATE_KEY, TracingConfig, parse_tracing

from .errors import ConfigError

OBSERVABILITY_CONFIGMAP = "config-observability"
LOGGING_CONFIGMAP = "config-logging"


@dataclass(frozen=True)
class ObservabilityConfig:
    """What ``config-observability`` says about metrics and tracing."""

    metrics_dialect: str = DEFAULT_DIALECT
    """``metrics-dialect``: ``opencensus`` or ``opentelemetry``."""
    tracing: TracingConfig = field(default_factory=TracingConfig)
    """``tracing-protocol``, ``tracing-endpoint``, ``tracing-sampling-rate`` (``dataplane/tracingconfig.py``)."""

    @classmethod
    def from_map(cls, data: Mapping[str, str]) -> ObservabilityConfig:
        """Parse ConfigMap data; ``ConfigError`` names the key of a bad value."""
        try:
            dialect = parse_dialect(data.get(DIALECT_KEY), DIALECT_KEY)
        except ValueError as exc:
            raise ConfigError(OBSERVABILITY_CONFIGMAP, DIALECT_KEY, str(exc).split(": ", 1)[1]) from None
        keys = {key: key for key in (PROTOCOL_KEY, ENDPOINT_KEY, RATE_KEY)}
        try:
            tracing = parse_tracing(data.get(PROTOCOL_KEY), data.get(ENDPOINT_KEY), data.get(RATE_KEY), keys)
        except ValueError as exc:
            key, message = str(exc).split(": ", 1)
            raise ConfigError(OBSERVABILITY_CONFIGMAP, key, message) from None
        return cls(metrics_dialect=dialect, tracing=tracing)


def log_levels(data: Mapping[str, str]) -> dict[str, str]:
    """``config-logging``'s ``loglevel.<component>`` keys as standard-library levels; ``ConfigError`` on a bad one."""
    levels = {}
    for key, raw in data.items():
        if key.startswith("loglevel."):
            try:
                levels[key[len("loglevel."):]] = parse_level(raw, key)
            except ValueError as exc:
                raise ConfigError(LOGGING_CONFIGMAP, key, str(exc).split(": ", 1)[1]) from None
    return levels



@dataclass(frozen=True)
class LoggingConfig:
    """What ``config-logging`` says: a level per component (``controller``, ``autoscaler``, ``activator``,
    ``queueproxy``, as Knative names them)."""

    levels: Mapping[str, str] = field(default_factory=dict)
    """Standard-library level names by component; a component not named keeps its own (``--log-level``)."""

    @classmethod
    def from_map(cls, data: Mapping[str, str]) -> LoggingConfig:
        """Parse ConfigMap data; ``ConfigError`` names the key of a bad value."""
        return cls(levels=log_levels(data))
