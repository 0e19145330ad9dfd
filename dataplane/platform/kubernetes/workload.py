"""From a Revision to its Deployment ``<rev>-deployment`` and private Service ``<rev>-private`` (pure).

The pod spec is mutated as Knative's revision reconciler does: the serving
container gets one ``user-port``, ``PORT`` and the ``K_*`` variables, a preStop
hook that waits for the queue-proxy to drain, and loses the readiness probe
the queue-proxy now runs; the ``queue-proxy`` container is appended.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping

from dataplane.api import child_name, keys, owner_reference, serving_container_index, serving_port
from dataplane.api.annotations import progress_deadline
from dataplane.api.containers import H2C
from dataplane.platform.kubernetes.sidecar import (
    ADMIN_PORT,
    METRICS_PORT,
    QUEUE_PORT,
    STATS_PORT,
    DeploymentConfig,
    queue_container,
)

SERVICE_TYPE_LABEL = "networking.internal.knative.dev/serviceType"
TEMPLATE_HASH_ANNOTATION = "dataplane.dev/template-hash"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
# revision fields that are Knative's, not the pod's
_REVISION_ONLY = ("containerConcurrency", "timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds")
# change with traffic, not with the workload: copying them would roll the pods on every route change
_VOLATILE_LABELS = (keys.ROUTING_STATE_LABEL,)
_VOLATILE_ANNOTATIONS = (keys.ROUTING_STATE_MODIFIED_ANNOTATION,)


def deployment_name(revision: str) -> str:
    return child_name(revision, "-deployment")


def private_service_name(revision: str) -> str:
    return child_name(revision, "-private")


def workload_labels(revision: Mapping) -> dict:
    """Labels of the Deployment, its pods and the private Service."""
    meta = revision["metadata"]
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in _VOLATILE_LABELS}
    labels[keys.REVISION_LABEL] = meta["name"]
    if meta.get("uid"):
        labels[keys.REVISION_UID_LABEL] = meta["uid"]
    labels.setdefault("app", meta["name"])
    return labels


def _port_or_user(action: dict, user_port: int) -> None:
    # a named port meant the serving port, which is renamed `user-port` here
    port = action.get("port")
    if port is None or port == 0 or isinstance(port, str):
        action["port"] = user_port


def app_containers(revision: Mapping) -> tuple[list[dict], dict | None, int]:
    """The revision's containers as they run, the readiness probe the queue-proxy takes over, and the user port."""
    meta = revision["metadata"]
    spec = revision.get("spec") or {}
    labels = meta.get("labels") or {}
    serving = serving_container_index(spec)
    user_port = serving_port(spec).number
    knative_env = [
        {"name": "K_REVISION", "value": meta["name"]},
        {"name": "K_CONFIGURATION", "value": labels.get(keys.CONFIGURATION_LABEL, "")},
        {"name": "K_SERVICE", "value": labels.get(keys.SERVICE_LABEL, "")},
    ]
    readiness = None
    containers = []
    for i, original in enumerate(spec.get("containers") or []):
        container = copy.deepcopy(original)
        container["env"] = list(container.get("env") or []) + copy.deepcopy(knative_env)
        container["stdin"] = False
        container["tty"] = False
        container.setdefault("terminationMessagePolicy", "FallbackToLogsOnError")
        if i == serving:
            container["ports"] = [{"name": "user-port", "containerPort": user_port, "protocol": "TCP"}]
            container["env"].append({"name": "PORT", "value": str(user_port)})
            container["lifecycle"] = {"preStop": {"httpGet": {"path": "/wait-for-drain", "port": ADMIN_PORT}}}
            readiness = container.get("readinessProbe")
            if readiness and any(readiness.get(h) is not None for h in ("httpGet", "tcpSocket", "grpc")):
                del container["readinessProbe"]  # the queue-proxy runs it; kubelet still runs exec probes
            liveness = container.get("livenessProbe") or {}
            for handler in ("httpGet", "tcpSocket", "grpc"):
                if isinstance(liveness.get(handler), dict):
                    _port_or_user(liveness[handler], user_port)
        containers.append(container)
    return containers, readiness, user_port


def pod_spec(revision: Mapping, cfg: DeploymentConfig) -> dict:
    """The pod spec of ``revision``: its pod fields, the mutated containers, and the queue-proxy."""
    spec = revision.get("spec") or {}
    pod = {k: copy.deepcopy(v) for k, v in spec.items() if k not in _REVISION_ONLY and k != "containers"}
    containers, readiness, user_port = app_containers(revision)
    pod["containers"] = containers + [queue_container(revision, readiness, user_port, cfg)]
    pod["terminationGracePeriodSeconds"] = int(spec.get("timeoutSeconds") or 300)
    pod.setdefault("enableServiceLinks", False)
    if "affinity" not in pod:
        # spread a revision's pods over nodes when the user said nothing about placement
        pod["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {keys.REVISION_LABEL: revision["metadata"]["name"]}},
                        },
                    }
                ]
            }
        }
    return pod


def _progress_deadline(annotations: Mapping[str, str], cfg: DeploymentConfig) -> int:
    return progress_deadline(annotations, cfg.progress_deadline)


def make_deployment(revision: Mapping, replicas: int, cfg: DeploymentConfig) -> dict:
    """The Deployment running ``revision`` at ``replicas``, owned by it."""
    meta = revision["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _VOLATILE_ANNOTATIONS}
    labels = workload_labels(revision)
    containers = (revision.get("spec") or {}).get("containers") or [{}]
    serving = serving_container_index(revision.get("spec")) or 0
    pod_annotations = {k: v for k, v in annotations.items() if not k.startswith(keys.AUTOSCALING_GROUP + "/")}
    pod_annotations[DEFAULT_CONTAINER_ANNOTATION] = containers[serving].get("name", "user-container")
    template = {"metadata": {"labels": labels, "annotations": pod_annotations}, "spec": pod_spec(revision, cfg)}
    annotations[TEMPLATE_HASH_ANNOTATION] = template_hash(template)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": deployment_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": dict(labels),
            "annotations": annotations,
            "ownerReferences": [owner_reference(revision)],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {keys.REVISION_UID_LABEL: meta.get("uid", "")}},
            "progressDeadlineSeconds": _progress_deadline(meta.get("annotations") or {}, cfg),
            "revisionHistoryLimit": 0,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "template": template,
        },
    }


def template_hash(template: Mapping) -> str:
    """Digest of what we asked the pods to be; the API server's defaults never enter it."""
    return hashlib.sha256(json.dumps(template, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def make_private_service(revision: Mapping) -> dict:
    """The revision's private Service: its pods' queue-proxy ports, for the activator, the autoscaler and the gateway."""
    meta = revision["metadata"]
    labels = workload_labels(revision)
    labels[SERVICE_TYPE_LABEL] = "Private"
    http = {"name": "http", "port": 80, "targetPort": QUEUE_PORT, "protocol": "TCP"}
    if serving_port(revision.get("spec")).protocol == H2C:
        # Gateway API's mark for a backend spoken to in HTTP/2 without TLS: gRPC keeps its trailers
        http["appProtocol"] = "kubernetes.io/h2c"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": private_service_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [owner_reference(revision)],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {keys.REVISION_LABEL: meta["name"]},
            "ports": [
                http,
                {"name": "http-autometric", "port": STATS_PORT, "targetPort": STATS_PORT, "protocol": "TCP"},
                {"name": "http-usermetric", "port": METRICS_PORT, "targetPort": METRICS_PORT, "protocol": "TCP"},
            ],
        },
    }
