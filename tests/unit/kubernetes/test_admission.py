"""The webhook's answers as pure functions of an AdmissionReview, and its certificates."""

from __future__ import annotations

import base64
import copy
import datetime
import json

import pytest
import yaml

from dataplane.api import DEFAULT_CONFIG, ValidationError, admit
from dataplane.platform.kubernetes import admission as a
from dataplane.platform.kubernetes import certs
from tests.unit.kubernetes.crdcheck import DEPLOY
from tests.unit.kubernetes.fakeutil import apply_json_patch

HPA = {"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev"}


def service() -> dict:
    doc = yaml.safe_load((DEPLOY / "examples" / "service.yaml").read_text())
    doc["metadata"]["namespace"] = "default"
    return doc


def request(obj: dict, operation: str = "CREATE", old: dict | None = None) -> dict:
    return {"uid": "u-1", "operation": operation, "object": obj, "oldObject": old}


def answer(hook: str, req: dict) -> dict:
    review = a.review(hook, req, DEFAULT_CONFIG)
    assert review["apiVersion"] == "admission.k8s.io/v1" and review["kind"] == "AdmissionReview"
    assert review["response"]["uid"] == "u-1"
    return review["response"]


def test_an_invalid_service_is_refused_with_every_field_error_the_local_api_gives():
    bad = service()
    bad["spec"]["template"]["metadata"] = {"annotations": HPA}
    bad["spec"]["template"]["spec"]["containerConcurrency"] = 1001
    bad["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"runAsNonroot": True}
    with pytest.raises(ValidationError) as local:
        admit(bad)
    response = answer(a.VALIDATION, request(bad))
    assert response["allowed"] is False
    status = response["status"]
    assert (status["code"], status["reason"], status["status"]) == (422, "Invalid", "Failure")
    assert status["message"] == str(local.value)  # the local control API's lines, word for word
    causes = {c["field"]: c["message"] for c in status["details"]["causes"]}
    assert causes == {e.path: e.message for e in local.value.errors}
    assert "spec.template.metadata.annotations[autoscaling.knative.dev/class]" in causes
    assert causes["spec.template.spec.containers[0].securityContext.runAsNonroot"].startswith("unknown field")
    assert (status["details"]["kind"], status["details"]["name"]) == ("Service", "knative-example")


def test_the_hpa_class_is_refused_naming_the_annotation():
    bad = service()
    bad["spec"]["template"]["metadata"] = {"annotations": {**HPA, "autoscaling.knative.dev/metric": "cpu"}}
    (cause,) = answer(a.VALIDATION, request(bad))["status"]["details"]["causes"]
    assert cause["field"] == "spec.template.metadata.annotations[autoscaling.knative.dev/class]"
    assert "is not supported" in cause["message"] and "kpa.autoscaling.knative.dev" in cause["message"]


def test_defaulting_patches_the_object_into_what_admit_stores():
    sent = service()
    response = answer(a.DEFAULTING, request(sent))
    assert response["allowed"] is True and response["patchType"] == "JSONPatch"
    patched = apply_json_patch(sent, json.loads(base64.b64decode(response["patch"])))
    assert patched == admit(sent)
    assert patched["spec"]["template"]["spec"]["containerConcurrency"] == 0
    # defaulted once, nothing more to do: no patch
    assert answer(a.DEFAULTING, request(patched)) == {"uid": "u-1", "allowed": True}


def test_update_rules_compare_with_the_defaulted_old_object():
    rev = {"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
           "metadata": {"name": "r-00001", "namespace": "default"},
           "spec": {"containers": [{"image": "registry.local/app:1"}]}}  # fmt: skip
    stored = admit(rev)
    relabelled = copy.deepcopy(stored)
    relabelled["metadata"]["labels"] = {"serving.knative.dev/routingState": "active"}
    # an old object stored before defaulting is the same spec as its defaulted form
    assert answer(a.VALIDATION, request(relabelled, "UPDATE", rev))["allowed"] is True
    changed = copy.deepcopy(stored)
    changed["spec"]["containers"][0]["image"] = "registry.local/app:2"
    response = answer(a.VALIDATION, request(changed, "UPDATE", stored))
    assert response["allowed"] is False
    assert response["status"]["details"]["causes"][0]["field"] == "spec"
    assert "immutable" in response["status"]["message"]


@pytest.mark.parametrize("req", [
    request(service(), "DELETE"),
    request({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}),
    request({"apiVersion": "serving.knative.dev/v1alpha1", "kind": "Service", "metadata": {"name": "x"}}),
    {"uid": "u-1", "operation": "CREATE"},
])  # fmt: skip
def test_what_is_not_ours_to_judge_is_allowed_untouched(req):
    for hook in a.HOOKS:
        assert answer(hook, req) == {"uid": "u-1", "allowed": True}


def configmap(name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "knative-serving"}, "data": data}


@pytest.mark.parametrize("name, data, field, message", [
    ("config-autoscaler", {"stable-window": "2s"}, "data[stable-window]", "must be in [6s, 1h] in whole seconds, got 2s"),
    ("config-defaults", {"container-concurrency": "-1"}, "data[container-concurrency]", "must be between 0 and 1000, got -1"),
    ("config-domain", {"Not A Domain": ""}, "data[Not A Domain]", "not a valid domain"),
    ("config-gc", {"min-non-active-revisions": "x"}, "data[min-non-active-revisions]", 'not an integer: "x"'),
])  # fmt: skip
def test_a_bad_platform_configmap_is_refused_naming_the_key(name, data, field, message):
    response = answer(a.CONFIG_VALIDATION, request(configmap(name, data)))
    assert response["allowed"] is False
    (cause,) = response["status"]["details"]["causes"]
    assert cause["field"] == field and message in cause["message"]
    assert response["status"]["message"] == f"{field}: {cause['message']}"


def test_good_and_unrelated_configmaps_pass():
    examples = yaml.safe_load((DEPLOY / "config" / "config-autoscaler.yaml").read_text())
    assert answer(a.CONFIG_VALIDATION, request(examples))["allowed"] is True
    assert answer(a.CONFIG_VALIDATION, request(configmap("config-autoscaler", {"stable-window": "90s"})))["allowed"] is True
    assert answer(a.CONFIG_VALIDATION, request(configmap("something-else", {"stable-window": "2s"})))["allowed"] is True


@pytest.mark.parametrize("body, problem", [
    (b"{", "not JSON"),
    (b"[]", "expected an AdmissionReview"),
    (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1", "request": {"uid": "x"}}', "apiVersion"),
    (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {}}', "request.uid"),
    (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {"uid": "x", "object": []}}',
     "request.object"),
])  # fmt: skip
def test_a_malformed_review_is_refused_by_what_is_wrong(body, problem):
    with pytest.raises(a.ReviewError, match=problem):
        a.parse_review(body)


def test_json_patch_escapes_keys_and_removes_what_is_gone():
    old = {"metadata": {"annotations": {"a/b": "1", "x~y": "2", "gone": "3"}}, "list": [1, 2]}
    new = {"metadata": {"annotations": {"a/b": "1", "x~y": "20", "new": "4"}}, "list": [1, 2, 3]}
    ops = a.json_patch(old, new)
    assert {"op": "replace", "path": "/metadata/annotations/x~0y", "value": "20"} in ops
    assert apply_json_patch(old, ops) == new


NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def test_a_generated_certificate_serves_the_service_until_close_to_expiry():
    bundle = certs.generate("webhook", "knative-serving", NOW)
    assert certs.still_good(bundle, "webhook", "knative-serving", NOW)
    assert not certs.still_good(bundle, "other", "knative-serving", NOW)  # made for another Service
    assert not certs.still_good(bundle, "webhook", "knative-serving", NOW + certs.VALIDITY - certs.RENEW_BEFORE)
    assert certs.Bundle.from_secret({"data": bundle.secret_data()}) == bundle


def test_a_mismatched_or_foreign_bundle_is_not_good():
    one, two = certs.generate("webhook", "ns", NOW), certs.generate("webhook", "ns", NOW)
    assert not certs.still_good(certs.Bundle(one.ca, one.cert, two.key), "webhook", "ns", NOW)  # key of another cert
    assert not certs.still_good(certs.Bundle(two.ca, one.cert, one.key), "webhook", "ns", NOW)  # signed by another CA
    assert not certs.still_good(certs.Bundle(b"junk", one.cert, one.key), "webhook", "ns", NOW)
    assert certs.Bundle.from_secret({"data": {"ca-cert.pem": "!!"}}) is None
    assert certs.Bundle.from_secret(None) is None
