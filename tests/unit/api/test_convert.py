import pytest

from dataplane.api import ValidationError, to_v1

TEMPLATE = {"spec": {"container": {"image": "app"}}}
V1_TEMPLATE = {"spec": {"containers": [{"image": "app"}]}}


def service(spec, version="serving.knative.dev/v1alpha1"):
    return {"apiVersion": version, "kind": "Service", "metadata": {"name": "s"}, "spec": spec}


@pytest.mark.parametrize("spec, want", [
    pytest.param({"runLatest": {"configuration": {"revisionTemplate": TEMPLATE}}},
                 {"template": V1_TEMPLATE, "traffic": [{"percent": 100, "latestRevision": True}]},
                 id="runLatest"),
    pytest.param({"pinned": {"revisionName": "s-00001", "configuration": {"revisionTemplate": TEMPLATE}}},
                 {"template": V1_TEMPLATE, "traffic": [{"revisionName": "s-00001", "percent": 100}]},
                 id="pinned"),
    pytest.param({"release": {"revisions": ["s-00001", "s-00002"], "rolloutPercent": 10,
                              "configuration": {"revisionTemplate": TEMPLATE}}},
                 {"template": V1_TEMPLATE, "traffic": [
                     {"tag": "current", "revisionName": "s-00001", "percent": 90},
                     {"tag": "candidate", "revisionName": "s-00002", "percent": 10},
                     {"tag": "latest", "latestRevision": True}]},
                 id="release-two"),
    pytest.param({"release": {"revisions": ["s-00001"], "configuration": {"revisionTemplate": TEMPLATE}}},
                 {"template": V1_TEMPLATE, "traffic": [
                     {"tag": "current", "revisionName": "s-00001", "percent": 100},
                     {"tag": "latest", "latestRevision": True}]},
                 id="release-one"),
    pytest.param({"release": {"revisions": ["s-00001", "@latest"], "rolloutPercent": 25,
                              "configuration": {"template": V1_TEMPLATE}}},
                 {"template": V1_TEMPLATE, "traffic": [
                     {"tag": "current", "revisionName": "s-00001", "percent": 75},
                     {"tag": "candidate", "latestRevision": True, "percent": 25},
                     {"tag": "latest", "latestRevision": True}]},
                 id="release-at-latest"),
    pytest.param({"template": TEMPLATE, "traffic": [{"name": "blue", "revisionName": "s-1", "percent": 100}]},
                 {"template": V1_TEMPLATE, "traffic": [{"tag": "blue", "revisionName": "s-1", "percent": 100}]},
                 id="inline"),
])
def test_v1alpha1_service_modes(spec, want):
    got = to_v1(service(spec))
    assert got["apiVersion"] == "serving.knative.dev/v1"
    assert got["spec"] == want


@pytest.mark.parametrize("spec, path, fragment", [
    ({"manual": {}}, "spec.manual", "manual mode cannot be converted"),
    ({"runLatest": {"configuration": {"revisionTemplate": TEMPLATE}}, "pinned": {"revisionName": "x"}},
     "spec", "expected exactly one of"),
    ({}, "spec", "expected exactly one of"),
    ({"runLatest": {"configuration": {"revisionTemplate": TEMPLATE}}, "traffic": []},
     "spec", "traffic cannot be combined with runLatest"),
    ({"pinned": {"configuration": {"revisionTemplate": TEMPLATE}}}, "spec.pinned.revisionName", "is required"),
    ({"runLatest": {}}, "spec.runLatest.configuration", "is required"),
    ({"release": {"revisions": ["a", "b", "c"], "configuration": {"revisionTemplate": TEMPLATE}}},
     "spec.release.revisions", "must be between 1 and 2"),
    ({"release": {"revisions": ["a"], "rolloutPercent": 5, "configuration": {"revisionTemplate": TEMPLATE}}},
     "spec.release.rolloutPercent", "second (candidate) revision"),
    ({"release": {"revisions": ["a", "b"], "rolloutPercent": 100, "configuration": {"revisionTemplate": TEMPLATE}}},
     "spec.release.rolloutPercent", "must be between 0 and 99, got 100"),
    ({"release": {"revisions": ["a", "Bad"], "configuration": {"revisionTemplate": TEMPLATE}}},
     "spec.release.revisions[1]", "DNS-1035"),
    ({"template": {"spec": {"container": {"image": "a"}, "containers": [{"image": "b"}]}}},
     "spec.template.spec", "expected exactly one of container, containers"),
])
def test_v1alpha1_service_errors(spec, path, fragment):
    with pytest.raises(ValidationError) as info:
        to_v1(service(spec))
    assert path in info.value.paths
    assert any(fragment in e.message for e in info.value.errors if e.path == path)


def test_configuration_revision_template_becomes_template():
    got = to_v1({"apiVersion": "serving.knative.dev/v1alpha1", "kind": "Configuration",
                 "metadata": {"name": "c"}, "spec": {"revisionTemplate": {"metadata": {"labels": {"a": "b"}},
                                                                          "spec": {"container": {"image": "x"}}}}})
    assert got["spec"] == {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"image": "x"}]}}}


def test_configuration_with_build_is_rejected():
    with pytest.raises(ValidationError, match=r"spec\.build: Knative Build cannot be converted"):
        to_v1({"apiVersion": "serving.knative.dev/v1alpha1", "kind": "Configuration", "metadata": {"name": "c"},
               "spec": {"build": {}, "revisionTemplate": TEMPLATE}})


def test_revision_single_container():
    got = to_v1({"apiVersion": "serving.knative.dev/v1alpha1", "kind": "Revision", "metadata": {"name": "r"},
                 "spec": {"container": {"image": "x"}, "containerConcurrency": 3}})
    assert got["spec"] == {"containers": [{"image": "x"}], "containerConcurrency": 3}


@pytest.mark.parametrize("model, cc", [("Single", 1), ("Multi", 0)])
def test_revision_concurrency_model(model, cc):
    got = to_v1({"apiVersion": "serving.knative.dev/v1alpha1", "kind": "Revision", "metadata": {"name": "r"},
                 "spec": {"container": {"image": "x"}, "concurrencyModel": model, "servingState": "Active"}})
    assert got["spec"] == {"containers": [{"image": "x"}], "containerConcurrency": cc}


def test_revision_concurrency_model_does_not_override_container_concurrency():
    got = to_v1({"apiVersion": "serving.knative.dev/v1alpha1", "kind": "Revision", "metadata": {"name": "r"},
                 "spec": {"container": {"image": "x"}, "concurrencyModel": "Single", "containerConcurrency": 4}})
    assert got["spec"]["containerConcurrency"] == 4
    with pytest.raises(ValidationError, match=r'spec\.concurrencyModel: invalid value "Few"'):
        to_v1({"apiVersion": "serving.knative.dev/v1alpha1", "kind": "Revision", "metadata": {"name": "r"},
               "spec": {"container": {"image": "x"}, "concurrencyModel": "Few"}})


def test_route_traffic_name_becomes_tag_and_status_domain_becomes_url():
    got = to_v1({"apiVersion": "serving.knative.dev/v1alpha1", "kind": "Route", "metadata": {"name": "r"},
                 "spec": {"traffic": [{"name": "v1", "revisionName": "r-1", "percent": 100}]},
                 "status": {"domain": "r.default.example.com", "domainInternal": "r.default.svc.cluster.local"}})
    assert got["spec"]["traffic"] == [{"tag": "v1", "revisionName": "r-1", "percent": 100}]
    assert got["status"] == {"url": "http://r.default.example.com",
                             "address": {"url": "http://r.default.svc.cluster.local"}}


def test_route_traffic_with_both_name_and_tag_is_rejected():
    with pytest.raises(ValidationError) as info:
        to_v1({"apiVersion": "serving.knative.dev/v1alpha1", "kind": "Route", "metadata": {"name": "r"},
               "spec": {"traffic": [{"name": "a", "tag": "b", "revisionName": "r-1", "percent": 100}]}})
    assert info.value.paths == ["spec.traffic[0]"]


@pytest.mark.parametrize("version", ["serving.knative.dev/v1", "serving.knative.dev/v1beta1"])
def test_v1_and_v1beta1_pass_through_unchanged(version):
    obj = service({"template": V1_TEMPLATE, "traffic": [{"percent": 100, "latestRevision": True}]}, version)
    got = to_v1(obj)
    assert got == dict(obj, apiVersion="serving.knative.dev/v1")
    assert got is not obj and got["spec"] is not obj["spec"]


@pytest.mark.parametrize("obj, paths", [
    ({"apiVersion": "serving.knative.dev/v2", "kind": "Service"}, ["apiVersion"]),
    ({"apiVersion": "apps/v1", "kind": "Deployment"}, ["apiVersion", "kind"]),
    ({"apiVersion": "serving.knative.dev/v1", "kind": "Servce"}, ["kind"]),
    ({"kind": "Service"}, ["apiVersion"]),
    (["not", "a", "mapping"], [""]),
])
def test_unknown_kind_or_version(obj, paths):
    with pytest.raises(ValidationError) as info:
        to_v1(obj)
    assert info.value.paths == paths


def test_unknown_kind_message_lists_the_kinds():
    with pytest.raises(ValidationError) as info:
        to_v1({"apiVersion": "serving.knative.dev/v1", "kind": "Servce"})
    assert str(info.value) == 'kind: unknown kind "Servce": expected one of Service, Configuration, Revision, Route'
