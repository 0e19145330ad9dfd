from datetime import datetime, timedelta, timezone

import pytest

from dataplane.api import GCConfig, revisions_to_collect

NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


def ts(hours_ago):
    return (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rev(name, created_h, active_h=None, state="reserve", no_gc=False):
    annotations = {}
    if active_h is not None:
        annotations["serving.knative.dev/routingStateModified"] = ts(active_h)
    if no_gc:
        annotations["serving.knative.dev/no-gc"] = "true"
    return {"metadata": {"name": name, "creationTimestamp": ts(created_h),
                         "labels": {"serving.knative.dev/routingState": state}, "annotations": annotations}}


OLD = 100  # hours: older than both default retention windows (48h, 15h)


@pytest.mark.parametrize("revisions, latest, cfg, want", [
    pytest.param([rev(f"r{i}", OLD + i) for i in range(5)], None, GCConfig(min_non_active_revisions=0),
                 ["r4", "r3", "r2", "r1", "r0"], id="stale-oldest-first"),
    pytest.param([rev(f"r{i}", OLD + i) for i in range(5)], None, GCConfig(min_non_active_revisions=2),
                 ["r4", "r3", "r2"], id="keeps-min"),
    pytest.param([rev("r0", OLD), rev("r1", 10), rev("r2", OLD, active_h=5)], None,
                 GCConfig(min_non_active_revisions=0), ["r0"], id="young-or-recently-active-kept"),
    pytest.param([rev("r0", OLD), rev("r1", OLD, state="active"), rev("r2", OLD, state="pending"),
                  rev("r3", OLD, no_gc=True), rev("r4", OLD)], "r4", GCConfig(min_non_active_revisions=0),
                 ["r0"], id="active-pending-no-gc-and-latest-ready-are-never-collected"),
    pytest.param([rev(f"r{i}", 1 + i) for i in range(6)], None,
                 GCConfig(min_non_active_revisions=0, max_non_active_revisions=2),
                 ["r5", "r4", "r3", "r2"], id="max-trims-young-revisions"),
    pytest.param([rev("r0", OLD), rev("r1", 1), rev("r2", 2), rev("r3", 3)], None,
                 GCConfig(min_non_active_revisions=0, max_non_active_revisions=2),
                 ["r0", "r3"], id="stale-first-then-max"),
    pytest.param([rev(f"r{i}", OLD + i) for i in range(3)], None,
                 GCConfig(None, None, 0, None), [], id="everything-disabled"),
    pytest.param([rev(f"r{i}", OLD + i) for i in range(3)], None,
                 GCConfig(retain_since_create_time=None, min_non_active_revisions=0), ["r2", "r1", "r0"],
                 id="create-window-disabled"),
    pytest.param([rev("r0", 1, active_h=1), rev("r1", OLD, active_h=20)], None,
                 GCConfig(retain_since_last_active_time=None, min_non_active_revisions=0), ["r1"],
                 id="active-window-disabled"),
    pytest.param([rev(f"r{i}", OLD) for i in range(20)], None, GCConfig(), [], id="default-min-of-20"),
    pytest.param([{"metadata": {"name": "odd", "labels": {"serving.knative.dev/routingState": "reserve"}}},
                  rev("r1", OLD)], None, GCConfig(min_non_active_revisions=0), ["r1"],
                 id="unreadable-age-is-kept"),
])
def test_revisions_to_collect(revisions, latest, cfg, want):
    assert revisions_to_collect(revisions, latest, cfg, NOW) == want


def test_now_may_be_epoch_seconds():
    revisions = [rev("r0", OLD), rev("r1", 1)]
    cfg = GCConfig(min_non_active_revisions=0)
    assert revisions_to_collect(revisions, None, cfg, NOW.timestamp()) == ["r0"]
