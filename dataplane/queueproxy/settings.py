"""Queue-proxy settings, read once at start-up from Knative's environment variables."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from dataplane.dialects import DEFAULT_DIALECT, parse_dialect
from dataplane.queueproxy.probespec import ProbeSpec, parse_readiness_probe
from dataplane.tracingconfig import TracingConfig, parse_tracing


# Knative's serving ports: 8012 for revisions whose port speaks HTTP/1.1, 8013 for h2c ones
KNATIVE_PORT = 8012
KNATIVE_H2C_PORT = 8013
START_ON_STDIN_ENV = "QUEUE_START_ON_STDIN"
"""Set to ``1`` by a platform that starts the sidecar ahead of its pod: it loads everything, then waits
for a line on its standard input before it serves (end of input instead: it exits without serving)."""


class SettingsError(ValueError):
    """A missing or invalid setting; the message names the variable."""


@dataclass(frozen=True)
class QueueProxySettings:
    """Everything the queue-proxy needs to know about its pod and revision."""

    container_concurrency: int
    """CONTAINER_CONCURRENCY: requests let through to the app at once (0 = unlimited)."""
    user_port: int
    """USER_PORT: the app's port on 127.0.0.1."""
    revision_timeout: float
    """REVISION_TIMEOUT_SECONDS: seconds a request may take, queueing included."""
    namespace: str
    configuration: str
    revision: str
    pod: str
    pod_ip: str
    service: str = ""
    serving_port: int = 8012
    """QUEUE_SERVING_PORT: HTTP/1.1, and HTTP/2 with prior knowledge (told apart by the preface)."""
    h2c_serving_port: int = 0
    """QUEUE_SERVING_H2C_PORT: a second serving port, alike (0 = none). Default 8013 when the
    serving port is Knative's 8012, so a Service port pointed at 8013 (Knative's for h2c) is served."""
    user_protocol: str = "http1"
    """USER_PROTOCOL: ``h2c`` when the app's port speaks HTTP/2 without TLS (Knative: the port is
    named ``h2c``), else ``http1``. Default ``h2c`` when QUEUE_SERVING_PORT is 8013, the port
    Knative's reconciler gives exactly such revisions."""
    admin_port: int = 8022
    """QUEUE_ADMIN_PORT (Knative: fixed 8022): `/wait-for-drain`."""
    stats_port: int = 9090
    """QUEUE_STATS_PORT (Knative: fixed 9090): autoscaler stats at `/metrics`."""
    metrics_port: int = 9091
    """QUEUE_METRICS_PORT (Knative: fixed 9091): Prometheus metrics."""
    bind_address: str = "0.0.0.0"
    """QUEUE_BIND_ADDRESS: where the four servers listen."""
    response_start_timeout: float = 0.0
    """REVISION_RESPONSE_START_TIMEOUT_SECONDS: seconds to the first response byte (0 = off)."""
    idle_timeout: float = 0.0
    """REVISION_IDLE_TIMEOUT_SECONDS: seconds allowed between response writes (0 = off)."""
    drain_quiet_period: float = 30.0
    """QUEUE_DRAIN_QUIET_PERIOD_SECONDS: after SIGTERM, seconds without a new request before exiting."""
    header_timeout: float = 60.0
    """QUEUE_HEADER_TIMEOUT_SECONDS: seconds a client may take to send a request head (408)."""
    max_head_size: int = 64 * 1024
    """QUEUE_MAX_HEAD_BYTES: largest request head accepted (431 beyond)."""
    max_headers: int = 100
    """QUEUE_MAX_HEADERS: most header field lines in a request head (431 beyond)."""
    probes: tuple[ProbeSpec, ...] = field(default=())
    """SERVING_READINESS_PROBE: how the app's readiness is checked."""
    metrics_dialect: str = DEFAULT_DIALECT
    """METRICS_DIALECT (``config-observability``'s ``metrics-dialect``): the names on the metrics port."""
    tracing: TracingConfig = field(default_factory=TracingConfig)
    """TRACING_PROTOCOL, TRACING_ENDPOINT, TRACING_SAMPLING_RATE (``config-observability``'s ``tracing-*``):
    off unless the protocol is ``http/protobuf``."""

    @property
    def queue_depth(self) -> int:
        """Requests that may wait for a slot: 10 × containerConcurrency, as Knative."""
        return 10 * self.container_concurrency


def _req(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if value is None or value == "":
        raise SettingsError(f"required environment variable {name} is not set")
    return value


def _int(env: Mapping[str, str], name: str, default: int | None = None, lo: int = 0, hi: int | None = None) -> int:
    raw = env.get(name, "")
    if raw == "":
        if default is None:
            raise SettingsError(f"required environment variable {name} is not set")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: must be an integer, got {raw!r}") from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise SettingsError(f"{name}: must be {bound}, got {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float | None = None) -> float:
    raw = env.get(name, "")
    if raw == "":
        if default is None:
            raise SettingsError(f"required environment variable {name} is not set")
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name}: must be >= 0, got {raw}")
    return value


def from_env(env: Mapping[str, str] | None = None) -> QueueProxySettings:
    """Read the settings; a missing required variable raises naming it."""
    env = os.environ if env is None else env
    user_port = _int(env, "USER_PORT", lo=1, hi=65535)
    timeout = _seconds(env, "REVISION_TIMEOUT_SECONDS")
    if timeout <= 0:
        raise SettingsError(f"REVISION_TIMEOUT_SECONDS: must be > 0, got {env['REVISION_TIMEOUT_SECONDS']}")
    try:
        probes = parse_readiness_probe(env.get("SERVING_READINESS_PROBE") or None, user_port)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    serving_port = _int(env, "QUEUE_SERVING_PORT", lo=1, hi=65535)
    protocol = env.get("USER_PROTOCOL") or ("h2c" if serving_port == KNATIVE_H2C_PORT else "http1")
    if protocol not in ("http1", "h2c"):
        raise SettingsError(f"USER_PROTOCOL: must be http1 or h2c, got {protocol!r}")
    h2c_port = _int(env, "QUEUE_SERVING_H2C_PORT", KNATIVE_H2C_PORT if serving_port == KNATIVE_PORT else 0, lo=0, hi=65535)
    if h2c_port == serving_port:
        h2c_port = 0
    try:
        dialect = parse_dialect(env.get("METRICS_DIALECT"), "METRICS_DIALECT")
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    try:
        tracing = parse_tracing(env.get("TRACING_PROTOCOL"), env.get("TRACING_ENDPOINT"), env.get("TRACING_SAMPLING_RATE"))
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    # found, not imported: the SDK is loaded when the policy is made (dataplane/queueproxy/traced.py)
    if tracing.enabled and importlib.util.find_spec("opentelemetry.sdk") is None:
        raise SettingsError(f"TRACING_PROTOCOL: {tracing.protocol} needs the OpenTelemetry SDK: install serverless-dataplane[tracing]")
    return QueueProxySettings(
        container_concurrency=_int(env, "CONTAINER_CONCURRENCY", lo=0),
        user_port=user_port,
        revision_timeout=timeout,
        namespace=_req(env, "SERVING_NAMESPACE"),
        configuration=_req(env, "SERVING_CONFIGURATION"),
        revision=_req(env, "SERVING_REVISION"),
        pod=_req(env, "SERVING_POD"),
        pod_ip=_req(env, "SERVING_POD_IP"),
        service=env.get("SERVING_SERVICE", ""),
        serving_port=serving_port,
        h2c_serving_port=h2c_port,
        user_protocol=protocol,
        admin_port=_int(env, "QUEUE_ADMIN_PORT", 8022, lo=0, hi=65535),
        stats_port=_int(env, "QUEUE_STATS_PORT", 9090, lo=0, hi=65535),
        metrics_port=_int(env, "QUEUE_METRICS_PORT", 9091, lo=0, hi=65535),
        bind_address=env.get("QUEUE_BIND_ADDRESS") or "0.0.0.0",
        response_start_timeout=_seconds(env, "REVISION_RESPONSE_START_TIMEOUT_SECONDS", 0.0),
        idle_timeout=_seconds(env, "REVISION_IDLE_TIMEOUT_SECONDS", 0.0),
        drain_quiet_period=_seconds(env, "QUEUE_DRAIN_QUIET_PERIOD_SECONDS", 30.0),
        header_timeout=_seconds(env, "QUEUE_HEADER_TIMEOUT_SECONDS", 60.0),
        max_head_size=_int(env, "QUEUE_MAX_HEAD_BYTES", 64 * 1024, lo=1024),
        max_headers=_int(env, "QUEUE_MAX_HEADERS", 100, lo=1),
        probes=probes,
        metrics_dialect=dialect,
        tracing=tracing,
    )
