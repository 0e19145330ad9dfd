import pytest

from dataplane.api import ResolvedTarget, TrafficError, pick, resolve_traffic

WHERE = {"name": "shop", "namespace": "prod", "domain": "example.com"}
CONFIGS = {"shop": {"latestCreatedRevisionName": "shop-00002", "latestReadyRevisionName": "shop-00001"}}
REVISIONS = {"shop-00001": True, "shop-00002": None}


def resolve(traffic, configurations=CONFIGS, revisions=REVISIONS, **kw):
    return resolve_traffic(traffic, configurations, revisions, **WHERE, **kw)


def test_latest_revision_stays_on_the_last_ready_one_while_the_new_one_is_not_ready():
    got = resolve([{"configurationName": "shop", "latestRevision": True, "percent": 100}])
    assert got.targets == (ResolvedTarget("shop-00001", 100, None, True, "shop", None),)
    assert got.status_traffic() == [{"revisionName": "shop-00001", "latestRevision": True, "percent": 100}]


def test_a_failed_new_revision_keeps_traffic_on_the_old_one():
    got = resolve([{"configurationName": "shop", "percent": 100}], revisions={"shop-00001": True, "shop-00002": False})
    assert got.splits[None] == (("shop-00001", 100),)


def test_traffic_moves_once_the_configuration_reports_the_new_revision_ready():
    ready = {"shop": {"latestCreatedRevisionName": "shop-00002", "latestReadyRevisionName": "shop-00002"}}
    got = resolve([{"configurationName": "shop", "percent": 100}], ready, {"shop-00001": True, "shop-00002": True})
    assert got.splits[None] == (("shop-00002", 100),)


def test_service_traffic_follows_the_default_configuration():
    got = resolve([{"latestRevision": True, "percent": 100}], default_configuration="shop")
    assert got.targets[0].revision_name == "shop-00001"


def test_urls_and_tags():
    got = resolve([{"configurationName": "shop", "percent": 90, "tag": "current"},
                   {"revisionName": "shop-00001", "percent": 10, "tag": "stable"},
                   {"configurationName": "shop", "tag": "latest", "latestRevision": True}])
    assert got.url == "http://shop.prod.example.com"
    assert got.address_url == "http://shop.prod.svc.cluster.local"
    assert [t.url for t in got.targets] == ["http://current-shop.prod.example.com",
                                            "http://stable-shop.prod.example.com",
                                            "http://latest-shop.prod.example.com"]
    assert got.status_traffic()[2] == {"revisionName": "shop-00001", "latestRevision": True, "tag": "latest",
                                       "url": "http://latest-shop.prod.example.com"}
    assert got.splits["stable"] == (("shop-00001", 100),)
    assert got.revision_names() == {"shop-00001"}


def test_percents_per_revision_add_up_on_the_main_host_and_zero_percent_targets_are_tag_only():
    revisions = {"shop-00001": True, "shop-00002": True, "shop-00003": True}
    got = resolve([{"revisionName": "shop-00001", "percent": 30},
                   {"revisionName": "shop-00002", "percent": 50},
                   {"revisionName": "shop-00001", "percent": 20, "tag": "old"},
                   {"revisionName": "shop-00003", "percent": 0, "tag": "next"}], revisions=revisions)
    assert got.splits[None] == (("shop-00001", 50), ("shop-00002", 50))
    assert got.splits["next"] == (("shop-00003", 100),)
    assert sum(t.percent for t in got.targets) == 100


def test_identical_revision_and_tag_entries_are_merged():
    got = resolve([{"revisionName": "shop-00001", "percent": 40}, {"revisionName": "shop-00001", "percent": 60}])
    assert got.targets == (ResolvedTarget("shop-00001", 100, None, False, None, None),)


def test_a_single_revision_takes_all_traffic():
    got = resolve([{"revisionName": "shop-00001", "percent": 100, "tag": "a"},
                   {"configurationName": "shop", "tag": "b", "latestRevision": True}])
    assert got.splits[None] == (("shop-00001", 100),)


@pytest.mark.parametrize("traffic, configurations, revisions, reason, status, message", [
    ([{"revisionName": "shop-00009", "percent": 100}], CONFIGS, REVISIONS,
     "RevisionMissing", "False", "Revision \"shop-00009\" referenced in traffic not found."),
    ([{"configurationName": "blog", "percent": 100}], CONFIGS, REVISIONS,
     "ConfigurationMissing", "False", "Configuration \"blog\" referenced in traffic not found."),
    ([{"configurationName": "shop", "percent": 100}], {"shop": {"latestCreatedRevisionName": "shop-00001"}},
     {"shop-00001": None}, "RevisionMissing", "Unknown",
     "Configuration \"shop\" is waiting for a Revision to become ready."),
    ([{"configurationName": "shop", "percent": 100}], {"shop": {"latestCreatedRevisionName": "shop-00001"}},
     {"shop-00001": False}, "RevisionMissing", "False", "Configuration \"shop\" does not have any ready Revision."),
    ([{"revisionName": "shop-00002", "percent": 100}], CONFIGS, REVISIONS,
     "RevisionMissing", "Unknown", "Revision \"shop-00002\" is not yet ready."),
    ([{"revisionName": "shop-00002", "percent": 100}], CONFIGS, {"shop-00002": False},
     "RevisionMissing", "False", "Revision \"shop-00002\" failed to become ready."),
])
def test_unresolvable_targets(traffic, configurations, revisions, reason, status, message):
    with pytest.raises(TrafficError) as info:
        resolve(traffic, configurations, revisions)
    assert (info.value.reason, info.value.status, info.value.message) == (reason, status, message)


def test_a_failure_outranks_waiting_and_all_missing_objects_are_listed():
    with pytest.raises(TrafficError) as info:
        resolve([{"revisionName": "shop-00002", "percent": 50},
                 {"revisionName": "gone", "percent": 25},
                 {"configurationName": "blog", "percent": 25}])
    assert info.value.reason == "RevisionMissing" and info.value.status == "False"
    assert info.value.message == "Revision \"gone\" referenced in traffic not found."
    assert info.value.missing == (("Revision", "gone"), ("Configuration", "blog"))
    assert len(info.value.problems) == 3


def test_whole_configurations_are_accepted_too():
    got = resolve([{"configurationName": "shop", "percent": 100}],
                  {"shop": {"kind": "Configuration", "status": CONFIGS["shop"]}})
    assert got.targets[0].revision_name == "shop-00001"


SPLIT = resolve([{"revisionName": "shop-00001", "percent": 25}, {"revisionName": "shop-00002", "percent": 75}],
                revisions={"shop-00001": True, "shop-00002": True})


@pytest.mark.parametrize("u, revision", [
    (0.0, "shop-00001"), (0.2499, "shop-00001"), (0.25, "shop-00002"), (0.5, "shop-00002"), (0.9999999, "shop-00002"),
])
def test_pick_is_a_deterministic_weighted_choice(u, revision):
    assert pick(SPLIT, u) == revision


def test_pick_shares_follow_the_percents():
    counts = {"shop-00001": 0, "shop-00002": 0}
    for i in range(1000):
        counts[pick(SPLIT, i / 1000)] += 1
    assert counts == {"shop-00001": 250, "shop-00002": 750}


def test_pick_by_tag_and_hosts_without_traffic():
    got = resolve([{"revisionName": "shop-00001", "percent": 100}, {"configurationName": "shop", "tag": "canary"}])
    assert pick(got, 0.7, tag="canary") == "shop-00001"
    assert pick(got, 0.7, tag="nope") is None


@pytest.mark.parametrize("u", [-0.1, 1.0, 2])
def test_pick_wants_u_in_unit_interval(u):
    with pytest.raises(ValueError):
        pick(SPLIT, u)


def test_pick_on_a_host_whose_targets_are_all_zero_percent():
    got = resolve([{"revisionName": "shop-00001", "percent": 0, "tag": "a"},
                   {"revisionName": "shop-00003", "percent": 0, "tag": "b"}],
                  revisions={"shop-00001": True, "shop-00003": True})
    assert got.splits[None] == ()
    assert pick(got, 0.5) is None
    assert pick(got, 0.5, tag="b") == "shop-00003"
