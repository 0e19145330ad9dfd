"""Revision → Deployment and private Service: the queue-proxy injected as Knative injects it."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml

from dataplane.api import ConfigError, admit, make_configuration, make_revision
from dataplane.queueproxy.settings import from_env
from dataplane.platform.kubernetes.sidecar import DeploymentConfig, parse_deployment_config, probe_for_queue
from dataplane.platform.kubernetes.workload import TEMPLATE_HASH_ANNOTATION, make_deployment, make_private_service

K8S_VERSION = "1.33"
LISTING_1 = """
apiVersion: serving.knative.dev/v1alpha1
kind: Service
metadata: {name: knative-example, namespace: default}
spec:
  runLatest:
    configuration:
      revisionTemplate:
        spec:
          container:
            image: docker.io/##DOCKERHUB_NAME##/knative-example
"""


def revision_of(doc: str | dict, generation: int = 1) -> dict:
    service = admit(yaml.safe_load(doc) if isinstance(doc, str) else doc)
    service["metadata"]["uid"] = "svc-uid"
    config = make_configuration(service)
    config["metadata"].update(uid="cfg-uid", generation=generation)
    revision = make_revision(config, generation, now=1767225600.0)
    revision["metadata"]["uid"] = "rev-uid"
    return revision


def test_seed_revision_gets_the_queue_proxy_field_by_field():
    deployment = make_deployment(revision_of(LISTING_1), 1, DeploymentConfig(queue_image="registry.local/dataplane:1"))
    kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    assert deployment["metadata"]["name"] == "knative-example-00001-deployment"
    assert deployment["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Revision",
            "name": "knative-example-00001",
            "controller": True,
            "blockOwnerDeletion": True,
            "uid": "rev-uid",
        }
    ]
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["selector"] == {"matchLabels": {"serving.knative.dev/revisionUID": "rev-uid"}}
    assert (spec["progressDeadlineSeconds"], spec["revisionHistoryLimit"]) == (600, 0)
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}
    labels = spec["template"]["metadata"]["labels"]
    assert {
        k: labels[k]
        for k in (
            "serving.knative.dev/revision",
            "serving.knative.dev/revisionUID",
            "serving.knative.dev/configuration",
            "serving.knative.dev/service",
            "app",
        )
    } == {
        "serving.knative.dev/revision": "knative-example-00001",
        "serving.knative.dev/revisionUID": "rev-uid",
        "serving.knative.dev/configuration": "knative-example",
        "serving.knative.dev/service": "knative-example",
        "app": "knative-example-00001",
    }
    assert "serving.knative.dev/routingState" not in labels  # it changes with traffic; pods must not roll for it
    assert spec["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == "user-container"
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 300
    assert pod["enableServiceLinks"] is False
    assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 100

    user, queue = pod["containers"]
    assert user == {
        "name": "user-container",
        "image": "docker.io/##DOCKERHUB_NAME##/knative-example",
        "ports": [{"name": "user-port", "containerPort": 8080, "protocol": "TCP"}],
        "env": [
            {"name": "K_REVISION", "value": "knative-example-00001"},
            {"name": "K_CONFIGURATION", "value": "knative-example"},
            {"name": "K_SERVICE", "value": "knative-example"},
            {"name": "PORT", "value": "8080"},
        ],
        "lifecycle": {"preStop": {"httpGet": {"path": "/wait-for-drain", "port": 8022}}},
        "stdin": False,
        "tty": False,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    assert queue == {
        "name": "queue-proxy",
        "image": "registry.local/dataplane:1",
        "args": ["queue-proxy"],
        "ports": [
            {"name": "queue-port", "containerPort": 8012, "protocol": "TCP"},
            {"name": "queue-admin", "containerPort": 8022, "protocol": "TCP"},
            {"name": "http-autometric", "containerPort": 9090, "protocol": "TCP"},
            {"name": "http-usermetric", "containerPort": 9091, "protocol": "TCP"},
        ],
        "env": [
            {"name": "SERVING_NAMESPACE", "value": "default"},
            {"name": "SERVING_SERVICE", "value": "knative-example"},
            {"name": "SERVING_CONFIGURATION", "value": "knative-example"},
            {"name": "SERVING_REVISION", "value": "knative-example-00001"},
            {"name": "QUEUE_SERVING_PORT", "value": "8012"},
            {"name": "CONTAINER_CONCURRENCY", "value": "0"},
            {"name": "REVISION_TIMEOUT_SECONDS", "value": "300"},
            {"name": "REVISION_RESPONSE_START_TIMEOUT_SECONDS", "value": "0"},
            {"name": "REVISION_IDLE_TIMEOUT_SECONDS", "value": "0"},
            {"name": "SERVING_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "SERVING_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "USER_PORT", "value": "8080"},
            {"name": "SYSTEM_NAMESPACE", "value": "knative-serving"},
            {"name": "SERVING_READINESS_PROBE", "value": '{"successThreshold":1,"tcpSocket":{"host":"127.0.0.1","port":8080}}'},
        ],
        "readinessProbe": {
            "httpGet": {"port": 8012, "httpHeaders": [{"name": "K-Network-Probe", "value": "queue"}]},
            "successThreshold": 1,
        },
        "resources": {"requests": {"cpu": "25m"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def test_the_queue_proxy_can_start_from_the_environment_it_is_given():
    revision = revision_of(
        LISTING_1.replace("spec:\n          container", "spec:\n          containerConcurrency: 4\n          container")
    )
    queue = make_deployment(revision, 1, DeploymentConfig())["spec"]["template"]["spec"]["containers"][1]
    downward = {"metadata.name": "knative-example-00001-deployment-abc", "status.podIP": "10.0.0.7"}
    env = {e["name"]: e["value"] if "value" in e else downward[e["valueFrom"]["fieldRef"]["fieldPath"]] for e in queue["env"]}
    settings = from_env(env)
    assert (settings.container_concurrency, settings.user_port, settings.pod_ip) == (4, 8080, "10.0.0.7")
    assert [(p.kind, p.host, p.port) for p in settings.probes] == [("tcp", "127.0.0.1", 8080)]


def test_config_observability_metrics_dialect_reaches_every_queue_proxy_and_a_bad_value_keeps_the_last():
    from dataplane.platform.kubernetes.httproutes import Network, ObjectRef
    from dataplane.platform.kubernetes.platform import PlatformConfig
    from dataplane.platform.kubernetes.sidecar import QUEUE_CONTAINER

    class Store:
        maps: dict = {}

        def peek(self, kind, namespace):
            return [{"metadata": {"name": n}, "data": d} for n, d in self.maps.items()]

    def queue_env(cfg) -> dict:
        (queue,) = [c for c in make_deployment(revision_of(LISTING_1), 1, cfg)["spec"]["template"]["spec"]["containers"]
                    if c["name"] == QUEUE_CONTAINER]  # fmt: skip
        return {e["name"]: e.get("value") for e in queue["env"]}

    gateway = ObjectRef("knative-serving", "knative-gateway")
    platform = PlatformConfig(Store(), "knative-serving", Network(gateway, gateway))
    # the default changes no Deployment: no variable at all
    assert "METRICS_DIALECT" not in queue_env(platform.reload().deployment)
    Store.maps = {"config-observability": {"metrics-dialect": "opentelemetry"}}
    env = queue_env(platform.reload().deployment)
    assert env["METRICS_DIALECT"] == "opentelemetry"
    assert from_env({**env, "SERVING_POD": "p", "SERVING_POD_IP": "10.0.0.7"}).metrics_dialect == "opentelemetry"
    Store.maps = {"config-observability": {"metrics-dialect": "prometheus"}}
    assert queue_env(platform.reload().deployment)["METRICS_DIALECT"] == "opentelemetry"  # the last good value
    with pytest.raises(ConfigError, match="config-observability: metrics-dialect: must be one of opencensus, opentelemetry"):
        from dataplane.api.config import Config

        Config.from_configmaps(Store.maps)


def test_queue_proxy_refuses_an_unknown_metrics_dialect():
    from dataplane.queueproxy.settings import SettingsError

    env = {"CONTAINER_CONCURRENCY": "0", "USER_PORT": "8080", "REVISION_TIMEOUT_SECONDS": "300", "SERVING_NAMESPACE": "n",
           "SERVING_CONFIGURATION": "c", "SERVING_REVISION": "r", "SERVING_POD": "p", "SERVING_POD_IP": "10.0.0.1",
           "QUEUE_SERVING_PORT": "8012"}  # fmt: skip
    assert from_env(env).metrics_dialect == "opencensus"
    with pytest.raises(SettingsError, match="METRICS_DIALECT: must be one of opencensus, opentelemetry, got 'otel'"):
        from_env({**env, "METRICS_DIALECT": "otel"})


H2C_SERVICE = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "greeter", "namespace": "default"},
    "spec": {"template": {"spec": {"containers": [{"image": "greeter", "ports": [{"name": "h2c", "containerPort": 50051}]}]}}},
}


def test_an_h2c_port_makes_the_queue_proxy_speak_h2c_to_the_app_and_serve_8013():
    deployment = make_deployment(revision_of(H2C_SERVICE), 1, DeploymentConfig())
    kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    user, queue = deployment["spec"]["template"]["spec"]["containers"]
    assert user["ports"] == [{"name": "user-port", "containerPort": 50051, "protocol": "TCP"}]
    assert {"name": "PORT", "value": "50051"} in user["env"]
    assert [(p["name"], p["containerPort"]) for p in queue["ports"]] == [
        ("queue-port", 8012), ("queue-h2c", 8013), ("queue-admin", 8022), ("http-autometric", 9090), ("http-usermetric", 9091),
    ]  # fmt: skip
    env = {e["name"]: e.get("value") for e in queue["env"]}
    assert (env["USER_PROTOCOL"], env["QUEUE_SERVING_H2C_PORT"], env["QUEUE_SERVING_PORT"], env["USER_PORT"]) == (
        "h2c", "8013", "8012", "50051")
    downward = {"metadata.name": "greeter-00001-deployment-abc", "status.podIP": "10.0.0.7"}
    settings = from_env({e["name"]: e["value"] if "value" in e else downward[e["valueFrom"]["fieldRef"]["fieldPath"]]
                         for e in queue["env"]})  # fmt: skip
    assert (settings.user_protocol, settings.serving_port, settings.h2c_serving_port) == ("h2c", 8012, 8013)
    # Gateways speak h2c to the private Service's port, so gRPC keeps its trailers on the way in
    ports = make_private_service(revision_of(H2C_SERVICE))["spec"]["ports"]
    assert ports[0] == {"name": "http", "port": 80, "targetPort": 8012, "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"}


@pytest.mark.parametrize("name", [None, "http1"])
def test_an_http1_port_leaves_the_queue_proxy_on_http1(name):
    doc = json.loads(json.dumps(H2C_SERVICE))
    port = doc["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    if name is None:
        del port["name"]
    else:
        port["name"] = name
    queue = make_deployment(revision_of(doc), 1, DeploymentConfig())["spec"]["template"]["spec"]["containers"][1]
    assert {e["name"] for e in queue["env"]}.isdisjoint({"USER_PROTOCOL", "QUEUE_SERVING_H2C_PORT"})
    assert 8013 not in [p["containerPort"] for p in queue["ports"]]
    assert "appProtocol" not in make_private_service(revision_of(doc))["spec"]["ports"][0]


@pytest.mark.parametrize(
    ("probe", "for_queue"),
    [
        (
            {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5},
            {
                "httpGet": {"path": "/ready", "host": "127.0.0.1", "port": 9000, "scheme": "HTTP"},
                "periodSeconds": 5,
                "timeoutSeconds": 1,
            },
        ),
        (
            {"exec": {"command": ["true"]}, "periodSeconds": 2, "timeoutSeconds": 3},
            {"tcpSocket": {"host": "127.0.0.1", "port": 9000}, "periodSeconds": 2, "timeoutSeconds": 3},
        ),
        ({"grpc": {"port": 1}}, {"grpc": {"port": 9000}}),
        (None, None),
    ],
)
def test_readiness_probe_is_pointed_at_the_app(probe, for_queue):
    assert probe_for_queue(probe, 9000) == for_queue


def test_probes_ports_and_exec_readiness_stay_with_kubelet():
    doc = yaml.safe_load(LISTING_1)
    container = doc["spec"]["runLatest"]["configuration"]["revisionTemplate"]["spec"]["container"]
    container.update(
        ports=[{"containerPort": 9000, "name": "http1"}],
        readinessProbe={"exec": {"command": ["ready"]}, "periodSeconds": 3},
        livenessProbe={"httpGet": {"path": "/live", "port": "http1"}},
    )
    pod = make_deployment(revision_of(doc), 0, DeploymentConfig())["spec"]["template"]["spec"]
    user, queue = pod["containers"]
    assert user["readinessProbe"]["exec"] == {"command": ["ready"]} and user["readinessProbe"]["periodSeconds"] == 3
    assert user["livenessProbe"] == {"httpGet": {"path": "/live", "port": 9000}}
    assert queue["readinessProbe"]["periodSeconds"] == 3
    env = {e["name"]: e.get("value") for e in queue["env"]}
    assert json.loads(env["SERVING_READINESS_PROBE"])["tcpSocket"] == {"host": "127.0.0.1", "port": 9000}
    assert env["USER_PORT"] == "9000"


def test_queue_resources_come_from_config_deployment_then_annotations():
    cfg = parse_deployment_config(
        {"queue-sidecar-image": "img:2", "queue-sidecar-memory-limit": "800Mi", "progress-deadline": "2m"}
    )
    doc = yaml.safe_load(LISTING_1)
    doc["spec"]["runLatest"]["configuration"]["revisionTemplate"]["metadata"] = {
        "annotations": {
            "queue.sidecar.serving.knative.dev/cpu-resource-request": "100m",
            "serving.knative.dev/progress-deadline": "30s",
        }
    }
    deployment = make_deployment(revision_of(doc), 1, cfg)
    queue = deployment["spec"]["template"]["spec"]["containers"][1]
    assert queue["image"] == "img:2"
    assert queue["resources"] == {"requests": {"cpu": "100m"}, "limits": {"memory": "800Mi"}}
    assert deployment["spec"]["progressDeadlineSeconds"] == 30
    assert parse_deployment_config({"progress-deadline": "2m"}).progress_deadline == 120
    with pytest.raises(ConfigError, match="progress-deadline"):
        parse_deployment_config({"progress-deadline": "soon"})
    with pytest.raises(ConfigError, match="queue-sidecar-image"):
        parse_deployment_config({"queue-sidecar-image": " "})


def test_template_hash_follows_the_pod_template_only():
    revision = revision_of(LISTING_1)
    first = make_deployment(revision, 1, DeploymentConfig())
    assert (
        make_deployment(revision, 5, DeploymentConfig())["metadata"]["annotations"][TEMPLATE_HASH_ANNOTATION]
        == first["metadata"]["annotations"][TEMPLATE_HASH_ANNOTATION]
    )
    revision["metadata"]["labels"]["serving.knative.dev/routingState"] = "reserve"
    assert make_deployment(revision, 1, DeploymentConfig())["metadata"]["annotations"] == first["metadata"]["annotations"]
    other = make_deployment(revision, 1, DeploymentConfig(queue_image="img:9"))
    assert (
        other["metadata"]["annotations"][TEMPLATE_HASH_ANNOTATION] != first["metadata"]["annotations"][TEMPLATE_HASH_ANNOTATION]
    )


def test_private_service():
    service = make_private_service(revision_of(LISTING_1))
    kubernetes_validate.validate(service, K8S_VERSION, strict=True)
    assert service["metadata"]["name"] == "knative-example-00001-private"
    assert service["metadata"]["labels"]["networking.internal.knative.dev/serviceType"] == "Private"
    assert service["spec"]["selector"] == {"serving.knative.dev/revision": "knative-example-00001"}
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        ("http", 80, 8012), ("http-autometric", 9090, 9090), ("http-usermetric", 9091, 9091),
    ]  # fmt: skip


def test_config_observability_tracing_reaches_every_queue_proxy_and_a_bad_value_keeps_the_last():
    from dataplane.platform.kubernetes.httproutes import Network, ObjectRef
    from dataplane.platform.kubernetes.platform import PlatformConfig
    from dataplane.platform.kubernetes.sidecar import QUEUE_CONTAINER

    class Store:
        maps: dict = {}

        def peek(self, kind, namespace):
            return [{"metadata": {"name": n}, "data": d} for n, d in self.maps.items()]

    def queue_env(cfg) -> dict:
        (queue,) = [c for c in make_deployment(revision_of(LISTING_1), 1, cfg)["spec"]["template"]["spec"]["containers"]
                    if c["name"] == QUEUE_CONTAINER]  # fmt: skip
        return {e["name"]: e.get("value") for e in queue["env"]}

    gateway = ObjectRef("knative-serving", "knative-gateway")
    platform = PlatformConfig(Store(), "knative-serving", Network(gateway, gateway))
    # off, the default, changes no Deployment
    assert not any(name.startswith("TRACING_") for name in queue_env(platform.reload().deployment))
    on = {"tracing-protocol": "http/protobuf", "tracing-endpoint": "otel.observability:4318/v1/traces", "tracing-sampling-rate": "0.1"}
    Store.maps = {"config-observability": on}
    env = queue_env(platform.reload().deployment)
    assert (env["TRACING_PROTOCOL"], env["TRACING_ENDPOINT"], env["TRACING_SAMPLING_RATE"]) == (
        "http/protobuf", "https://otel.observability:4318/v1/traces", "0.1")  # fmt: skip
    tracing = from_env({**env, "SERVING_POD": "p", "SERVING_POD_IP": "10.0.0.7"}).tracing
    assert tracing.enabled and tracing.sampling_rate == 0.1
    Store.maps = {"config-observability": {**on, "tracing-sampling-rate": "10"}}
    assert queue_env(platform.reload().deployment)["TRACING_SAMPLING_RATE"] == "0.1"  # the last good value
