import pytest

from dataplane.api import (
    admit,
    child_name,
    make_configuration,
    make_revision,
    make_route,
    revision_name,
    template_hash,
)


@pytest.mark.parametrize("config, generation, name", [
    ("hello", 1, "hello-00001"),
    ("hello", 42, "hello-00042"),
    ("hello", 99999, "hello-99999"),
    ("hello", 123456, "hello-123456"),
])
def test_revision_names(config, generation, name):
    assert revision_name(config, generation) == name


def test_long_revision_names_are_cut_to_63_with_an_md5_of_the_parent():
    parent = "a" * 60
    name = revision_name(parent, 7)
    # the head of the parent, md5("a" * 60), then the readable suffix
    assert name == "a" * 25 + "cc7ed669cf88f201c3297c6a91e1d18d" + "-00007"
    assert len(name) == 63
    assert revision_name(parent + "b", 7) != name


@pytest.mark.parametrize("parent, suffix, want", [
    # vectors from knative.dev/pkg/kmeta's own tests
    ("asdf", "-deployment", "asdf-deployment"),
    ("f" * 63, "-deployment", "ffffffffffffffffffff105d7597f637e83cc711605ac3ea4957-deployment"),
    ("f" * 63, "-deploy", "ffffffffffffffffffffffff105d7597f637e83cc711605ac3ea4957-deploy"),
    ("f" * 63, "f" * 63, "fffffffffffffffffffffffffffffff0502661254f13c89973cb3a83e0cbec0"),
    ("a", "f" * 63, "ab5cfd486935decbc0d305799f4ce4414ffffffffffffffffffffffffffffff"),
    ("b" * 32, "f" * 32, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb329c7c81b9ab3ba71aa139066aa5625d"),
    ("aaaa", "b---a" * 20, "aaaa7a3f7966594e3f0849720eced8212c18b---ab---ab---ab---ab---ab"),
])
def test_child_name_matches_knative(parent, suffix, want):
    assert child_name(parent, suffix) == want


@pytest.mark.parametrize("generation", [-1, 1.0, True, "1"])
def test_revision_name_needs_a_generation(generation):
    with pytest.raises(ValueError):
        revision_name("hello", generation)


def test_template_hash_ignores_key_order():
    a = {"metadata": {"labels": {"x": "1", "y": "2"}},
         "spec": {"containers": [{"image": "app", "env": [{"name": "A", "value": "1"}]}], "timeoutSeconds": 300}}
    b = {"spec": {"timeoutSeconds": 300, "containers": [{"env": [{"value": "1", "name": "A"}], "image": "app"}]},
         "metadata": {"labels": {"y": "2", "x": "1"}}}
    assert template_hash(a) == template_hash(b)


@pytest.mark.parametrize("change", [
    lambda t: t["spec"]["containers"][0].update(image="app:2"),
    lambda t: t["spec"].update(containerConcurrency=1),
    lambda t: t["metadata"]["labels"].update(x="3"),
    lambda t: t["spec"]["containers"][0]["env"].reverse(),  # list order is meaningful
])
def test_template_hash_changes_with_the_template(change):
    template = {"metadata": {"labels": {"x": "1"}},
                "spec": {"containers": [{"image": "app", "env": [{"name": "A"}, {"name": "B"}]}]}}
    before = template_hash(template)
    change(template)
    assert template_hash(template) != before


def service():
    return admit({"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                  "metadata": {"name": "shop", "namespace": "prod", "uid": "svc-uid", "labels": {"team": "a"},
                               "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                               "serving.knative.dev/rollout-duration": "60s",
                                               "serving.knative.dev/lastModifier": "alice"}},
                  "spec": {"template": {"metadata": {"labels": {"v": "1"},
                                                     "annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                                        "spec": {"containers": [{"image": "shop:1"}]}},
                           "traffic": [{"percent": 80}, {"revisionName": "shop-00001", "percent": 20, "tag": "old"}]}})


def test_make_configuration():
    svc = service()
    config = make_configuration(svc)
    assert config["kind"] == "Configuration"
    assert config["metadata"]["name"] == "shop" and config["metadata"]["namespace"] == "prod"
    assert config["metadata"]["labels"] == {"team": "a", "serving.knative.dev/service": "shop",
                                            "serving.knative.dev/serviceUID": "svc-uid"}
    assert config["metadata"]["annotations"] == {"serving.knative.dev/lastModifier": "alice",
                                                 "serving.knative.dev/routes": "shop"}
    assert config["metadata"]["ownerReferences"] == [{
        "apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "shop", "uid": "svc-uid",
        "controller": True, "blockOwnerDeletion": True}]
    assert config["spec"]["template"] == svc["spec"]["template"]
    assert config["spec"]["template"] is not svc["spec"]["template"]
    admit(config)  # what the controller writes must itself be valid


def test_make_route_binds_floating_targets_to_the_configuration():
    route = make_route(service())
    assert route["spec"]["traffic"] == [
        {"percent": 80, "latestRevision": True, "configurationName": "shop"},
        {"revisionName": "shop-00001", "percent": 20, "tag": "old", "latestRevision": False}]
    assert route["metadata"]["annotations"]["serving.knative.dev/rollout-duration"] == "60s"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in route["metadata"]["annotations"]
    admit(route)


def test_make_revision():
    config = make_configuration(service())
    config["metadata"]["uid"] = "cfg-uid"
    rev = make_revision(config, 3, now=0)
    assert rev["metadata"]["name"] == "shop-00003"
    assert rev["metadata"]["namespace"] == "prod"
    assert rev["metadata"]["labels"] == {
        "v": "1",
        "serving.knative.dev/configuration": "shop",
        "serving.knative.dev/configurationGeneration": "3",
        "serving.knative.dev/configurationUID": "cfg-uid",
        "serving.knative.dev/service": "shop",
        "serving.knative.dev/serviceUID": "svc-uid",
        "serving.knative.dev/routingState": "active",
    }
    assert rev["metadata"]["annotations"] == {
        "autoscaling.knative.dev/min-scale": "1",
        "serving.knative.dev/creator": "alice",
        "serving.knative.dev/routes": "shop",
        "serving.knative.dev/routingStateModified": "1970-01-01T00:00:00Z",
    }
    assert rev["metadata"]["ownerReferences"][0]["kind"] == "Configuration"
    assert rev["metadata"]["ownerReferences"][0]["uid"] == "cfg-uid"
    assert rev["spec"] == config["spec"]["template"]["spec"]
    admit(rev)


def test_make_revision_uses_a_byo_name_and_starts_pending_without_routes():
    config = admit({"apiVersion": "serving.knative.dev/v1", "kind": "Configuration", "metadata": {"name": "c"},
                    "spec": {"template": {"metadata": {"name": "c-blue"},
                                          "spec": {"containers": [{"image": "x"}]}}}})
    rev = make_revision(config, 1)
    assert rev["metadata"]["name"] == "c-blue"
    assert rev["metadata"]["labels"]["serving.knative.dev/routingState"] == "pending"
    assert "serving.knative.dev/service" not in rev["metadata"]["labels"]
    assert "serving.knative.dev/routingStateModified" not in rev["metadata"]["annotations"]
