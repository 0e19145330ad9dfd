"""Strict decoding: unknown fields are refused with their full path, as Knative's webhook decodes strictly."""

import copy
import time

import pytest
import yaml

from dataplane.api import ValidationError, admit, schema
from dataplane.api.strict import unknown_fields
from tests.seed import LISTING_1, LISTING_2


def v1_service():
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                "spec": {
                    "containers": [{
                        "image": "example/hello",
                        "command": ["hello"],
                        "env": [{"name": "TARGET", "value": "world"}],
                        "readinessProbe": {"httpGet": {"path": "/healthz"}, "periodSeconds": 2},
                        "resources": {"limits": {"cpu": "1", "memory": "128Mi"}},
                    }],
                },
            },
            "traffic": [{"latestRevision": True, "percent": 100}],
        },
    }


def messages(doc):
    with pytest.raises(ValidationError) as err:
        admit(doc)
    return [str(e) for e in err.value.errors]


def with_field(doc, path, key, value):
    doc = copy.deepcopy(doc)
    node = doc
    for step in path:
        node = node[step]
    node[key] = value
    return doc


C0 = ("spec", "template", "spec", "containers", 0)


@pytest.mark.parametrize(("where", "key", "expected"), [
    ((), "spek", 'spek: unknown field; did you mean "spec"?'),
    (("metadata",), "lables", 'metadata.lables: unknown field; did you mean "labels"?'),
    (("spec",), "tempalte", 'spec.tempalte: unknown field; did you mean "template"?'),
    (("spec", "template"), "metdata", 'spec.template.metdata: unknown field; did you mean "metadata"?'),
    (("spec", "template", "spec"), "containerConcurency",
     'spec.template.spec.containerConcurency: unknown field; did you mean "containerConcurrency"?'),
    (C0, "comand", 'spec.template.spec.containers[0].comand: unknown field; did you mean "command"?'),
    ((*C0, "env", 0), "valeu", 'spec.template.spec.containers[0].env[0].valeu: unknown field; did you mean "value"?'),
    ((*C0, "readinessProbe"), "periodSecond",
     'spec.template.spec.containers[0].readinessProbe.periodSecond: unknown field; did you mean "periodSeconds"?'),
    ((*C0, "readinessProbe", "httpGet"), "pth",
     'spec.template.spec.containers[0].readinessProbe.httpGet.pth: unknown field; did you mean "path"?'),
    (("spec", "traffic", 0), "latestRevison",
     'spec.traffic[0].latestRevison: unknown field; did you mean "latestRevision"?'),
    (C0, "zzzz", "spec.template.spec.containers[0].zzzz: unknown field"),
])
def test_an_unknown_field_at_any_depth_is_named_with_its_path(where, key, expected):
    assert messages(with_field(v1_service(), where, key, 1)) == [expected]


@pytest.mark.parametrize(("where", "key", "expected"), [
    (C0, "stdin", "spec.template.spec.containers[0].stdin: must not set the field(s)"),
    (C0, "lifecycle", "spec.template.spec.containers[0].lifecycle: must not set the field(s)"),
    (("spec", "template", "spec"), "hostNetwork", "spec.template.spec.hostNetwork: must not set the field(s)"),
    ((*C0, "securityContext"), "privileged",
     "spec.template.spec.containers[0].securityContext.privileged: must not set the field(s)"),
])
def test_a_kubernetes_field_knative_masks_out_says_so(where, key, expected):
    doc = with_field(v1_service(), C0, "securityContext", {"runAsNonRoot": True})
    assert messages(with_field(doc, where, key, True)) == [expected]


def test_every_problem_of_a_document_is_reported_together():
    doc = with_field(v1_service(), ("spec", "template", "spec"), "containerConcurrency", 5000)
    doc = with_field(doc, ("spec",), "tempalte", {})
    doc = with_field(doc, C0, "comand", ["x"])
    assert messages(doc) == [
        'spec.template.spec.containers[0].comand: unknown field; did you mean "command"?',
        'spec.tempalte: unknown field; did you mean "template"?',
        "spec.template.spec.containerConcurrency: must be between 0 and 1000, got 5000",
    ]


def test_a_mapping_where_a_list_belongs_is_reported_once():
    doc = with_field(v1_service(), ("spec", "template", "spec"), "containers", {"image": "x"})
    assert messages(doc) == ["spec.template.spec.containers: must be a list, got a mapping"]


def test_what_a_get_o_yaml_output_carries_is_accepted():
    doc = v1_service()
    doc["metadata"].update({
        "uid": "0b7c", "resourceVersion": "12", "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z",
        "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {}}}],
        "ownerReferences": [], "finalizers": [],
    })
    doc["status"] = {"observedGeneration": 3, "url": "http://hello.default.example.com", "conditions": []}
    assert admit(doc)["spec"] == admit(v1_service())["spec"]


def test_nulls_are_absent_fields_not_unknown_ones():
    assert unknown_fields({"metadata": None, "spec": {"template": None}}, schema.V1["Service"]) == []


@pytest.mark.parametrize("kind", ["Service", "Configuration", "Route", "Revision"])
def test_every_kind_has_a_schema_in_both_versions(kind):
    for version in ("serving.knative.dev/v1", "serving.knative.dev/v1beta1", "serving.knative.dev/v1alpha1"):
        assert schema.for_object(version, kind) is not None
    assert schema.for_object("serving.knative.dev/v2", kind) is None


# --- v1alpha1: paths as the user wrote them ---------------------------------------------------------

ALPHA_SPEC = "spec.runLatest.configuration.revisionTemplate.spec"


def listing(text, old, new):
    assert old in text
    return yaml.safe_load(text.replace(old, new))


def test_the_seed_listings_stay_accepted():
    admit(yaml.safe_load(LISTING_1))
    admit(yaml.safe_load(LISTING_2))


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("command:", "comand:", [f'{ALPHA_SPEC}.container.comand: unknown field; did you mean "command"?',
                             f"{ALPHA_SPEC}.container.image: is required (or set command to run a local process)"]),
    ("containerConcurrency: 1", "containerConcurency: 1",
     [f'{ALPHA_SPEC}.containerConcurency: unknown field; did you mean "containerConcurrency"?']),
    ("revisionTemplate:", "revisionTemplat:",
     ['spec.runLatest.configuration.revisionTemplat: unknown field; did you mean "revisionTemplate"?',
      "spec.runLatest.configuration.template.spec: is required and must be a mapping"]),
    ("  name: knative-example", "  nme: knative-example",
     ['metadata.nme: unknown field; did you mean "name"?', "metadata.name: is required"]),
])
def test_unknown_fields_of_a_v1alpha1_file_name_its_own_paths(old, new, expected):
    assert messages(listing(LISTING_2, old, new)) == expected


def test_validation_errors_of_a_v1alpha1_file_name_its_own_paths():
    doc = listing(LISTING_2, "containerConcurrency: 1", "containerConcurrency: 5000\n          timeoutSeconds: 9999")
    container = doc["spec"]["runLatest"]["configuration"]["revisionTemplate"]["spec"]["container"]
    container["ports"] = [{"containerPort": 8012}]
    container["readinessProbe"] = {"httpGet": {"path": "/", "pth": "/"}}
    assert messages(doc) == [
        f'{ALPHA_SPEC}.container.readinessProbe.httpGet.pth: unknown field; did you mean "path"?',
        f"{ALPHA_SPEC}.timeoutSeconds: must be between 0 and 600, got 9999",
        f"{ALPHA_SPEC}.containerConcurrency: must be between 0 and 1000, got 5000",
        f"{ALPHA_SPEC}.container.ports[0].containerPort: 8012 is a reserved port, please use a different value",
    ]


def test_v1alpha1_pinned_and_release_errors_name_their_fields():
    pinned = {
        "apiVersion": "serving.knative.dev/v1alpha1", "kind": "Service", "metadata": {"name": "p"},
        "spec": {"pinned": {"revisionName": "Bad", "configuration": {
            "template": {"spec": {"concurrencyModel": "Single",
                                  "container": {"image": "x", "env": [{"name": "PORT"}]}}}}}},
    }
    assert messages(pinned) == [
        'spec.pinned.configuration.template.spec.container.env[0].name: "PORT" is a reserved environment variable',
        'spec.pinned.revisionName: "Bad" is not a DNS-1035 label: lower-case letters, digits and "-", '
        "starting with a letter and ending with a letter or digit",
    ]


def test_v1alpha1_route_traffic_name_is_reported_as_name():
    route = {
        "apiVersion": "serving.knative.dev/v1alpha1", "kind": "Route", "metadata": {"name": "r"},
        "spec": {"traffic": [{"name": "Bad", "revisionName": "r-00001", "percent": 100, "precent": 1}]},
    }
    assert messages(route) == [
        'spec.traffic[0].precent: unknown field; did you mean "percent"?',
        'spec.traffic[0].name: "Bad" is not a DNS-1035 label: lower-case letters, digits and "-", '
        "starting with a letter and ending with a letter or digit",
    ]


def test_a_v1_field_in_a_v1alpha1_template_is_still_checked():
    both = "containers:\n          - image: x\n            comand: [a]\n          container:"
    doc = listing(LISTING_2, "container:", both)
    assert f"{ALPHA_SPEC}: expected exactly one of container, containers; got both" in messages(doc)
    assert f'{ALPHA_SPEC}.containers[0].comand: unknown field; did you mean "command"?' in messages(doc)


def test_a_flood_of_long_made_up_fields_is_refused_in_linear_time():
    # each error once, and no similarity search for names no field could resemble
    junk = {f"{'k' * 1000}{i}": 1 for i in range(5000)}
    doc = with_field(v1_service(), C0, "image", "x")
    doc["spec"]["template"]["spec"]["containers"][0].update(junk)
    started = time.monotonic()
    with pytest.raises(ValidationError) as err:
        admit(doc)
    assert time.monotonic() - started < 5.0  # quadratic de-duplication and difflib took ten seconds here
    assert len(err.value.errors) == 5000
    assert all(e.message == "unknown field" for e in err.value.errors)
