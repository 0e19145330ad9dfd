"""The directory snapshot: parsing, errors that name the field, exact traffic splits."""

from collections import Counter

import pytest

from dataplane.directory import DirectoryError, parse_snapshot
from dataplane.directory.snapshot import smooth_schedule


def doc(traffic, tag_hosts=None):
    return {
        "version": 3,
        "revisions": [
            {"namespace": "ns", "name": "a", "containerConcurrency": 2, "pods": [{"name": "p", "address": "127.0.0.1:1", "ready": True}]},
            {"namespace": "ns", "name": "b", "annotations": {"autoscaling.knative.dev/target": "5"}},
        ],
        "routes": [{"namespace": "ns", "name": "r", "hosts": ["R.ns.example.com"], "traffic": traffic, "tagHosts": tag_hosts or {}}],
    }


def test_parse_indexes_revisions_and_routes():
    snap = parse_snapshot(doc([{"revisionName": "a", "percent": 100}], {"t-r.ns.example.com": "b"}))
    assert snap.version == 3
    assert snap.revisions[("ns", "a")].container_concurrency == 2
    assert snap.revisions[("ns", "a")].pods[0].address == "127.0.0.1:1"
    assert snap.revisions[("ns", "b")].annotations == {"autoscaling.knative.dev/target": "5"}
    assert snap.routes.pick("r.ns.example.com") == ("ns", "a")  # hosts are matched lower-cased
    assert snap.routes.pick("t-r.ns.example.com") == ("ns", "b")
    assert snap.routes.pick("other.example.com") is None


@pytest.mark.parametrize(
    ("weights", "n"),
    [([50, 50], 200), ([90, 10], 100), ([1, 2, 3], 60), ([33, 33, 34], 100), ([100], 7)],
)
def test_splits_are_exact_over_whole_cycles(weights, n):
    traffic = [{"revisionName": name, "percent": w} for name, w in zip("abc", weights)]
    routes = parse_snapshot(doc(traffic)).routes
    counts = Counter(routes.pick("r.ns.example.com")[1] for _ in range(n))
    total = sum(weights)
    for name, w in zip("abc", weights):
        assert abs(counts[name] - n * w / total) < 1 + 1e-9, counts


def test_smooth_schedule_interleaves():
    assert smooth_schedule([1, 1]) == [0, 1]
    assert smooth_schedule([3, 1]) == [0, 0, 1, 0]
    order = smooth_schedule([9, 1])
    assert order.count(1) == 1 and len(order) == 10


def test_zero_percent_targets_get_nothing():
    routes = parse_snapshot(doc([{"revisionName": "a", "percent": 100}, {"revisionName": "b", "percent": 0}])).routes
    assert {routes.pick("r.ns.example.com") for _ in range(10)} == {("ns", "a")}


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({"version": "x"}, "snapshot.version: must be int"),
        ({"revisions": [{"namespace": "ns"}]}, "revisions[0].name: required"),
        ({"revisions": [{"namespace": "ns", "name": "a", "pods": [{"address": "nowhere"}]}]}, "revisions[0].pods[0].address: must be host:port"),
        ({"revisions": [{"namespace": "ns", "name": "a", "annotations": {"k": 1}}]}, "revisions[0].annotations: keys and values must be strings"),
        ({"routes": [{"namespace": "ns", "traffic": [{"percent": 10}]}]}, "routes[0].traffic[0].revisionName: required"),
        ({"activators": "a"}, "snapshot.activators: must be list"),
        ({"activators": ["a", ""]}, "snapshot.activators: must be non-empty strings"),
        ({"activators": ["a", "a"]}, "snapshot.activators: names must be unique"),
    ],
)
def test_bad_snapshots_name_the_field(broken, message):
    with pytest.raises(DirectoryError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_snapshot(broken)


def test_activators_in_the_order_given_and_none_by_default():
    assert parse_snapshot({"activators": ["activator-b", "activator-a"]}).activators == ("activator-b", "activator-a")
    assert parse_snapshot({}).activators == ()
