"""The two names Knative's metrics go by, and the rule that picks one (``metrics-dialect``).

A module of its own, free of imports, because the queue-proxy and the activator read it at
start-up and carry nothing they do not need; ``api/observability.py`` parses
``config-observability`` with it, and ``exposition.py`` renders under it.

* ``opencensus`` (the default): the names Knative exported before 1.19 (``revision_request_count``,
  ``activator_request_count``, ``autoscaler_desired_pods``, ..., labelled ``namespace_name``,
  ``revision_name``, ...). Most dashboards and alerts in use read these, so moving to this data
  plane keeps them working without an edit.
* ``opentelemetry``: Knative 1.19+'s OpenTelemetry instruments (``kn.serving.invocation.duration``,
  ``kn.revision.pods.desired``, ...) under the OpenTelemetry Prometheus exporter's name mapping
  (``kn_serving_invocation_duration_seconds``, attributes such as ``k8s_namespace_name``).
"""

from __future__ import annotations

DIALECT_KEY = "metrics-dialect"
OPENCENSUS = "opencensus"
OPENTELEMETRY = "opentelemetry"
DIALECTS = (OPENCENSUS, OPENTELEMETRY)
DEFAULT_DIALECT = OPENCENSUS

# The queue-proxy's in-flight gauge in each dialect: what the platforms read to pick the pod to remove
IN_FLIGHT_METRICS = {OPENCENSUS: "revision_in_flight_requests", OPENTELEMETRY: "http_server_active_requests"}


def parse_dialect(raw: str | None, where: str = DIALECT_KEY) -> str:
    """The dialect ``raw`` names (the default when empty); ``ValueError`` starting with ``where`` if unknown."""
    if raw is None or raw.strip() == "":
        return DEFAULT_DIALECT
    value = raw.strip().lower()
    if value not in DIALECTS:
        raise ValueError(f"{where}: must be one of {', '.join(DIALECTS)}, got {raw!r}")
    return value


def sum_in_flight(text: str) -> float | None:
    """The sum of the queue-proxy in-flight samples (either dialect) in a Prometheus text exposition."""
    total, seen = 0.0, False
    for line in text.splitlines():
        for name in IN_FLIGHT_METRICS.values():
            if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
                try:
                    total += float(line.rsplit(None, 1)[-1])
                except ValueError:
                    break
                seen = True
                break
    return total if seen else None


def choose_dialect(flag: str | None, env_value: str | None, warn) -> str:
    """A component's dialect: its ``--metrics-dialect`` flag (``ValueError`` if bad), else ``METRICS_DIALECT``
    from its environment (on Kubernetes, ``config-observability``'s key), where a bad value is reported
    through ``warn(message)`` and the default served: a metric-name typo must not stop the request path."""
    if flag is not None:
        return parse_dialect(flag, "--metrics-dialect")
    try:
        return parse_dialect(env_value, f"METRICS_DIALECT ({DIALECT_KEY})")
    except ValueError as exc:
        warn(f"{exc}; serving {DEFAULT_DIALECT}")
        return DEFAULT_DIALECT
