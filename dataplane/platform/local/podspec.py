"""From a Revision to the two processes of each of its local pods: the user command and its queue-proxy."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from dataplane.api import keys, serving_container_index, serving_port

WORKING_DIR_ANNOTATION = "local.dataplane.dev/working-dir"


class NotRunnable(Exception):
    """The revision cannot run as a process; ``reason`` and ``str()`` go into its status."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class PodTemplate:
    namespace: str
    revision: str
    configuration: str
    service: str
    argv: tuple[str, ...]
    env: dict[str, str]
    working_dir: str
    container_concurrency: int
    timeout: int
    response_start_timeout: int
    idle_timeout: int
    readiness_probe: dict | None
    labels: dict[str, str] = field(default_factory=dict)
    sidecar_env: dict[str, str] = field(default_factory=dict, compare=False)
    """Platform settings for every queue-proxy (``METRICS_DIALECT``, ``LOG_LEVEL``): the runtime's live mapping,
    read when a pod starts, so a ``config-observability`` change reaches the next pods without a new ReplicaSet."""
    protocol: str = "http1"
    """How the app's port speaks: ``h2c`` when it is named so, else ``http1`` (the queue-proxy's USER_PROTOCOL)."""

    @property
    def hash(self) -> str:
        """Short digest naming the revision's ReplicaSet, as Kubernetes' pod-template-hash does."""
        doc = json.dumps([self.argv, self.env, self.working_dir, self.revision], sort_keys=True)
        return hashlib.sha256(doc.encode()).hexdigest()[:9]

    def app_env(self, port: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env.update(PORT=str(port), K_REVISION=self.revision, K_CONFIGURATION=self.configuration)
        if self.service:
            env["K_SERVICE"] = self.service
        return env

    def queue_proxy_env(self, pod: str, ports: dict[str, int], drain_quiet: float) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.sidecar_env)
        env.update(
            CONTAINER_CONCURRENCY=str(self.container_concurrency),
            QUEUE_SERVING_PORT=str(ports["serving"]),
            QUEUE_ADMIN_PORT=str(ports["admin"]),
            QUEUE_STATS_PORT=str(ports["stats"]),
            QUEUE_METRICS_PORT=str(ports["metrics"]),
            QUEUE_BIND_ADDRESS="127.0.0.1",
            USER_PORT=str(ports["user"]),
            USER_PROTOCOL=self.protocol,
            REVISION_TIMEOUT_SECONDS=str(self.timeout),
            REVISION_RESPONSE_START_TIMEOUT_SECONDS=str(self.response_start_timeout),
            REVISION_IDLE_TIMEOUT_SECONDS=str(self.idle_timeout),
            SERVING_NAMESPACE=self.namespace,
            SERVING_CONFIGURATION=self.configuration,
            SERVING_REVISION=self.revision,
            SERVING_SERVICE=self.service,
            SERVING_POD=pod,
            SERVING_POD_IP="127.0.0.1",
            QUEUE_DRAIN_QUIET_PERIOD_SECONDS=str(drain_quiet),
        )
        probe = _local_probe(self.readiness_probe, ports["user"])
        if probe is not None:
            env["SERVING_READINESS_PROBE"] = json.dumps(probe)
        return env


def _local_probe(probe: dict | None, user_port: int) -> dict | None:
    """The readiness probe with its port pointed at this pod's app (ports are per pod locally)."""
    if not probe:
        return None
    probe = json.loads(json.dumps(probe))
    for handler in ("tcpSocket", "httpGet", "grpc"):
        if handler in probe and isinstance(probe[handler], dict):
            probe[handler]["port"] = user_port
    if "exec" in probe:
        del probe["exec"]
        probe["tcpSocket"] = {"port": user_port}
    return probe


def template_for(revision: dict, home_dir: str, sidecar_env: dict[str, str] | None = None) -> PodTemplate:
    """What each pod of ``revision`` runs; NotRunnable when it cannot run as a local process.

    ``sidecar_env`` is kept by reference (see ``PodTemplate.sidecar_env``)."""
    meta = revision["metadata"]
    spec = revision.get("spec") or {}
    containers = spec.get("containers") or []
    if not containers:
        raise NotRunnable("ContainerMissing", "the revision has no container")
    container = containers[serving_container_index(spec) or 0]
    command = list(container.get("command") or [])
    args = list(container.get("args") or [])
    if not command:
        image = container.get("image") or "(none)"
        raise NotRunnable(
            "CommandMissing",
            f"image {image!r} cannot run without a container engine: add `command` "
            "(spec.template.spec.containers[0].command) to run it as a local process",
        )
    env = {}
    for item in container.get("env") or []:
        if "valueFrom" in item:
            raise NotRunnable("EnvValueFromUnsupported", f"env {item.get('name')!r}: valueFrom is not supported by the local runtime")
        env[item["name"]] = str(item.get("value", ""))
    annotations = meta.get("annotations") or {}
    working_dir = container.get("workingDir") or annotations.get(WORKING_DIR_ANNOTATION) or home_dir
    labels = meta.get("labels") or {}
    return PodTemplate(
        namespace=meta["namespace"],
        revision=meta["name"],
        configuration=labels.get(keys.CONFIGURATION_LABEL, ""),
        service=labels.get(keys.SERVICE_LABEL, ""),
        argv=tuple(command + args),
        env=env,
        working_dir=working_dir,
        container_concurrency=int(spec.get("containerConcurrency") or 0),
        timeout=int(spec.get("timeoutSeconds") or 300),
        response_start_timeout=int(spec.get("responseStartTimeoutSeconds") or 0),
        idle_timeout=int(spec.get("idleTimeoutSeconds") or 0),
        readiness_probe=container.get("readinessProbe"),
        protocol=serving_port(spec).protocol,
        labels={
            keys.REVISION_LABEL: meta["name"],
            keys.CONFIGURATION_LABEL: labels.get(keys.CONFIGURATION_LABEL, ""),
            keys.SERVICE_LABEL: labels.get(keys.SERVICE_LABEL, ""),
        },
        sidecar_env=sidecar_env if sidecar_env is not None else {},
    )
