import copy

import pytest

from dataplane.api import Config, default_resource, parse_defaults


def svc(rev_spec, **spec):
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"template": {"spec": rev_spec}, **spec}}


def rev_spec_of(obj):
    return obj["spec"]["template"]["spec"]


def cfg(**data):
    return Config(defaults=parse_defaults({k.replace("_", "-"): v for k, v in data.items()}))


def test_namespace_defaults_to_default_and_is_kept_when_given():
    assert default_resource(svc({"containers": [{"image": "a"}]}))["metadata"]["namespace"] == "default"
    obj = svc({"containers": [{"image": "a"}]})
    obj["metadata"]["namespace"] = "shop"
    assert default_resource(obj)["metadata"]["namespace"] == "shop"


@pytest.mark.parametrize("config, spec, want", [
    pytest.param({}, {}, {"timeoutSeconds": 300}, id="stock-config-sets-neither-extra-timeout"),
    pytest.param({"revision_timeout_seconds": "423", "revision_idle_timeout_seconds": "100",
                  "revision_response_start_timeout_seconds": "50"}, {},
                 {"timeoutSeconds": 423, "idleTimeoutSeconds": 100, "responseStartTimeoutSeconds": 50},
                 id="cluster-defaults-below-timeout-are-written"),
    pytest.param({"revision_idle_timeout_seconds": "100", "revision_response_start_timeout_seconds": "50"},
                 {"timeoutSeconds": 50}, {"timeoutSeconds": 50},
                 id="defaults-not-strictly-smaller-are-skipped"),
    pytest.param({"revision_response_start_timeout_seconds": "50"}, {"timeoutSeconds": 0},
                 {"timeoutSeconds": 300, "responseStartTimeoutSeconds": 50}, id="zero-timeout-means-default"),
    pytest.param({"revision_response_start_timeout_seconds": "50"}, {"responseStartTimeoutSeconds": 0},
                 {"timeoutSeconds": 300, "responseStartTimeoutSeconds": 0}, id="user-zero-is-kept"),
])
def test_timeout_defaulting(config, spec, want):
    got = rev_spec_of(default_resource(svc({"containers": [{"image": "a"}], **spec}), cfg(**config)))
    assert {k: v for k, v in got.items() if "imeout" in k} == want


def test_container_concurrency_comes_from_config_unless_given():
    assert rev_spec_of(default_resource(svc({"containers": [{"image": "a"}]})))["containerConcurrency"] == 0
    got = default_resource(svc({"containers": [{"image": "a"}]}), cfg(container_concurrency="7"))
    assert rev_spec_of(got)["containerConcurrency"] == 7
    given = svc({"containers": [{"image": "a"}], "containerConcurrency": 2})
    got = default_resource(given, cfg(container_concurrency="7"))
    assert rev_spec_of(got)["containerConcurrency"] == 2


@pytest.mark.parametrize("containers, names", [
    ([{"image": "a"}], ["user-container"]),
    ([{"image": "a", "ports": [{"containerPort": 80}]}, {"image": "b"}], ["user-container-0", "user-container-1"]),
    ([{"image": "a"}, {"name": "user-container-0", "image": "b"}, {"image": "c"}],
     ["user-container-1", "user-container-0", "user-container-2"]),
    ([{"name": "web", "image": "a"}], ["web"]),
])
def test_container_names(containers, names):
    got = rev_spec_of(default_resource(svc({"containers": containers})))
    assert [c["name"] for c in got["containers"]] == names


def test_container_name_template_uses_the_parent_name():
    got = default_resource(svc({"containers": [{"image": "a"}]}), cfg(container_name_template="{{.Name}}-main"))
    assert rev_spec_of(got)["containers"][0]["name"] == "s-main"


def test_init_containers_get_their_own_default_name():
    got = rev_spec_of(default_resource(svc({"containers": [{"image": "a"}], "initContainers": [{"image": "i"}]})))
    assert got["initContainers"][0]["name"] == "init-container"


@pytest.mark.parametrize("container, probe", [
    pytest.param({"image": "a"}, {"tcpSocket": {"port": 8080}, "successThreshold": 1}, id="default-port"),
    pytest.param({"image": "a", "ports": [{"containerPort": 3000}]},
                 {"tcpSocket": {"port": 3000}, "successThreshold": 1}, id="declared-port"),
    pytest.param({"image": "a", "readinessProbe": {"httpGet": {"path": "/healthz"}}},
                 {"httpGet": {"path": "/healthz", "port": 8080}, "successThreshold": 1}, id="http-without-port"),
    pytest.param({"image": "a", "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5}},
                 {"exec": {"command": ["true"]}, "periodSeconds": 5, "successThreshold": 1,
                  "failureThreshold": 3, "timeoutSeconds": 1}, id="kubernetes-defaults-with-period"),
    pytest.param({"image": "a", "readinessProbe": {"periodSeconds": 0, "successThreshold": 2}},
                 {"tcpSocket": {"port": 8080}, "periodSeconds": 0, "successThreshold": 2}, id="handlerless-probe"),
])
def test_serving_container_readiness_probe(container, probe):
    got = rev_spec_of(default_resource(svc({"containers": [container]})))
    assert got["containers"][0]["readinessProbe"] == probe


def test_sidecars_get_no_default_probe():
    got = rev_spec_of(default_resource(svc({"containers": [
        {"image": "side"}, {"image": "main", "ports": [{"containerPort": 8081}]}]})))
    assert "readinessProbe" not in got["containers"][0]
    assert got["containers"][1]["readinessProbe"]["tcpSocket"] == {"port": 8081}


def test_mounts_of_read_only_volume_types_are_forced_read_only():
    got = rev_spec_of(default_resource(svc({
        "containers": [{"image": "a", "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"},
                                                        {"name": "scratch", "mountPath": "/tmp/x"}]}],
        "volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "scratch", "emptyDir": {}}]})))
    mounts = got["containers"][0]["volumeMounts"]
    assert mounts[0]["readOnly"] is True
    assert "readOnly" not in mounts[1]


@pytest.mark.parametrize("traffic, want", [
    (None, [{"latestRevision": True, "percent": 100}]),
    ([], [{"latestRevision": True, "percent": 100}]),
    ([{"revisionName": "s-00001", "percent": 50}, {"percent": 50}],
     [{"revisionName": "s-00001", "percent": 50, "latestRevision": False}, {"percent": 50, "latestRevision": True}]),
])
def test_service_traffic(traffic, want):
    obj = svc({"containers": [{"image": "a"}]})
    if traffic is not None:
        obj["spec"]["traffic"] = traffic
    assert default_resource(obj)["spec"]["traffic"] == want


def test_route_traffic_is_not_invented_but_targets_get_latest_revision():
    route = {"apiVersion": "serving.knative.dev/v1", "kind": "Route", "metadata": {"name": "r"},
             "spec": {"traffic": [{"configurationName": "c", "percent": 100}]}}
    assert default_resource(route)["spec"]["traffic"] == [
        {"configurationName": "c", "percent": 100, "latestRevision": True}]
    empty = dict(route, spec={})
    assert default_resource(empty)["spec"] == {}


def test_revision_spec_is_defaulted_too():
    rev = {"apiVersion": "serving.knative.dev/v1", "kind": "Revision", "metadata": {"name": "r-00001"},
           "spec": {"containers": [{"image": "a"}]}}
    spec = default_resource(rev)["spec"]
    assert (spec["timeoutSeconds"], spec["containerConcurrency"], spec["containers"][0]["name"]) == (
        300, 0, "user-container")


def test_null_fields_are_dropped():
    got = default_resource(svc({"containers": [{"image": None, "command": ["x"]}], "timeoutSeconds": None}))
    assert "image" not in rev_spec_of(got)["containers"][0]
    assert rev_spec_of(got)["timeoutSeconds"] == 300


IDEMPOTENCY_CASES = [
    svc({"containers": [{"image": "a"}]}),
    svc({"containers": [{"image": "a", "ports": [{"containerPort": 9000, "name": "h2c"}]}, {"image": "b"},
                        {"image": "c", "name": "user-container-1"}],
         "initContainers": [{"image": "i"}], "volumes": [{"name": "v", "secret": {"secretName": "s"}}]},
        traffic=[{"tag": "x", "revisionName": "s-1", "percent": 100}]),
    {"apiVersion": "serving.knative.dev/v1", "kind": "Route", "metadata": {"name": "r"},
     "spec": {"traffic": [{"configurationName": "c", "percent": 100}]}},
    {"apiVersion": "serving.knative.dev/v1", "kind": "Configuration", "metadata": {"name": "c"},
     "spec": {"template": {"spec": {
         "containers": [{"image": "a", "readinessProbe": {"httpGet": {}, "periodSeconds": 3}}],
         "timeoutSeconds": 100}}}},
]


@pytest.mark.parametrize("obj", IDEMPOTENCY_CASES)
@pytest.mark.parametrize("config", [{}, {"revision_idle_timeout_seconds": "10",
                                         "revision_response_start_timeout_seconds": "20"}])
def test_defaulting_is_idempotent_and_does_not_touch_its_input(obj, config):
    before = copy.deepcopy(obj)
    once = default_resource(obj, cfg(**config))
    assert default_resource(once, cfg(**config)) == once
    assert obj == before


@pytest.mark.parametrize("obj", [
    "not a dict",
    {"kind": "Service", "metadata": "oops", "spec": []},
    svc("containers"),
    svc({"containers": {"image": "a"}}),
    svc({"containers": ["a", {"image": "b", "readinessProbe": "x", "volumeMounts": "y"}]}),
    {"kind": "Service", "metadata": {"name": "s"}, "spec": {"template": {"spec": {"containers": []}}, "traffic": "x"}},
])
def test_malformed_input_is_left_for_validation(obj):
    default_resource(obj)  # must not raise
