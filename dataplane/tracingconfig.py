"""Knative's tracing keys (``config-observability``): what they mean and the rule that checks them.

A module of its own, free of imports, for the same reason as ``dialects.py``: ``api/observability.py``
validates the ConfigMap with it, and the queue-proxy and the activator read their environment with it
at start-up without carrying the OpenTelemetry SDK (``dataplane/tracing.py`` loads that, only when on).

The keys and their rules are knative.dev/pkg ``observability/tracing/config.go``'s:

* ``tracing-protocol``: ``none`` (the default: no spans, nothing on the request path) or
  ``http/protobuf`` (OTLP over HTTP). Knative also takes ``grpc`` and ``stdout``; they are refused here
  with a message saying so, rather than accepted and silently dropped.
* ``tracing-endpoint``: where OTLP/HTTP goes, required with ``http/protobuf`` and refused with ``none``.
  A URL (``http://collector:4318/v1/traces``) is used as it is; without a scheme
  (``collector:4318/v1/traces``) it is ``https://`` as Knative makes it; an empty path is ``/v1/traces``.
* ``tracing-sampling-rate``: 0 to 1 (default 0, as Knative's). 1 samples every request, 0 none, and
  anything between samples that fraction of new traces and follows an incoming trace's decision.
"""

from __future__ import annotations

from dataclasses import dataclass

PROTOCOL_KEY = "tracing-protocol"
ENDPOINT_KEY = "tracing-endpoint"
RATE_KEY = "tracing-sampling-rate"
NONE = "none"
HTTP_PROTOBUF = "http/protobuf"
PROTOCOLS = (NONE, HTTP_PROTOBUF)
# Knative's others, named in the refusal
UNSUPPORTED = ("grpc", "stdout")
DEFAULT_PATH = "/v1/traces"
# how the three reach a queue-proxy and the activator
ENV_NAMES = {PROTOCOL_KEY: "TRACING_PROTOCOL", ENDPOINT_KEY: "TRACING_ENDPOINT", RATE_KEY: "TRACING_SAMPLING_RATE"}


@dataclass(frozen=True)
class TracingConfig:
    """Where spans go and how many; ``enabled`` is False for the default ``none``."""

    protocol: str = NONE
    """``tracing-protocol``: ``none`` or ``http/protobuf``."""
    endpoint: str = ""
    """``tracing-endpoint``: the OTLP/HTTP URL spans are posted to (empty with ``none``)."""
    sampling_rate: float = 0.0
    """``tracing-sampling-rate``: the fraction of new traces sampled, 0 to 1."""

    @property
    def enabled(self) -> bool:
        return self.protocol != NONE

    def env(self) -> dict[str, str]:
        """The settings as a queue-proxy's or the activator's environment (empty when off)."""
        if not self.enabled:
            return {}
        return {"TRACING_PROTOCOL": self.protocol, "TRACING_ENDPOINT": self.endpoint, "TRACING_SAMPLING_RATE": repr(self.sampling_rate)}


def parse_tracing(protocol: str | None, endpoint: str | None, rate: str | None, names=ENV_NAMES) -> TracingConfig:
    """The tracing settings from the three raw values (None or empty: not set); ``ValueError`` whose
    message starts with the name (from ``names``, keyed by the ConfigMap key) of the bad one."""
    proto = (protocol or "").strip().lower() or NONE
    if proto not in PROTOCOLS:
        if proto in UNSUPPORTED:
            raise ValueError(f"{names[PROTOCOL_KEY]}: {proto!r} is not supported here; use {HTTP_PROTOBUF} (OTLP/HTTP) or {NONE}")
        raise ValueError(f"{names[PROTOCOL_KEY]}: must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    ep = (endpoint or "").strip()
    if proto == NONE and ep:
        raise ValueError(f"{names[ENDPOINT_KEY]}: must not be set when {names[PROTOCOL_KEY]} is {NONE}")
    if proto == HTTP_PROTOBUF:
        if not ep:
            raise ValueError(f"{names[ENDPOINT_KEY]}: required when {names[PROTOCOL_KEY]} is {HTTP_PROTOBUF}")
        ep = _endpoint_url(ep, names[ENDPOINT_KEY])
    value = 0.0
    raw_rate = (rate or "").strip()
    if raw_rate:
        try:
            value = float(raw_rate)
        except ValueError:
            raise ValueError(f"{names[RATE_KEY]}: must be a number from 0 to 1, got {rate!r}") from None
        if not 0.0 <= value <= 1.0:  # also refuses nan
            raise ValueError(f"{names[RATE_KEY]}: must be from 0 to 1, got {rate!r}")
    return TracingConfig(protocol=proto, endpoint=ep, sampling_rate=value)


def _endpoint_url(raw: str, name: str) -> str:
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise ValueError(f"{name}: must be a URL without spaces or control characters, got {raw!r}")
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "https", raw  # Knative's rule for an endpoint without a scheme
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"{name}: must be an http:// or https:// URL, got {raw!r}")
    authority, slash, path = rest.partition("/")
    if not authority or "@" in authority:
        raise ValueError(f"{name}: must name a host (and no user), got {raw!r}")
    return f"{scheme}://{authority}{'/' + path if slash and path else DEFAULT_PATH}"
