from datetime import datetime, timezone

import pytest

from dataplane.api import conditions as c

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
T1 = datetime(2024, 1, 1, 0, 0, 5, tzinfo=timezone.utc)
T2 = datetime(2024, 1, 1, 0, 0, 9, tzinfo=timezone.utc)


def ready(status):
    cond = c.get_condition(status, c.READY)
    return cond["status"], cond.get("reason", ""), cond.get("message", "")


def test_set_condition_stamps_the_transition_only_when_something_changes():
    s = c.set_condition(None, "Foo", c.TRUE, now=T0)
    assert s == {"conditions": [{"type": "Foo", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    assert c.set_condition(s, "Foo", c.TRUE, now=T1) == s
    s2 = c.set_condition(s, "Foo", c.FALSE, "Broke", "it broke", now=T1)
    assert c.get_condition(s2, "Foo") == {"type": "Foo", "status": "False", "reason": "Broke", "message": "it broke",
                                          "lastTransitionTime": "2024-01-01T00:00:05Z"}
    assert c.get_condition(s, "Foo")["status"] == "True"  # input untouched


def test_conditions_are_kept_sorted_by_type():
    s = c.set_condition(None, "Zeta", c.TRUE, now=T0)
    s = c.set_condition(s, "Alpha", c.TRUE, now=T0)
    assert [x["type"] for x in s["conditions"]] == ["Alpha", "Zeta"]


def test_invalid_status_is_refused():
    with pytest.raises(ValueError):
        c.set_condition(None, "Foo", "Yes", now=T0)


@pytest.mark.parametrize("kind, dependents", [
    ("Service", ("ConfigurationsReady", "RoutesReady")),
    ("Revision", ("ResourcesAvailable", "ContainerHealthy")),
    ("Route", ("AllTrafficAssigned", "IngressReady")),
])
def test_ready_is_the_conjunction_of_the_dependents(kind, dependents):
    first, second = dependents
    s = c.initialize(None, kind, now=T0)
    assert ready(s) == ("Unknown", "", "")
    s = c.mark(s, kind, first, c.TRUE, now=T1)
    assert ready(s)[0] == "Unknown"
    s = c.mark(s, kind, second, c.TRUE, now=T1)
    assert ready(s) == ("True", "", "")
    s = c.mark(s, kind, second, c.FALSE, "Broken", "second broke", now=T2)
    assert ready(s) == ("False", "Broken", "second broke")
    # Unknown does not hide a failure elsewhere
    s = c.mark(s, kind, first, c.UNKNOWN, "Working", "", now=T2)
    assert ready(s) == ("False", "Broken", "second broke")


def test_ready_takes_its_reason_from_the_latest_failure():
    s = c.mark(None, "Route", "AllTrafficAssigned", c.FALSE, "RevisionMissing", "a", now=T0)
    s = c.mark(s, "Route", "IngressReady", c.FALSE, "IngressFailed", "b", now=T1)
    assert ready(s) == ("False", "IngressFailed", "b")


def test_revision_active_does_not_affect_ready():
    s = c.mark(None, "Revision", "ResourcesAvailable", c.TRUE, now=T0)
    s = c.mark(s, "Revision", "ContainerHealthy", c.TRUE, now=T0)
    s = c.mark(s, "Revision", c.ACTIVE, c.FALSE, "NoTraffic", "scaled to zero", now=T1)
    assert ready(s) == ("True", "", "")


def test_configuration_ready_tracks_the_latest_created_revision():
    s = c.set_latest_created(None, "shop-00001", now=T0)
    assert ready(s)[0] == "Unknown"
    s = c.set_latest_ready(s, "shop-00001", now=T1)
    assert ready(s)[0] == "True"
    s = c.set_latest_created(s, "shop-00002", now=T1)
    assert ready(s)[0] == "Unknown"
    s = c.mark_latest_created_failed(s, "shop-00002", "exit code 1", now=T2)
    assert ready(s) == ("False", "RevisionFailed", 'Revision "shop-00002" failed with message: exit code 1.')
    assert s["latestReadyRevisionName"] == "shop-00001"  # traffic stays there


def test_service_mirrors_its_configuration_and_route():
    cfg = c.set_latest_ready(c.set_latest_created(None, "shop-00001", now=T0), "shop-00001", now=T0)
    route = c.mark(c.mark(None, "Route", "AllTrafficAssigned", c.TRUE, now=T0), "Route", "IngressReady",
                   c.UNKNOWN, "IngressNotConfigured", "Ingress has not yet been reconciled.", now=T0)
    route["url"] = "http://shop.default.example.com"
    s = c.propagate_configuration_status(None, cfg, now=T1)
    s = c.propagate_route_status(s, route, now=T1)
    assert s["latestReadyRevisionName"] == s["latestCreatedRevisionName"] == "shop-00001"
    assert s["url"] == "http://shop.default.example.com"
    assert c.condition_status(s, "ConfigurationsReady") == "True"
    assert ready(s) == ("Unknown", "IngressNotConfigured", "Ingress has not yet been reconciled.")
    route = c.mark(route, "Route", "IngressReady", c.TRUE, now=T2)
    assert ready(c.propagate_route_status(s, route, now=T2)) == ("True", "", "")


def test_is_ready_needs_the_current_generation_observed():
    status = c.set_observed_generation(c.set_condition(None, c.READY, c.TRUE, now=T0), 2)
    assert c.is_ready({"metadata": {"generation": 2}, "status": status})
    assert not c.is_ready({"metadata": {"generation": 3}, "status": status})
    failed = c.set_observed_generation(c.set_condition(None, c.READY, c.FALSE, now=T0), 3)
    assert c.is_failed({"metadata": {"generation": 3}, "status": failed})
    assert not c.is_ready({"metadata": {}, "status": {}})
