"""The CRDs' CEL rules agree with dataplane.api's validation: what one refuses, the other refuses.

The cluster's verdict is the CRD schema (types, bounds) plus its ``x-kubernetes-validations`` rules,
evaluated with a CEL evaluator; ours is :func:`dataplane.api.admission.admit`.
"""

from __future__ import annotations

import copy
import re

import pytest

from dataplane.api.admission import admit
from dataplane.api.errors import ValidationError
from dataplane.api.revisions import make_configuration, make_route
from tests.unit.kubernetes.celcheck import program, rule_failures, rules_of
from tests.unit.kubernetes.crdcheck import crd_problems, crd_schema

API = "serving.knative.dev/v1"
TEMPLATE = {"spec": {"containers": [{"image": "example.com/app"}]}}


def service(traffic=None) -> dict:
    spec = {"template": copy.deepcopy(TEMPLATE)}
    if traffic is not None:
        spec["traffic"] = traffic
    return {"apiVersion": API, "kind": "Service", "metadata": {"name": "s", "namespace": "default"}, "spec": spec}


def route(traffic=None) -> dict:
    spec = {} if traffic is None else {"traffic": traffic}
    return {"apiVersion": API, "kind": "Route", "metadata": {"name": "r", "namespace": "default"}, "spec": spec}


def revision(**spec) -> dict:
    return {
        "apiVersion": API,
        "kind": "Revision",
        "metadata": {"name": "s-00001", "namespace": "default"},
        "spec": {"containers": [{"image": "example.com/app"}], **spec},
    }


def ours(obj: dict, previous: dict | None = None) -> bool:
    try:
        admit(obj, previous=admit(previous) if previous is not None else None)
    except ValidationError:
        return False
    return True


def cluster(obj: dict, previous: dict | None = None) -> bool:
    """What the API server decides: the schema, then the rules (on an update, transition rules too)."""
    if crd_problems(obj):
        return False
    schema = crd_schema(obj["kind"])
    return rule_failures(schema, obj) == [] if previous is None else rule_failures(schema, obj, previous) == []


LATEST = {"latestRevision": True, "percent": 100}
CASES = [
    # (name, object, accepted)
    ("service without traffic", service(), True),
    ("service with empty traffic", service([]), True),
    ("service, latest 100", service([LATEST]), True),
    ("service, percent alone means latest", service([{"percent": 100}]), True),
    ("service, 50/50", service([{"revisionName": "s-1", "percent": 50}, {"latestRevision": True, "percent": 50}]), True),
    ("service, 50/40", service([{"revisionName": "s-1", "percent": 50}, {"latestRevision": True, "percent": 40}]), False),
    ("service, no percent at all", service([{"latestRevision": True}]), False),
    ("service, tagged target without percent", service([{"revisionName": "s-1", "percent": 100}, {"tag": "next"}]), True),
    ("service, latest and a revision", service([{"latestRevision": True, "revisionName": "s-1", "percent": 100}]), False),
    ("service, not latest, no revision", service([{"latestRevision": False, "percent": 100}]), False),
    ("service, configurationName", service([{"configurationName": "s", "percent": 100}]), False),
    ("service, empty configurationName", service([{"configurationName": "", "percent": 100}]), True),
    ("service, duplicate tags", service([{"tag": "a", "percent": 50}, {"tag": "a", "revisionName": "s-1", "percent": 50}]), False),
    ("service, distinct tags", service([{"tag": "a", "percent": 50}, {"tag": "b", "revisionName": "s-1", "percent": 50}]), True),
    ("service, empty tags twice", service([{"tag": "", "percent": 50}, {"tag": "", "revisionName": "s-1", "percent": 50}]), True),
    ("service, tag too long", service([{"tag": "a" * 64, "percent": 100}]), False),
    ("service, percent over 100", service([{"percent": 101}]), False),
    ("service, no spec", {**service(), "spec": None}, False),
    ("route without traffic", route(), False),
    ("route with empty traffic", route([]), False),
    ("route to a configuration", route([{"configurationName": "c", "percent": 100}]), True),
    ("route to a revision", route([{"revisionName": "r-1", "percent": 100}]), True),
    ("route split", route([{"configurationName": "c", "percent": 60}, {"revisionName": "r-1", "percent": 40}]), True),
    ("route split short", route([{"configurationName": "c", "percent": 60}, {"revisionName": "r-1", "percent": 30}]), False),
    ("route to both", route([{"revisionName": "r-1", "configurationName": "c", "percent": 100}]), False),
    ("route to neither", route([{"percent": 100}]), False),
    ("route, not latest, no revision", route([{"configurationName": "c", "latestRevision": False, "percent": 100}]), False),
    ("route, latest with a revision", route([{"revisionName": "r-1", "latestRevision": True, "percent": 100}]), False),
    ("route, revision name too long", route([{"revisionName": "r" * 64, "percent": 100}]), False),
    ("revision", revision(), True),
]


def without_nulls(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if v is not None}


@pytest.mark.parametrize("name, obj, accepted", CASES, ids=[c[0] for c in CASES])
def test_the_cluster_and_our_validation_agree(name, obj, accepted):
    obj = without_nulls(obj)
    assert ours(obj) is accepted
    assert cluster(obj) is accepted


UPDATES = [
    ("nothing changes", revision(), revision(), True),
    ("labels change", revision(), {**revision(), "metadata": {**revision()["metadata"], "labels": {"team": "a"}}}, True),
    ("image changes", revision(), revision(containers=[{"image": "example.com/other"}]), False),
    ("concurrency changes", revision(containerConcurrency=1), revision(containerConcurrency=2), False),
    ("timeout added", revision(), revision(timeoutSeconds=30), False),
]


@pytest.mark.parametrize("name, old, new, accepted", UPDATES, ids=[u[0] for u in UPDATES])
def test_a_revision_spec_is_immutable_in_both(name, old, new, accepted):
    assert ours(new, previous=old) is accepted
    assert cluster(new, previous=old) is accepted


def test_the_cluster_compares_the_spec_as_stored():
    # without an admission webhook nothing defaults the stored spec, so spelling out a default is a
    # change to the API server (stricter than Knative, whose webhook stores the defaulted spec)
    old, new = revision(), revision(containerConcurrency=0)
    assert ours(new, previous=old) is True
    assert cluster(new, previous=old) is False


def test_transition_rules_do_not_run_on_create():
    schema = crd_schema("Revision")
    assert rule_failures(schema, revision(containerConcurrency=5)) == []
    assert rule_failures(schema, revision(containerConcurrency=5), revision()) == [".spec: a Revision's spec is immutable"]


def test_every_crd_rule_compiles_and_uses_only_what_kubernetes_has():
    allowed = {"has", "all", "exists_one", "map", "size", "sum"}
    for kind in ("Service", "Configuration", "Revision", "Route"):
        for path, r in rules_of(crd_schema(kind)):
            called = set(re.findall(r"([A-Za-z_]\w*)\(", r["rule"]))
            assert called <= allowed, f"{kind}{path}: {called - allowed}"
            assert program(r["rule"]) is not None


# Kubernetes refuses a CRD whose rule's estimated cost exceeds 1,000,000 per call; the estimate
# takes the largest list and string the schema allows (unbounded ones count as the 3 MiB request).
PER_CALL_LIMIT = 1_000_000


def estimated_tag_uniqueness_cost(traffic_schema: dict) -> float:
    """cel-go's model for ``self.all(t, ... self.exists_one(u, ... u.tag == t.tag))``: n*n iterations, each a few
    operations and a string comparison costing 0.1 per character of the longer bound."""
    n = traffic_schema.get("maxItems", 3 * 1024 * 1024 // 2)  # an empty object is the smallest item: "{}"
    length = traffic_schema["items"]["properties"]["tag"].get("maxLength", 3 * 1024 * 1024)
    return n * n * (8 + 0.1 * length)


@pytest.mark.parametrize("kind", ["Service", "Route"])
def test_traffic_rules_fit_the_cost_budget(kind):
    traffic = crd_schema(kind)["properties"]["spec"]["properties"]["traffic"]
    assert traffic["maxItems"] and traffic["items"]["properties"]["tag"]["maxLength"] == 63
    assert estimated_tag_uniqueness_cost(traffic) <= PER_CALL_LIMIT
    unbounded = {k: v for k, v in traffic.items() if k != "maxItems"}
    assert estimated_tag_uniqueness_cost(unbounded) > PER_CALL_LIMIT  # why maxItems is there


ACCEPTED_SERVICES = [(n, o) for n, o, ok in CASES if ok and o["kind"] == "Service"]


@pytest.mark.parametrize("name, obj", ACCEPTED_SERVICES, ids=[n for n, _ in ACCEPTED_SERVICES])
def test_what_the_controller_writes_for_a_service_passes_the_rules(name, obj):
    admitted = admit(obj)
    for child in (make_configuration(admitted), make_route(admitted)):
        assert crd_problems(child) == [] and rule_failures(crd_schema(child["kind"]), child) == [], child["kind"]
