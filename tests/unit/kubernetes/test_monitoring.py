"""deploy/monitoring: the Prometheus Operator's monitors find what they are meant to scrape.

Rendered with ``kubectl kustomize overlays/monitoring-enabled``; each selector is matched against the
labels of the rendered Services and of the pod template the controller writes for a revision.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import yaml
from aiohttp.test_utils import TestClient, TestServer

from dataplane.platform.kubernetes.httpapi import ControllerApi
from dataplane.platform.kubernetes.sidecar import METRICS_PORT, DeploymentConfig
from dataplane.platform.kubernetes.workload import make_deployment
from tests.unit.kubernetes.crdcheck import DEPLOY
from tests.unit.kubernetes.kubectl import kustomize
from tests.unit.kubernetes.test_workload import LISTING_1, revision_of

OVERLAY = DEPLOY.parent / "overlays" / "monitoring-enabled"
MONITORS = ("PodMonitor", "ServiceMonitor")


def selects(selector: dict, labels: dict) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against ``labels``."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))  # an empty selector is refused here


def in_namespaces(namespace_selector: dict, namespace: str, own: str) -> bool:
    if namespace_selector.get("any"):
        return True
    return namespace in (namespace_selector.get("matchNames") or [own])


def rendered_overlay() -> list[dict]:
    return kustomize(OVERLAY)


def test_the_component_is_a_component_and_the_overlay_adds_only_monitors():
    component = yaml.safe_load((DEPLOY / "monitoring" / "kustomization.yaml").read_text())
    assert component["kind"] == "Component" and component["apiVersion"] == "kustomize.config.k8s.io/v1alpha1"
    overlay = rendered_overlay()
    base = kustomize(DEPLOY)
    dashboards = [d for d in overlay if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "dataplane-grafana-dashboard"]
    assert [d for d in overlay if d["kind"] not in MONITORS and d not in dashboards] == base
    monitors = sorted((d["kind"], d["metadata"]["name"]) for d in overlay if d["kind"] in MONITORS)
    assert monitors == [
        ("PodMonitor", "queue-proxy"),
        ("ServiceMonitor", "activator"),
        ("ServiceMonitor", "autoscaler"),
        ("ServiceMonitor", "controller"),
    ]
    assert not any(d["kind"] in MONITORS for d in base)  # the base applies without the Prometheus Operator


def test_the_component_carries_the_dashboard_for_grafanas_sidecar():
    (configmap,) = [d for d in rendered_overlay() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "dataplane-grafana-dashboard"]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["namespace"] == "knative-serving"
    assert json.loads(configmap["data"]["dataplane.json"]) == json.loads((DEPLOY / "monitoring" / "grafana-dashboard.json").read_text())


def test_the_pod_monitor_selects_revision_pods_by_their_queue_proxy_metrics_port():
    (monitor,) = [d for d in rendered_overlay() if d["kind"] == "PodMonitor"]
    deployment = make_deployment(revision_of(LISTING_1), 1, DeploymentConfig())
    template = deployment["spec"]["template"]
    assert in_namespaces(monitor["spec"]["namespaceSelector"], deployment["metadata"]["namespace"], "knative-serving")
    assert selects(monitor["spec"]["selector"], template["metadata"]["labels"])
    ports = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports") or []}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert ports[endpoint["port"]] == METRICS_PORT == 9091 and endpoint["path"] == "/metrics"


def test_the_pod_monitor_leaves_the_components_pods_alone():
    rendered = rendered_overlay()
    (monitor,) = [d for d in rendered if d["kind"] == "PodMonitor"]
    for deployment in (d for d in rendered if d["kind"] == "Deployment"):
        assert not selects(monitor["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])


def test_each_service_monitor_selects_one_service_with_a_metrics_port_that_reaches_a_container():
    rendered = rendered_overlay()
    services = [d for d in rendered if d["kind"] == "Service"]
    deployments = [d for d in rendered if d["kind"] == "Deployment"]
    for monitor in (d for d in rendered if d["kind"] == "ServiceMonitor"):
        name, spec = monitor["metadata"]["name"], monitor["spec"]
        own = monitor["metadata"]["namespace"]
        chosen = [
            s
            for s in services
            if in_namespaces(spec["namespaceSelector"], s["metadata"]["namespace"], own)
            and selects(spec["selector"], s["metadata"]["labels"])
        ]
        assert len(chosen) == 1, (name, [s["metadata"]["name"] for s in chosen])
        (service,) = chosen
        (endpoint,) = spec["endpoints"]
        (port,) = [p for p in service["spec"]["ports"] if p.get("name") == endpoint["port"]]
        selector = service["spec"]["selector"].items()
        (deployment,) = [d for d in deployments if selector <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert deployment["metadata"]["name"] == name
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert port["targetPort"] in {p["containerPort"] for p in container["ports"]}, name


async def test_the_controller_serves_metrics():
    plane = SimpleNamespace(leading=True, synced=True)
    async with TestClient(TestServer(ControllerApi(plane).app())) as client:
        resp = await client.get("/metrics")
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
        plane.leading = False
        later = await (await client.get("/metrics")).text()
    assert "controller_leader 1.0" in text and "controller_synced 1.0" in text
    assert "controller_leader 0.0" in later
