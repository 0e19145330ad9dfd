"""Every validation rule, with the exact path it reports."""

import copy

import pytest

from dataplane.api import Config, ValidationError, default_resource, parse_defaults, validate

S = "spec.template.spec"
C0 = f"{S}.containers[0]"


def service():
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
            "metadata": {"name": "s", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"image": "app"}]}}}}


def route(traffic):
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Route", "metadata": {"name": "r"},
            "spec": {"traffic": traffic}}


def problems(obj, cfg=Config()):
    """The 'path: message' lines validation reports for the defaulted object."""
    try:
        validate(default_resource(obj, cfg), cfg)
    except ValidationError as exc:
        return [str(e) for e in exc.errors]
    return []


def with_(mutate, base=service):
    obj = base()
    mutate(obj)
    return obj


def rev(obj):
    return obj["spec"]["template"]["spec"]


def c0(obj):
    return rev(obj)["containers"][0]


def test_a_plain_service_is_valid():
    assert problems(service()) == []


@pytest.mark.parametrize("name", ["", "http1", "h2c"])
def test_the_port_names_knative_allows_are_valid(name):
    assert problems(with_(lambda o: c0(o).update(ports=[{"containerPort": 50051, "name": name}]))) == []


@pytest.mark.parametrize("name", ["grpc", "H2C", "http2", "h2"])
def test_other_port_names_are_refused_with_the_field_path(name):
    assert problems(with_(lambda o: c0(o).update(ports=[{"containerPort": 50051, "name": name}]))) == [
        f'{C0}.ports[0].name: port name "{name}" is not allowed: must be empty, "http1" or "h2c"']


def test_a_container_may_run_a_command_without_an_image():
    assert problems(with_(lambda o: c0(o).update(image=None, command=["node", "index.js"]))) == []


NOT_1035 = "is not a DNS-1035 label: lower-case letters, digits and \"-\", " \
           "starting with a letter and ending with a letter or digit"

CASES = [
    # metadata
    ("name-not-dns-1035", lambda o: o["metadata"].update(name="Hello_World"),
     f'metadata.name: "Hello_World" {NOT_1035}'),
    ("name-too-long", lambda o: o["metadata"].update(name="a" * 64),
     "metadata.name: must be no more than 63 characters, got 64"),
    ("name-missing", lambda o: o["metadata"].pop("name"), "metadata.name: is required"),
    ("namespace-invalid", lambda o: o["metadata"].update(namespace="Prod"),
     'metadata.namespace: "Prod" is not a DNS-1123 label: lower-case letters, digits and "-"'),
    ("label-value-not-string", lambda o: o["metadata"].update(labels={"tier": 3}),
     "metadata.labels[tier]: must be a string, got int (quote it in YAML)"),
    ("visibility-label", lambda o: o["metadata"].update(labels={"networking.knative.dev/visibility": "public"}),
     'metadata.labels[networking.knative.dev/visibility]: invalid value "public": the only visibility is '
     '"cluster-local"'),
    ("reserved-label", lambda o: o["metadata"].update(labels={"serving.knative.dev/route": "x"}),
     "metadata.labels[serving.knative.dev/route]: label keys under serving.knative.dev/ are reserved"),
    ("autoscaling-on-service", lambda o: o["metadata"].update(annotations={"autoscaling.knative.dev/min-scale": "1"}),
     'metadata.annotations[autoscaling.knative.dev/min-scale]: autoscaling annotations must be put under '
     '"spec.template.metadata.annotations" to work'),
    ("rollout-duration", lambda o: o["metadata"].update(annotations={"serving.knative.dev/rollout-duration": "1.5s"}),
     "metadata.annotations[serving.knative.dev/rollout-duration]: rollout-duration=1.5s is not a whole number "
     "of seconds"),
    ("spec-missing", lambda o: o.pop("spec"), "spec: is required and must be a mapping"),
    ("template-missing", lambda o: o["spec"].pop("template"), "spec.template: is required and must be a mapping"),
    # revision spec numbers
    ("cc-too-high", lambda o: rev(o).update(containerConcurrency=1001),
     f"{S}.containerConcurrency: must be between 0 and 1000, got 1001"),
    ("cc-negative", lambda o: rev(o).update(containerConcurrency=-1),
     f"{S}.containerConcurrency: must be between 0 and 1000, got -1"),
    ("cc-not-a-number", lambda o: rev(o).update(containerConcurrency="10"),
     f'{S}.containerConcurrency: must be between 0 and 1000, got "10"'),
    ("timeout-too-high", lambda o: rev(o).update(timeoutSeconds=601),
     f"{S}.timeoutSeconds: must be between 0 and 600, got 601"),
    ("response-start-over-timeout", lambda o: rev(o).update(responseStartTimeoutSeconds=301),
     f"{S}.responseStartTimeoutSeconds: must be between 0 and timeoutSeconds (300), got 301"),
    ("idle-over-timeout", lambda o: rev(o).update(timeoutSeconds=200, idleTimeoutSeconds=201),
     f"{S}.idleTimeoutSeconds: must be between 0 and timeoutSeconds (200), got 201"),
    # containers and ports
    ("no-containers", lambda o: rev(o).update(containers=[]), f"{S}.containers: is required: at least one container"),
    ("two-containers-with-ports", lambda o: rev(o).update(containers=[
        {"image": "a", "ports": [{"containerPort": 8080}]}, {"image": "b", "ports": [{"containerPort": 9000}]}]),
     f"{S}.containers[1].ports[0]: only one container port may be set across all containers "
     "(the serving port is containers[0].ports[0])"),
    ("two-ports", lambda o: c0(o).update(ports=[{"containerPort": 8080}, {"containerPort": 8081}]),
     f"{S}.containers[0].ports[1]: only one container port may be set across all containers "
     "(the serving port is containers[0].ports[0])"),
    ("several-containers-no-port", lambda o: rev(o).update(containers=[{"image": "a"}, {"image": "b"}]),
     f"{S}.containers[*].ports: exactly one container must declare a port when there are several containers"),
    ("port-name", lambda o: c0(o).update(ports=[{"containerPort": 8080, "name": "grpc"}]),
     f'{C0}.ports[0].name: port name "grpc" is not allowed: must be empty, "http1" or "h2c"'),
    ("port-protocol", lambda o: c0(o).update(ports=[{"containerPort": 8080, "protocol": "UDP"}]),
     f'{C0}.ports[0].protocol: invalid value "UDP": only TCP is supported'),
    ("port-range", lambda o: c0(o).update(ports=[{"containerPort": 70000}]),
     f"{C0}.ports[0].containerPort: must be between 1 and 65535, got 70000"),
    ("env-port", lambda o: c0(o).update(env=[{"name": "PORT", "value": "1"}]),
     f'{C0}.env[0].name: "PORT" is a reserved environment variable'),
    ("env-k-revision", lambda o: c0(o).update(env=[{"name": "A", "value": "1"}, {"name": "K_REVISION"}]),
     f'{C0}.env[1].name: "K_REVISION" is a reserved environment variable'),
    ("sidecar-env-k-service", lambda o: rev(o).update(containers=[
        {"image": "a", "ports": [{"containerPort": 8080}]}, {"image": "b", "env": [{"name": "K_SERVICE"}]}]),
     f'{S}.containers[1].env[0].name: "K_SERVICE" is a reserved environment variable'),
    ("env-nameless", lambda o: c0(o).update(env=[{"value": "1"}]), f"{C0}.env[0].name: is required"),
    ("queue-proxy-name", lambda o: c0(o).update(name="queue-proxy"),
     f'{C0}.name: "queue-proxy" is a reserved container name'),
    ("duplicate-names", lambda o: rev(o).update(containers=[
        {"name": "web", "image": "a", "ports": [{"containerPort": 8080}]}, {"name": "web", "image": "b"}]),
     f'{S}.containers[1].name: duplicate container name "web" (also {S}.containers[0])'),
    ("no-image-no-command", lambda o: c0(o).pop("image"),
     f"{C0}.image: is required (or set command to run a local process)"),
    ("command-not-strings", lambda o: c0(o).update(command="node index.js"),
     f"{C0}.command: must be a list of strings"),
    ("init-containers", lambda o: rev(o).update(initContainers=[{"image": "i"}]),
     f"{S}.initContainers: init containers are not enabled (Knative's kubernetes.podspec-init-containers is off)"),
    ("service-account", lambda o: rev(o).update(serviceAccountName="Robot"),
     f'{S}.serviceAccountName: "Robot" is not a DNS-1123 subdomain: dot-separated lower-case labels'),
    # volumes
    ("mount-without-volume", lambda o: c0(o).update(volumeMounts=[{"name": "data", "mountPath": "/data"}]),
     f'{C0}.volumeMounts[0].name: volumeMount has no matching volume "data"'),
    ("volume-not-mounted", lambda o: rev(o).update(volumes=[{"name": "data", "emptyDir": {}}]),
     f'{S}.volumes[0].name: volume "data" is not mounted by any container'),
    ("volume-type", lambda o: (rev(o).update(volumes=[{"name": "data", "hostPath": {"path": "/"}}]),
                               c0(o).update(volumeMounts=[{"name": "data", "mountPath": "/data"}])),
     f"{S}.volumes[0]: expected exactly one of secret, configMap, projected, emptyDir; got hostPath"),
    ("relative-mount", lambda o: (rev(o).update(volumes=[{"name": "data", "emptyDir": {}}]),
                                  c0(o).update(volumeMounts=[{"name": "data", "mountPath": "data"}])),
     f'{C0}.volumeMounts[0].mountPath: "data" must be an absolute path'),
    ("duplicate-mount-path", lambda o: (rev(o).update(volumes=[{"name": "a", "emptyDir": {}},
                                                               {"name": "b", "emptyDir": {}}]),
                                        c0(o).update(volumeMounts=[{"name": "a", "mountPath": "/x"},
                                                                   {"name": "b", "mountPath": "/x/"}])),
     f'{C0}.volumeMounts[1].mountPath: "/x/" must be unique'),
    # readiness probe
    ("probe-two-handlers", lambda o: c0(o).update(readinessProbe={"httpGet": {}, "tcpSocket": {}}),
     f"{C0}.readinessProbe: expected exactly one of httpGet, tcpSocket, exec, grpc; got httpGet, tcpSocket"),
    ("probe-period-zero-timeout", lambda o: c0(o).update(readinessProbe={"tcpSocket": {}, "timeoutSeconds": 2}),
     f"{C0}.readinessProbe.timeoutSeconds: timeoutSeconds is disallowed when periodSeconds is zero"),
    ("probe-period-zero-failure", lambda o: c0(o).update(readinessProbe={"tcpSocket": {}, "failureThreshold": 2}),
     f"{C0}.readinessProbe.failureThreshold: failureThreshold is disallowed when periodSeconds is zero"),
    ("probe-timeout-below-one", lambda o: c0(o).update(readinessProbe={"tcpSocket": {}, "periodSeconds": 5,
                                                                       "timeoutSeconds": -1}),
     f"{C0}.readinessProbe.timeoutSeconds: must be between 1 and 2147483647, got -1"),
    ("probe-negative-period", lambda o: c0(o).update(readinessProbe={"tcpSocket": {}, "periodSeconds": -1}),
     f"{C0}.readinessProbe.periodSeconds: must be between 0 and 2147483647, got -1"),
    ("probe-named-port", lambda o: c0(o).update(ports=[{"containerPort": 8080, "name": "h2c"}],
                                                readinessProbe={"httpGet": {"port": "http"}}),
     f'{C0}.readinessProbe.httpGet.port: invalid value "http": probe port must match the container port '
     '(name "h2c" or a number)'),
    ("liveness-two-handlers", lambda o: c0(o).update(livenessProbe={"exec": {"command": ["x"]}, "grpc": {"port": 1}}),
     f"{C0}.livenessProbe: expected exactly one of httpGet, tcpSocket, exec, grpc; got exec, grpc"),
    ("sidecar-probe", lambda o: rev(o).update(containers=[
        {"image": "a", "readinessProbe": {"tcpSocket": {}}}, {"image": "b", "ports": [{"containerPort": 8080}]}]),
     f"{S}.containers[0].readinessProbe: probes are only allowed on the serving container"),
    # template metadata
    ("byo-name-prefix", lambda o: o["spec"]["template"].update(metadata={"name": "other-v1"}),
     'spec.template.metadata.name: "other-v1" must have prefix "s-"'),
    ("byo-name-invalid", lambda o: o["spec"]["template"].update(metadata={"name": "s-V1"}),
     f'spec.template.metadata.name: "s-V1" {NOT_1035}'),
    ("byo-name-with-generate-name", lambda o: (o["metadata"].pop("name"), o["metadata"].update(generateName="s-"),
                                               o["spec"]["template"].update(metadata={"name": "s-v1"})),
     "spec.template.metadata.name: a revision name cannot be chosen when metadata.generateName is used"),
    ("template-annotation", lambda o: o["spec"]["template"].update(
        metadata={"annotations": {"autoscaling.knative.dev/min-scale": "-1"}}),
     "spec.template.metadata.annotations[autoscaling.knative.dev/min-scale]: must be between 0 and 2147483647, "
     "got -1"),
    # traffic
    ("percent-range", lambda o: o["spec"].update(traffic=[{"percent": 101}]),
     "spec.traffic[0].percent: must be between 0 and 100, got 101"),
    ("percent-sum", lambda o: o["spec"].update(traffic=[{"percent": 90}]),
     "spec.traffic: traffic percents sum to 90, want 100"),
    ("percent-sum-without-percents", lambda o: o["spec"].update(traffic=[{"tag": "a"}]),
     "spec.traffic: traffic percents sum to 0, want 100"),
    ("latest-with-revision", lambda o: o["spec"].update(traffic=[
        {"revisionName": "s-00001", "latestRevision": True, "percent": 100}]),
     'spec.traffic[0].latestRevision: may not set revisionName "s-00001" when latestRevision is true'),
    ("pinned-without-revision", lambda o: o["spec"].update(traffic=[{"latestRevision": False, "percent": 100}]),
     "spec.traffic[0].latestRevision: latestRevision: false requires a revisionName"),
    ("configuration-in-service", lambda o: o["spec"].update(traffic=[{"configurationName": "s", "percent": 100}]),
     "spec.traffic[0].configurationName: must not be set in a Service: its own Configuration is implied"),
    ("bad-tag", lambda o: o["spec"].update(traffic=[{"percent": 100, "tag": "Blue"}]),
     f'spec.traffic[0].tag: "Blue" {NOT_1035}'),
    ("duplicate-tag", lambda o: o["spec"].update(traffic=[{"percent": 50, "tag": "blue"},
                                                          {"revisionName": "s-1", "percent": 50, "tag": "blue"}]),
     'spec.traffic[1].tag: duplicate tag "blue" (also at spec.traffic[0].tag)'),
    ("url-in-spec", lambda o: o["spec"].update(traffic=[{"percent": 100, "url": "http://x"}]),
     "spec.traffic[0].url: must not be set in spec: URLs are reported in status"),
]


@pytest.mark.parametrize("mutate, line", [pytest.param(m, line, id=i) for i, m, line in CASES])
def test_rule(mutate, line):
    assert line in problems(with_(mutate))


@pytest.mark.parametrize("port", [8012, 8013, 8022, 9090, 9091, 8008])
def test_reserved_ports(port):
    obj = with_(lambda o: c0(o).update(ports=[{"containerPort": port}]))
    assert problems(obj) == [f"{C0}.ports[0].containerPort: {port} is a reserved port, please use a different value"]


@pytest.mark.parametrize("path", ["/", "/dev", "/dev/log", "/dev/log/", "//", "/dev/../dev"])
def test_reserved_mount_paths(path):
    obj = with_(lambda o: (rev(o).update(volumes=[{"name": "v", "emptyDir": {}}]),
                           c0(o).update(volumeMounts=[{"name": "v", "mountPath": path}])))
    [line] = problems(obj)
    assert line.startswith(f"{C0}.volumeMounts[0].mountPath: mountPath ") and line.endswith("is a reserved path")


@pytest.mark.parametrize("probe_port, port", [("h2c", {"containerPort": 8080, "name": "h2c"}),
                                              ("http", {"containerPort": 8080}), (9999, {"containerPort": 8080})])
def test_probe_ports_that_match(probe_port, port):
    obj = with_(lambda o: c0(o).update(ports=[port], readinessProbe={"tcpSocket": {"port": probe_port}}))
    assert problems(obj) == []


def test_concurrency_zero_can_be_disallowed():
    cfg = Config(defaults=parse_defaults({"allow-container-concurrency-zero": "false", "container-concurrency": "1"}))
    assert problems(with_(lambda o: rev(o).update(containerConcurrency=0)), cfg) == [
        f"{S}.containerConcurrency: must be between 1 and 1000, got 0"]
    assert problems(service(), cfg) == []


def test_sidecars_may_use_port_env():
    obj = with_(lambda o: rev(o).update(containers=[{"image": "a", "ports": [{"containerPort": 8080}]},
                                                    {"image": "b", "env": [{"name": "PORT", "value": "1"}]}]))
    assert problems(obj) == []


@pytest.mark.parametrize("traffic, line", [
    ([{"percent": 100}], "spec.traffic[0]: expected exactly one of revisionName, configurationName"),
    ([{"revisionName": "a-1", "configurationName": "a", "percent": 100}],
     "spec.traffic[0]: expected exactly one of revisionName, configurationName; got both"),
    ([{"configurationName": "a", "percent": 60}, {"revisionName": "a-1", "percent": 30}],
     "spec.traffic: traffic percents sum to 90, want 100"),
    ([], "spec.traffic: traffic percents sum to 0, want 100"),
])
def test_route_traffic(traffic, line):
    assert line in problems(route(traffic))


def test_route_targets_may_name_a_configuration():
    assert problems(route([{"configurationName": "a", "percent": 70, "tag": "cur"},
                           {"revisionName": "a-00001", "percent": 30}])) == []


@pytest.mark.parametrize("kind", ["Configuration", "Route"])
def test_autoscaling_annotations_are_rejected_on_configuration_and_route(kind):
    obj = {"apiVersion": "serving.knative.dev/v1", "kind": kind,
           "metadata": {"name": "x", "annotations": {"autoscaling.knative.dev/window": "60s"}},
           "spec": {"template": {"spec": {"containers": [{"image": "a"}]}}} if kind == "Configuration"
           else {"traffic": [{"configurationName": "x", "percent": 100}]}}
    assert problems(obj) == ['metadata.annotations[autoscaling.knative.dev/window]: autoscaling annotations '
                             'must be put under "spec.template.metadata.annotations" to work']


def test_revisions_validate_their_autoscaling_annotations():
    obj = {"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
           "metadata": {"name": "x-00001", "annotations": {"autoscaling.knative.dev/window": "2s"}},
           "spec": {"containers": [{"image": "a"}]}}
    assert problems(obj) == ["metadata.annotations[autoscaling.knative.dev/window]: must be between 6s and 1h, got 2s"]


def test_parent_labels_need_owner_references():
    config = {"apiVersion": "serving.knative.dev/v1", "kind": "Configuration",
              "metadata": {"name": "s", "labels": {"serving.knative.dev/service": "s"}},
              "spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}}
    assert problems(config) == [
        'metadata.labels[serving.knative.dev/service]: requires an ownerReference to Service "s"']
    config["metadata"]["ownerReferences"] = [{"kind": "Service", "name": "s", "apiVersion": "serving.knative.dev/v1"}]
    assert problems(config) == []


def test_validate_wants_v1():
    obj = dict(service(), apiVersion="serving.knative.dev/v1alpha1")
    with pytest.raises(ValidationError) as info:
        validate(obj)
    assert info.value.paths == ["apiVersion"]


def test_every_problem_is_reported_at_once():
    obj = service()
    obj["metadata"]["name"] = "Bad"
    obj["metadata"]["annotations"] = {"autoscaling.knative.dev/max-scale": "3"}
    rev(obj).update(containerConcurrency=5000, timeoutSeconds=1000)
    c0(obj).update(name="queue-proxy", ports=[{"containerPort": 9090}], env=[{"name": "K_SERVICE"}])
    obj["spec"]["traffic"] = [{"percent": 40, "tag": "a"}, {"percent": 40, "tag": "a", "revisionName": "s-1"}]
    before = copy.deepcopy(obj)
    assert [line.split(":")[0] for line in problems(obj)] == [
        "metadata.name",
        "metadata.annotations[autoscaling.knative.dev/max-scale]",
        f"{S}.timeoutSeconds",
        f"{S}.containerConcurrency",
        f"{C0}.ports[0].containerPort",
        f"{C0}.name",
        f"{C0}.env[0].name",
        "spec.traffic[1].tag",
        "spec.traffic",
    ]
    assert obj == before


def test_revision_labels():
    obj = {"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
           "metadata": {"name": "s-00001", "labels": {"serving.knative.dev/configuration": "s",
                                                      "serving.knative.dev/service": "s",
                                                      "serving.knative.dev/routingState": "active"}},
           "spec": {"containers": [{"image": "a"}]}}
    assert problems(obj) == [
        'metadata.labels[serving.knative.dev/configuration]: requires an ownerReference to Configuration "s"']
    obj["metadata"]["ownerReferences"] = [{"kind": "Configuration", "name": "s"}]
    assert problems(obj) == []


def test_the_hpa_class_is_refused_on_a_service_and_a_revision_naming_the_annotation():
    # the local control API and the webhook both admit with these rules: nothing here runs an HPA
    hpa = {"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev", "autoscaling.knative.dev/metric": "cpu"}
    svc = with_(lambda o: o["spec"]["template"].setdefault("metadata", {}).update(annotations=hpa))
    (line,) = problems(svc)
    assert line.startswith('spec.template.metadata.annotations[autoscaling.knative.dev/class]: '
                           '"hpa.autoscaling.knative.dev" is not supported')
    revision = {"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
                "metadata": {"name": "r", "namespace": "default", "annotations": hpa},
                "spec": {"containers": [{"image": "app"}]}}
    assert [p.split(": ")[0] for p in problems(revision)] == ["metadata.annotations[autoscaling.knative.dev/class]"]
