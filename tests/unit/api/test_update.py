import pytest

from dataplane.api import ValidationError, admit, validate_update


def service(image="app", name=None):
    template = {"spec": {"containers": [{"image": image}]}}
    if name:
        template["metadata"] = {"name": name}
    return admit({"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                  "metadata": {"name": "s"}, "spec": {"template": template}})


def revision(image="app", labels=None):
    return admit({"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
                  "metadata": {"name": "s-00001", "labels": labels or {}},
                  "spec": {"containers": [{"image": image}]}})


def errors(old, new):
    try:
        validate_update(old, new)
    except ValidationError as exc:
        return [str(e) for e in exc.errors]
    return []


def test_a_revision_spec_is_immutable():
    assert errors(revision("a"), revision("b")) == [
        "spec: a Revision's spec is immutable; changed: spec.containers[0].image"]


def test_a_revision_may_be_relabelled():
    assert errors(revision(), revision(labels={"serving.knative.dev/routingState": "active"})) == []


@pytest.mark.parametrize("old, new, ok", [
    (service("a", "s-v1"), service("b", "s-v1"), False),
    (service("a", "s-v1"), service("b", "s-v2"), True),
    (service("a", "s-v1"), service("a", "s-v1"), True),
    (service("a"), service("b"), True),
    (service("a"), service("b", "s-v1"), True),
])
def test_byo_revision_name_must_change_with_the_template(old, new, ok):
    got = errors(old, new)
    assert (got == []) is ok
    if not ok:
        assert got == ["spec.template.metadata.name: the template changed without a new revision name "
                       "(changed: spec.template.spec.containers[0].image); choose a new name"]


def test_admit_checks_updates_against_the_previous_object():
    with pytest.raises(ValidationError):
        admit({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"template": {"metadata": {"name": "s-v1"}, "spec": {"containers": [{"image": "b"}]}}}},
              previous=service("a", "s-v1"))


def test_name_and_kind_are_fixed():
    renamed = service()
    renamed["metadata"]["name"] = "t"
    assert errors(service(), renamed) == ['metadata.name: is immutable: was "s"']
    assert errors(service(), revision()) == ["kind: cannot change from Service to Revision"]
