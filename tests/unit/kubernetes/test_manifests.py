"""deploy/: the kustomization renders, every object is a valid Kubernetes object, the CRDs are structural."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from dataplane.api.autoscaling import AutoscalerConfig
from dataplane.api.config import Config
from dataplane.api.observability import LoggingConfig, ObservabilityConfig
from dataplane.api.schema import V1, ListOf, Struct
from dataplane.autoscaler.configfile import load_config
from dataplane.cli.main import build_parser
from dataplane.dialects import DEFAULT_DIALECT
from dataplane.platform.kubernetes import admission
from dataplane.platform.kubernetes.httproutes import Network, ObjectRef
from dataplane.platform.kubernetes.leader import LeaseSettings
from dataplane.platform.kubernetes.platform import PlatformConfig
from dataplane.platform.kubernetes.plane import ControllerSettings
from dataplane.platform.kubernetes.sidecar import parse_deployment_config
from tests.unit.kubernetes.crdcheck import DEPLOY, crd_problems, crd_schema, structural_problems

ROOT = DEPLOY.parent
K8S_VERSION = "1.33"
SUPPORTED_KUSTOMIZE_KEYS = {"apiVersion", "kind", "resources"}


def render_kustomization(directory: Path) -> list[dict]:
    """What `kubectl kustomize` makes of a kustomization that only lists resources (all ours does)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED_KUSTOMIZE_KEYS
    assert not unknown, f"the renderer here supports only resources; add support for {unknown}"
    docs = []
    for entry in kustomization["resources"]:
        path = directory / entry
        assert path.is_file(), f"{entry}: listed in kustomization.yaml but missing"
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    return render_kustomization(DEPLOY)


def load_generator():
    spec = importlib.util.spec_from_file_location("crd_generate", DEPLOY / "crds" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ident(doc: dict) -> tuple[str, str, str]:
    return (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])


def test_kustomization_lists_every_manifest_once(rendered):
    listed = {(DEPLOY / e).resolve() for e in yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]}
    optional = ("examples", "monitoring")  # applied on their own, or through an overlay
    on_disk = {p.resolve() for p in DEPLOY.rglob("*.yaml") if p.name != "kustomization.yaml" and not set(optional) & set(p.parts)}
    assert listed == on_disk
    ids = [ident(d) for d in rendered]
    assert len(ids) == len(set(ids))
    kinds = {d["kind"] for d in rendered}
    assert {
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "ConfigMap",
    } <= kinds


def test_every_object_matches_the_kubernetes_openapi_schema(rendered):
    for doc in rendered + [d for p in (DEPLOY / "examples").glob("*.yaml") for d in yaml.safe_load_all(p.read_text()) if d]:
        if doc["apiVersion"].startswith(("serving.knative.dev", "gateway.networking.k8s.io")):
            continue  # not Kubernetes' own kinds: checked against their CRD schemas below
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("kind", ["Service", "Configuration", "Revision", "Route"])
def test_crds_are_structural_and_generated(kind):
    generate = load_generator()
    plural = generate.KINDS[kind]["plural"]
    assert (DEPLOY / "crds" / f"{plural}.yaml").read_text() == generate.render(kind), "run python deploy/crds/generate.py"
    assert structural_problems(crd_schema(kind)) == []
    crd = yaml.safe_load((DEPLOY / "crds" / f"{plural}.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}} and version["served"] and version["storage"]
    assert crd["metadata"]["name"] == f"{plural}.serving.knative.dev" and crd["spec"]["scope"] == "Namespaced"
    assert "knative" in crd["spec"]["names"]["categories"]


def test_crd_names_and_printer_columns():
    def spec(plural):
        return yaml.safe_load((DEPLOY / "crds" / f"{plural}.yaml").read_text())["spec"]

    assert spec("services")["names"]["shortNames"] == ["kservice", "ksvc"]
    assert spec("configurations")["names"]["shortNames"] == ["config", "cfg"]
    assert spec("revisions")["names"]["shortNames"] == ["rev"]
    assert spec("routes")["names"]["shortNames"] == ["rt"]
    columns = {c["name"].upper(): c["jsonPath"] for c in spec("services")["versions"][0]["additionalPrinterColumns"]}
    assert columns == {
        "URL": ".status.url",
        "LATESTCREATED": ".status.latestCreatedRevisionName",
        "LATESTREADY": ".status.latestReadyRevisionName",
        "READY": ".status.conditions[?(@.type=='Ready')].status",
        "REASON": ".status.conditions[?(@.type=='Ready')].reason",
    }


def test_the_schemas_reject_what_knative_rejects():
    service = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {
            "template": {
                "spec": {"containers": [{"image": "x", "ports": [{"containerPort": 70000}]}], "containerConcurrency": 1001}
            }
        },
    }
    problems = crd_problems(service)
    assert any("70000" in p for p in problems) and any("1001" in p for p in problems)
    service["spec"]["template"]["spec"] = {"containers": [{"image": "x", "bogus": 1}]}
    assert crd_problems(service) == [".spec.template.spec.containers[0].bogus: would be pruned"]


def declared_paths(crd: dict, table, path: str = "") -> list[str]:
    """Fields the CRD declares that the strict decoding table refuses (so kubectl's answer and ours would differ)."""
    refused = []
    if crd.get("type") == "array" and isinstance(table, ListOf):
        return declared_paths(crd["items"], table.item, path + "[]")
    if isinstance(table, Struct):
        for name, sub in (crd.get("properties") or {}).items():
            if name not in table.fields:
                refused.append(f"{path}.{name}")
            else:
                refused += declared_paths(sub, table.fields[name], f"{path}.{name}")
    return refused


@pytest.mark.parametrize("kind", ["Service", "Configuration", "Revision", "Route"])
def test_every_field_a_crd_declares_is_one_admission_accepts(kind):
    assert declared_paths(crd_schema(kind), V1[kind]) == []


def test_configmaps_parse_with_their_documented_defaults(rendered):
    maps = {d["metadata"]["name"]: d["data"] for d in rendered if d["kind"] == "ConfigMap"}
    assert set(maps) == {
        "config-autoscaler",
        "config-defaults",
        "config-deployment",
        "config-domain",
        "config-gc",
        "config-logging",
        "config-network",
        "config-observability",
    }
    examples = {name: yaml.safe_load(data["_example"]) for name, data in maps.items()}
    # what is stored parses, and so does every documented example value
    Config.from_configmaps(maps)
    Config.from_configmaps({k: {kk: str(vv) for kk, vv in v.items()} for k, v in examples.items()})
    assert AutoscalerConfig.from_map(examples["config-autoscaler"]) == AutoscalerConfig()
    assert ObservabilityConfig.from_map(examples["config-observability"]) == ObservabilityConfig()
    assert LoggingConfig.from_map(examples["config-logging"]).levels == dict.fromkeys(("controller", "autoscaler", "activator", "queueproxy"), "INFO")
    assert parse_deployment_config(maps["config-deployment"]).queue_image == "dataplane:0.1.0"
    assert parse_deployment_config(examples["config-deployment"]).progress_deadline == 600
    images = {c["image"] for d in rendered if d["kind"] == "Deployment" for c in d["spec"]["template"]["spec"]["containers"]}
    assert images == {maps["config-deployment"]["queue-sidecar-image"]}  # one image for every component
    flags = Network(ObjectRef("x", "flag-gateway"), ObjectRef("x", "flag-local"))
    network = PlatformConfig(None, "knative-serving", flags)._network(examples["config-network"])
    assert network == Network(ObjectRef("knative-serving", "knative-gateway"), ObjectRef("knative-serving", "knative-local-gateway"))
    with pytest.raises(ValueError, match="^local-gateway-service: expected NAME or NAMESPACE/NAME"):
        PlatformConfig(None, "knative-serving", flags)._network({"local-gateway-service": "a/"})


def test_components_run_locked_down_with_probes_and_real_flags(rendered):
    parser, _ = build_parser()
    deployments = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "Deployment"}
    assert set(deployments) == {"controller", "autoscaler", "activator"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == name
        (container,) = pod["containers"]
        assert container["args"][0] == name
        parser.parse_args(container["args"])  # every flag exists
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert container["readinessProbe"] and container["livenessProbe"] and container["resources"]["limits"]
        ports = {p["containerPort"] for p in container["ports"]}
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        services = [d for d in rendered if d["kind"] == "Service" and d["spec"]["selector"].items() <= labels.items()]
        assert services and all(p["targetPort"] in ports for s in services for p in s["spec"]["ports"])
        (pdb,) = [
            d
            for d in rendered
            if d["kind"] == "PodDisruptionBudget" and d["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
    activator = next(d for d in rendered if d["kind"] == "Service" and d["metadata"]["name"] == "activator-service")
    assert [(p["port"], p["targetPort"], p.get("appProtocol")) for p in activator["spec"]["ports"]] == [
        (80, 8012, None), (81, 8012, "kubernetes.io/h2c"), (9090, 9090, None),
    ]  # fmt: skip
    # two activators start, share every revision's capacity by name, and the HPA scales them as Knative's
    assert deployments["activator"]["spec"]["replicas"] == 2
    env = deployments["activator"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    (hpa,) = [d for d in rendered if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["metadata"]["namespace"] == "knative-serving"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "activator"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 20)
    assert hpa["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 100}}}
    ]
    autoscaler = next(d for d in rendered if d["kind"] == "Service" and d["metadata"]["name"] == "autoscaler")
    assert [p["port"] for p in autoscaler["spec"]["ports"]] == [8080, 9090]
    controller = next(d for d in rendered if d["kind"] == "Service" and d["metadata"]["name"] == "controller")
    assert [(p["name"], p["port"], p["targetPort"]) for p in controller["spec"]["ports"]] == [
        ("http", 8080, 8080),
        ("http-metrics", 9090, 8080),
    ]


def test_only_the_controller_has_rights_on_the_api(rendered):
    roles = {(d["kind"], d["metadata"]["name"]): d for d in rendered if d["kind"] in ("ClusterRole", "Role")}
    assert set(roles) == {("ClusterRole", "dataplane-controller"), ("Role", "dataplane-controller")}
    granted = {
        (g, r, v)
        for role in roles.values()
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    needed = [
        ("serving.knative.dev", "revisions", "watch"), ("serving.knative.dev", "services/status", "update"),
        ("apps", "deployments", "create"), ("apps", "deployments/scale", "patch"), ("apps", "deployments", "patch"),
        ("", "pods", "patch"), ("", "services", "create"), ("discovery.k8s.io", "endpointslices", "watch"),
        ("gateway.networking.k8s.io", "httproutes", "delete"), ("gateway.networking.k8s.io", "referencegrants", "create"),
        ("gateway.networking.k8s.io", "gateways", "watch"), ("", "services", "update"),
        ("coordination.k8s.io", "leases", "update"), ("", "configmaps", "watch"),
        ("", "secrets", "get"), ("", "secrets", "update"), ("", "secrets", "create"), ("", "events", "create"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "update"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "update"),
    ]  # fmt: skip
    assert [n for n in needed if n not in granted] == []
    assert not any("*" in item for item in granted)
    accounts = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "ServiceAccount"}
    assert accounts["activator"]["automountServiceAccountToken"] is False
    assert accounts["autoscaler"]["automountServiceAccountToken"] is False


def test_the_webhook_configurations_reach_the_controllers_webhook(rendered):
    settings = ControllerSettings(lease=LeaseSettings("knative-serving", "x"))
    configurations = {(d["kind"], d["metadata"]["name"]): d for d in rendered if d["kind"].endswith("WebhookConfiguration")}
    assert set(configurations) == {(res.kind, name) for res, name in settings.webhook_configurations}
    (service,) = [d for d in rendered if d["kind"] == "Service" and d["metadata"]["name"] == settings.webhook_service]
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(443, settings.webhook_port)]
    controller = next(d for d in rendered if d["kind"] == "Deployment" and d["metadata"]["name"] == "controller")
    (container,) = controller["spec"]["template"]["spec"]["containers"]
    assert settings.webhook_port in {p["containerPort"] for p in container["ports"]}
    assert any(d["kind"] == "Secret" and d["metadata"]["name"] == settings.webhook_secret for d in rendered)
    paths = set()
    for config in configurations.values():
        (hook,) = config["webhooks"]
        assert hook["name"] == config["metadata"]["name"]
        assert (hook["failurePolicy"], hook["sideEffects"], hook["admissionReviewVersions"]) == ("Fail", "None", ["v1"])
        target = hook["clientConfig"]["service"]
        assert (target["name"], target["namespace"], target["port"]) == (settings.webhook_service, "knative-serving", 443)
        assert "caBundle" not in hook["clientConfig"]  # the controller writes it
        paths.add(target["path"])
    assert paths == {f"/{hook}" for hook in admission.HOOKS}
    # the config webhook sees every platform ConfigMap of deploy/ and nothing else
    (config_hook,) = configurations[("ValidatingWebhookConfiguration", "config.webhook.serving.knative.dev")]["webhooks"]
    wanted = config_hook["objectSelector"]["matchLabels"]
    for cm in (d for d in rendered if d["kind"] == "ConfigMap"):
        assert wanted.items() <= cm["metadata"]["labels"].items(), cm["metadata"]["name"]
        assert config_hook["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": cm["metadata"]["namespace"]}


def test_dashboard_queries_name_metrics_the_components_export():
    """Every metric the dashboard queries is one the components export under the default dialect."""
    from dataplane.activator import metrics as activator_metrics
    from dataplane.autoscaler import metrics as autoscaler_metrics
    from dataplane.queueproxy import metrics as queueproxy_metrics

    exported = set()
    for module in (queueproxy_metrics, activator_metrics, autoscaler_metrics):
        for instrument in module.INSTRUMENTS:
            name = instrument.exported_name(DEFAULT_DIALECT)
            if name is None:
                continue
            exported.add(name)
            if instrument.kind == "histogram":
                exported.update({name + "_bucket", name + "_sum", name + "_count"})
    dashboard = json.loads((DEPLOY / "monitoring" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"] if isinstance(v.get("query"), dict)]
    # a metric name in PromQL: an identifier followed by its label matchers, or a label_values() argument
    names = {m for e in exprs for m in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{", e)}
    names |= {m for e in exprs for m in re.findall(r"label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)", e)}
    assert names - exported == set(), "not exported under the default dialect"
    for required in ("revision_request_count", "revision_request_latencies_bucket", "revision_in_flight_requests",
                     "activator_capacity_wait_latencies_bucket", "activator_cold_start_latencies_count",
                     "activator_shed_request_count", "autoscaler_desired_pods", "autoscaler_panic_mode"):  # fmt: skip
        assert required in names
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_autoscaler_reads_config_autoscaler_from_its_mount(rendered, tmp_path):
    (deployment,) = [d for d in rendered if d["kind"] == "Deployment" and d["metadata"]["name"] == "autoscaler"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (path,) = [a.split("=", 1)[1] for a in container["args"] if a.startswith("--config=")]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == path]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "config-autoscaler"
    # the mount as the kubelet lays it out: one file per key
    (configmap,) = [d for d in rendered if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "config-autoscaler"]
    for key, value in {**configmap["data"], "container-concurrency-target-default": "50"}.items():
        (tmp_path / key).write_text(value)
    loaded = load_config(str(tmp_path))
    assert loaded["container-concurrency-target-default"] == "50"
    assert AutoscalerConfig.from_map(loaded).container_concurrency_target_default == 50
