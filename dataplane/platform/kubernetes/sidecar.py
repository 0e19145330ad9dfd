"""The queue-proxy container injected into every revision's pods, and ``config-deployment`` (pure).

Built as Knative's revision reconciler builds it: the queue-proxy takes over
the app's readiness probe (``SERVING_READINESS_PROBE``), kubelet probes the
queue-proxy with ``K-Network-Probe: queue``, and its image and resources come
from ``config-deployment`` or the revision's ``queue.sidecar.serving.knative.dev/*``
annotations.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from dataplane import __version__
from dataplane.api import keys, serving_port
from dataplane.api.containers import H2C
from dataplane.api.config import ConfigError
from dataplane.api.durations import parse_duration_seconds
from dataplane.dialects import DEFAULT_DIALECT
from dataplane.tracingconfig import TracingConfig

DEPLOYMENT_CONFIGMAP = "config-deployment"
QUEUE_CONTAINER = "queue-proxy"
QUEUE_PORT = 8012
# Knative's serving port for revisions whose port is named h2c; ours serves HTTP/2 on 8012 as well
# (told apart by the preface), so the directory, the probes and the private Service keep 8012
QUEUE_H2C_PORT = 8013
ADMIN_PORT = 8022
STATS_PORT = 9090
METRICS_PORT = 9091
LOCAL_ADDRESS = "127.0.0.1"
DEFAULT_QUEUE_IMAGE = f"dataplane:{__version__.split('+')[0]}"
RESOURCE_ANNOTATION_PREFIX = "queue.sidecar.serving.knative.dev/"
_RESOURCES = ("cpu", "memory", "ephemeral-storage")


@dataclass(frozen=True)
class DeploymentConfig:
    """``config-deployment``: how revisions become Deployments."""

    queue_image: str = DEFAULT_QUEUE_IMAGE
    """``queue-sidecar-image``: the image of the queue-proxy (this project's image; its entrypoint takes ``queue-proxy``)."""
    progress_deadline: int = 600
    """``progress-deadline`` in seconds: how long a new Deployment may take to become available."""
    queue_requests: Mapping[str, str] = field(default_factory=lambda: {"cpu": "25m"})
    """``queue-sidecar-{cpu,memory,ephemeral-storage}-request``."""
    queue_limits: Mapping[str, str] = field(default_factory=dict)
    """``queue-sidecar-{cpu,memory,ephemeral-storage}-limit``."""
    system_namespace: str = "knative-serving"
    metrics_dialect: str = DEFAULT_DIALECT
    """``config-observability``'s ``metrics-dialect``, for every queue-proxy (set only when not the default,
    so the default changes no Deployment)."""
    tracing: TracingConfig = field(default_factory=TracingConfig)
    """``config-observability``'s ``tracing-*``, for every queue-proxy as ``TRACING_*`` (set only when on)."""
    queue_log_level: str = ""
    """``config-logging``'s ``loglevel.queueproxy`` (empty: not set, the queue-proxy's default)."""


def parse_deployment_config(data: Mapping[str, str], system_namespace: str = "knative-serving") -> DeploymentConfig:
    """``config-deployment`` data with Knative's defaults; ``ConfigError`` names a bad key."""
    image = data.get("queue-sidecar-image", DEFAULT_QUEUE_IMAGE).strip()
    if not image:
        raise ConfigError(DEPLOYMENT_CONFIGMAP, "queue-sidecar-image", "must not be empty")
    deadline = 600
    if "progress-deadline" in data:
        try:
            seconds = parse_duration_seconds(data["progress-deadline"])
        except ValueError as exc:
            raise ConfigError(DEPLOYMENT_CONFIGMAP, "progress-deadline", str(exc)) from None
        if seconds <= 0 or seconds != int(seconds):
            raise ConfigError(DEPLOYMENT_CONFIGMAP, "progress-deadline", "must be a positive whole number of seconds")
        deadline = int(seconds)
    requests, limits = {"cpu": "25m"}, {}
    for name in _RESOURCES:
        for suffix, target in (("request", requests), ("limit", limits)):
            value = data.get(f"queue-sidecar-{name}-{suffix}")
            if value is not None and value.strip():
                target[name] = value.strip()
    return DeploymentConfig(image, deadline, requests, limits, system_namespace)


def queue_resources(annotations: Mapping[str, str], cfg: DeploymentConfig) -> dict:
    """Requests and limits of the queue-proxy: the revision's annotations win over ``config-deployment``."""
    requests, limits = dict(cfg.queue_requests), dict(cfg.queue_limits)
    for name in _RESOURCES:
        for suffix, target in (("request", requests), ("limit", limits)):
            value = annotations.get(f"{RESOURCE_ANNOTATION_PREFIX}{name}-resource-{suffix}")
            if value:
                target[name] = value
    out = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def probe_for_queue(readiness: Mapping | None, user_port: int) -> dict | None:
    """The app's readiness probe as the queue-proxy runs it: against 127.0.0.1 and the user port.

    An exec probe becomes TCP on the user port (kubelet still runs the exec in the app container).
    """
    if not readiness:
        return None
    probe = copy.deepcopy(dict(readiness))
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].update(host=LOCAL_ADDRESS, port=user_port)
        probe["httpGet"].setdefault("scheme", "HTTP")
    elif isinstance(probe.get("tcpSocket"), dict):
        probe["tcpSocket"].update(host=LOCAL_ADDRESS, port=user_port)
    elif isinstance(probe.get("grpc"), dict):
        probe["grpc"]["port"] = user_port
    elif probe.get("exec") is not None:
        del probe["exec"]
        probe["tcpSocket"] = {"host": LOCAL_ADDRESS, "port": user_port}
    if probe.get("periodSeconds", 0) > 0 and probe.get("timeoutSeconds", 0) < 1:
        probe["timeoutSeconds"] = 1
    return probe


def kubelet_probe(readiness: Mapping | None) -> dict:
    """The queue-proxy's own readiness probe: the app probe's timings, asked of the queue-proxy."""
    probe: dict = {"httpGet": {"port": QUEUE_PORT, "httpHeaders": [{"name": "K-Network-Probe", "value": "queue"}]}}
    for timing in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold"):
        value = (readiness or {}).get(timing)
        if value:  # zero leaves Kubernetes' default (Knative's aggressive mode keeps 0 in the revision)
            probe[timing] = value
    return probe


SECURITY_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def queue_container(revision: Mapping, readiness: Mapping | None, user_port: int, cfg: DeploymentConfig) -> dict:
    """The ``queue-proxy`` container for ``revision``, whose app listens on ``user_port``."""
    meta = revision["metadata"]
    spec = revision.get("spec") or {}
    labels = meta.get("labels") or {}
    env = [
        {"name": "SERVING_NAMESPACE", "value": meta["namespace"]},
        {"name": "SERVING_SERVICE", "value": labels.get(keys.SERVICE_LABEL, "")},
        {"name": "SERVING_CONFIGURATION", "value": labels.get(keys.CONFIGURATION_LABEL, "")},
        {"name": "SERVING_REVISION", "value": meta["name"]},
        {"name": "QUEUE_SERVING_PORT", "value": str(QUEUE_PORT)},
        {"name": "CONTAINER_CONCURRENCY", "value": str(int(spec.get("containerConcurrency") or 0))},
        {"name": "REVISION_TIMEOUT_SECONDS", "value": str(int(spec.get("timeoutSeconds") or 300))},
        {"name": "REVISION_RESPONSE_START_TIMEOUT_SECONDS", "value": str(int(spec.get("responseStartTimeoutSeconds") or 0))},
        {"name": "REVISION_IDLE_TIMEOUT_SECONDS", "value": str(int(spec.get("idleTimeoutSeconds") or 0))},
        {"name": "SERVING_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "SERVING_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "USER_PORT", "value": str(user_port)},
        {"name": "SYSTEM_NAMESPACE", "value": cfg.system_namespace},
    ]
    if cfg.metrics_dialect != DEFAULT_DIALECT:
        env.append({"name": "METRICS_DIALECT", "value": cfg.metrics_dialect})
    env.extend({"name": name, "value": value} for name, value in cfg.tracing.env().items())
    if cfg.queue_log_level:
        env.append({"name": "LOG_LEVEL", "value": cfg.queue_log_level})
    h2c = serving_port(spec).protocol == H2C
    if h2c:
        # the app speaks HTTP/2 without TLS: HTTP/2 streams go to it as h2c, on 8013 too as Knative serves them
        env += [{"name": "USER_PROTOCOL", "value": H2C}, {"name": "QUEUE_SERVING_H2C_PORT", "value": str(QUEUE_H2C_PORT)}]
    probe = probe_for_queue(readiness, user_port)
    if probe is not None:
        env.append({"name": "SERVING_READINESS_PROBE", "value": json.dumps(probe, separators=(",", ":"), sort_keys=True)})
    container = {
        "name": QUEUE_CONTAINER,
        "image": cfg.queue_image,
        "args": ["queue-proxy"],
        "ports": [
            {"name": "queue-port", "containerPort": QUEUE_PORT, "protocol": "TCP"},
            {"name": "queue-admin", "containerPort": ADMIN_PORT, "protocol": "TCP"},
            {"name": "http-autometric", "containerPort": STATS_PORT, "protocol": "TCP"},
            {"name": "http-usermetric", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "env": env,
        "readinessProbe": kubelet_probe(readiness),
        "securityContext": copy.deepcopy(SECURITY_CONTEXT),
    }
    if h2c:
        container["ports"].insert(1, {"name": "queue-h2c", "containerPort": QUEUE_H2C_PORT, "protocol": "TCP"})
    resources = queue_resources(meta.get("annotations") or {}, cfg)
    if resources:
        container["resources"] = resources
    return container
