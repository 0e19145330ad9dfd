"""kn's `--traffic`, `--tag` and `--untag` computed against a Service (pure, table-driven)."""

from __future__ import annotations

import pytest

from dataplane.cli.common import UsageError
from dataplane.cli.traffic_flags import TrafficFlags, compute, parse_percents

REVISIONS = ["svc-00001", "svc-00002", "svc-00003"]


def service(traffic: list[dict], status: list[dict] | None = None, latest: str = "svc-00003") -> dict:
    return {"metadata": {"name": "svc"}, "spec": {"traffic": traffic},
            "status": {"traffic": status if status is not None else traffic, "latestReadyRevisionName": latest}}


LATEST_ALL = [{"latestRevision": True, "percent": 100}]


@pytest.mark.parametrize(("values", "expected"), [
    (["50", "svc-00001=50"], {"@latest": 50, "svc-00001": 50}),
    (["@latest=30%", "a=70"], {"@latest": 30, "a": 70}),
    (["a=0", "b=100"], {"a": 0, "b": 100}),
])
def test_percents(values, expected):
    assert parse_percents(values) == expected


@pytest.mark.parametrize(("values", "message"), [
    (["a=half"], 'invalid --traffic "a=half": the percent must be an integer'),
    (["a=50.5"], 'invalid --traffic "a=50.5": the percent must be an integer'),
    (["a=-5"], 'invalid --traffic "a=-5": the percent must be an integer'),
    (["a=101"], 'invalid --traffic "a=101": the percent must be an integer from 0 to 100'),
    (["=50"], 'invalid --traffic "=50"'),
    (["a=1=2"], 'invalid --traffic "a=1=2"'),
    (["a=50", "a=50"], '--traffic names "a" twice'),
])
def test_bad_percents_name_the_flag(values, message):
    with pytest.raises(UsageError, match=message):
        parse_percents(values)


def test_a_split_between_a_revision_and_latest():
    svc = service(LATEST_ALL, [{"revisionName": "svc-00003", "latestRevision": True, "percent": 100}])
    got = compute(svc, TrafficFlags(traffic=["svc-00001=20", "@latest=80"]), REVISIONS, makes_revision=False)
    assert got == [{"latestRevision": True, "percent": 80},
                   {"revisionName": "svc-00001", "latestRevision": False, "percent": 20}]


def test_traffic_names_the_whole_split_and_drops_untagged_zero_targets():
    svc = service([{"revisionName": "svc-00001", "latestRevision": False, "percent": 50},
                   {"revisionName": "svc-00002", "latestRevision": False, "percent": 50, "tag": "blue"}])
    got = compute(svc, TrafficFlags(traffic=["@latest=100"]), REVISIONS, makes_revision=False)
    assert got == [{"revisionName": "svc-00002", "latestRevision": False, "percent": 0, "tag": "blue"},
                   {"latestRevision": True, "percent": 100}]


def test_a_tag_is_a_reference_too():
    svc = service([{"revisionName": "svc-00001", "latestRevision": False, "percent": 100, "tag": "stable"},
                   {"latestRevision": True, "percent": 0, "tag": "candidate"}])
    got = compute(svc, TrafficFlags(traffic=["stable=90", "candidate=10"]), REVISIONS, makes_revision=False)
    assert [(t.get("tag"), t["percent"]) for t in got] == [("stable", 90), ("candidate", 10)]


def test_an_unknown_revision_is_refused_before_anything_is_sent():
    with pytest.raises(UsageError, match='--traffic: "svc-00009" is neither a revision nor a tag of service \'svc\''):
        compute(service(LATEST_ALL), TrafficFlags(traffic=["svc-00009=100"]), REVISIONS, makes_revision=False)
    with pytest.raises(UsageError, match='--tag: "nope" is not a revision of service \'svc\''):
        compute(service(LATEST_ALL), TrafficFlags(tags=["nope=x"]), REVISIONS, makes_revision=False)


def test_percents_over_100_are_refused():
    with pytest.raises(UsageError, match="the percents sum to 120, want 100"):
        compute(service(LATEST_ALL), TrafficFlags(traffic=["svc-00001=60", "svc-00002=60"]), REVISIONS, False)


def test_the_remainder_goes_to_the_one_revision_left_out():
    current = [{"revisionName": "svc-00001", "latestRevision": False, "percent": 50},
               {"revisionName": "svc-00002", "latestRevision": False, "percent": 50}]
    got = compute(service(current), TrafficFlags(traffic=["svc-00001=30"]), REVISIONS, makes_revision=False)
    assert [(t["revisionName"], t["percent"]) for t in got] == [("svc-00001", 30), ("svc-00002", 70)]


def test_the_remainder_goes_to_latest_when_the_update_makes_a_revision():
    current = [{"revisionName": "svc-00001", "latestRevision": False, "percent": 100}]
    got = compute(service(current), TrafficFlags(traffic=["svc-00001=40"]), REVISIONS, makes_revision=True)
    assert got == [{"revisionName": "svc-00001", "latestRevision": False, "percent": 40},
                   {"latestRevision": True, "percent": 60}]


def test_a_remainder_with_nowhere_to_go_is_refused():
    current = [{"revisionName": r, "latestRevision": False, "percent": p} for r, p in zip(REVISIONS, (20, 30, 50))]
    with pytest.raises(UsageError, match="unable to allocate the remaining 70%"):
        compute(service(current), TrafficFlags(traffic=["svc-00001=30"]), REVISIONS, makes_revision=False)


def test_tags_and_untags():
    svc = service([{"revisionName": "svc-00001", "latestRevision": False, "percent": 100, "tag": "old"}])
    got = compute(svc, TrafficFlags(tags=["@latest=current", "svc-00002=next"], untags=["old"]), REVISIONS, False)
    assert got == [{"revisionName": "svc-00001", "latestRevision": False, "percent": 100},
                   {"tag": "current", "latestRevision": True, "percent": 0},
                   {"tag": "next", "revisionName": "svc-00002", "latestRevision": False, "percent": 0}]


def test_a_tag_in_use_is_not_overwritten():
    svc = service([{"revisionName": "svc-00001", "latestRevision": False, "percent": 100, "tag": "blue"}])
    with pytest.raises(UsageError, match="refusing to overwrite existing tag 'blue'; add --untag blue"):
        compute(svc, TrafficFlags(tags=["svc-00002=blue"]), REVISIONS, False)
    with pytest.raises(UsageError, match="--untag: tag\\(s\\) green not present"):
        compute(svc, TrafficFlags(untags=["green"]), REVISIONS, False)
    with pytest.raises(UsageError, match="--tag names @latest twice"):
        compute(svc, TrafficFlags(tags=["@latest=a", "@latest=b"]), REVISIONS, False)
