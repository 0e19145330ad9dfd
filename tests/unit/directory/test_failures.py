"""Failures in the directory: a revision no pod can serve, a Route whose host has no revision to go to."""

from __future__ import annotations

import pytest

from dataplane.controller.entries import route_entry
from dataplane.directory import DirectoryError, parse_snapshot

NS = "default"


def route(status: dict | None, traffic=None) -> dict:
    return {"kind": "Route", "metadata": {"namespace": NS, "name": "crash"},
            "spec": {"traffic": traffic or [{"configurationName": "crash", "percent": 100, "latestRevision": True}]},
            "status": status or {}}


FAILED_REVISION = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "ExitCode1",
                                              "message": "Container failed with: secret=hunter2"}]}}
CONFIG = {"status": {"latestCreatedRevisionName": "crash-00001"}}


def host_for(r: dict) -> str:
    return f"{r['metadata']['name']}.{r['metadata']['namespace']}.example.com"


def test_a_route_that_never_resolved_claims_its_host_with_the_revision_and_reason_only():
    unresolved = route({"conditions": [{"type": "AllTrafficAssigned", "status": "False", "reason": "RevisionMissing"}]})
    entry = route_entry(unresolved, {"crash-00001": FAILED_REVISION}, {"crash": CONFIG}, host_for)
    assert entry == {"namespace": NS, "name": "crash", "hosts": ["crash.default.example.com"], "traffic": [],
                     "failure": {"revisionName": "crash-00001", "reason": "ExitCode1"}}  # no message: it may quote the app's log
    table = parse_snapshot({"version": 1, "routes": [entry]}).routes
    assert table.pick("crash.default.example.com") is None
    assert table.failure("crash.default.example.com") == ((NS, "crash-00001"), "ExitCode1")
    assert table.failure("other.default.example.com") is None
    assert route_entry(unresolved, {}, {}, None) is None  # no way to know its host: nothing claimed


def test_a_route_keeps_its_last_resolved_traffic_when_resolution_fails():
    resolved = route({"url": "http://crash.default.example.com",
                      "traffic": [{"revisionName": "crash-00001", "percent": 100}],
                      "conditions": [{"type": "AllTrafficAssigned", "status": "False", "reason": "RevisionMissing"}]})
    entry = route_entry(resolved, {"crash-00001": FAILED_REVISION}, {"crash": CONFIG}, host_for)
    assert entry["traffic"] == [{"revisionName": "crash-00001", "percent": 100}] and "failure" not in entry


def test_a_waiting_route_names_the_revision_it_waits_for():
    entry = route_entry(route({}), {"crash-00001": {"status": {}}}, {"crash": CONFIG}, host_for)
    assert entry["failure"] == {"revisionName": "crash-00001", "reason": "RevisionNotReady"}


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"revisions": [{"namespace": NS, "name": "a", "failure": "Exit Code\n1"}]}, "revisions[0].failure"),
        ({"revisions": [{"namespace": NS, "name": "a", "failure": 1}]}, "revisions[0].failure"),
        ({"routes": [{"namespace": NS, "name": "r", "hosts": ["h"], "failure": {"reason": "a b"}}]}, "routes[0].failure.reason"),
        ({"routes": [{"namespace": NS, "name": "r", "hosts": ["h"], "failure": {}}]}, None),
    ],
)
def test_failure_fields_are_checked(doc, field):
    if field is None:
        assert parse_snapshot(doc).routes.failure("h") is None
        return
    with pytest.raises(DirectoryError) as err:
        parse_snapshot(doc)
    assert str(err.value).startswith(field)


def test_revision_failure_is_parsed():
    snap = parse_snapshot({"revisions": [{"namespace": NS, "name": "a", "failure": "ExitCode137"}, {"namespace": NS, "name": "b"}]})
    assert snap.revisions[(NS, "a")].failure == "ExitCode137" and snap.revisions[(NS, "b")].failure == ""
