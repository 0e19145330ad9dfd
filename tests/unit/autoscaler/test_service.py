"""AutoscalerService on a fake clock: directory changes, pokes, publishing, restarts, config."""

from __future__ import annotations

import asyncio

import pytest

from dataplane.api.errors import ConfigError
from dataplane.autoscaler.core import Activity, ServingMode
from dataplane.autoscaler.outcome import RevisionScale
from dataplane.autoscaler.service import AutoscalerService, _next_boundary
from dataplane.directory import PodInfo, RevisionInfo
from dataplane.stats.wire import Stat

START = 1_800_000_000.0
NS = "default"
KPA = "autoscaling.knative.dev"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Target:
    """Records every published outcome."""

    def __init__(self) -> None:
        self.calls: list[RevisionScale] = []

    def scale(self, namespace: str, name: str, outcome: RevisionScale) -> None:
        assert (namespace, name) == outcome.key
        self.calls.append(outcome)

    def for_revision(self, name: str) -> list[RevisionScale]:
        return [c for c in self.calls if c.name == name]


class FakeFetch:
    def __init__(self, concurrency: float = 1.0) -> None:
        self.concurrency = concurrency
        self.calls: list[str] = []

    async def __call__(self, address: str) -> Stat:
        self.calls.append(address)
        return Stat(average_concurrent_requests=self.concurrency)


def revision(name: str, ready: int = 0, cc: int = 0, annotations: dict | None = None, age: float = 600.0) -> RevisionInfo:
    pods = tuple(PodInfo(f"{name}-{i}", f"10.0.0.{i}:8012", True, f"10.0.0.{i}:9090", START - age) for i in range(ready))
    return RevisionInfo(NS, name, container_concurrency=cc, annotations=dict(annotations or {}), pods=pods)


def make(config: dict | None = None, fetch=None) -> tuple[AutoscalerService, Target, Clock]:
    clock = Clock()
    target = Target()
    service = AutoscalerService(target, config or {}, clock=clock, fetch=fetch or FakeFetch())
    return service, target, clock


def scraped(service: AutoscalerService, name: str, concurrency: float, now: float) -> None:
    """Record a scrape the way a finished round does."""
    service.revisions[(NS, name)].autoscaler.record_scraped(Stat(average_concurrent_requests=concurrency), now)


def test_new_revision_gets_a_scaler_and_an_initial_outcome():
    service, target, _ = make()
    service.apply([revision("hello-00001", ready=1)])
    status = service.status(NS, "hello-00001")
    assert status is not None
    assert status.desired == -1  # no metrics yet
    assert status.ready == 1
    assert [c.name for c in target.calls] == ["hello-00001"]


def test_changed_annotations_update_the_spec_and_pods_update_ready_count():
    service, _, clock = make()
    service.apply([revision("r", ready=1)])
    assert service.revisions[(NS, "r")].spec.target_value == pytest.approx(70.0)
    service.apply([revision("r", ready=3, annotations={f"{KPA}/target": "10"})])
    tracked = service.revisions[(NS, "r")]
    assert tracked.spec.target_value == pytest.approx(7.0)
    assert tracked.ready == 3
    clock.now += 1
    scraped(service, "r", 21.0, clock.now)
    service.tick()
    assert service.status(NS, "r").desired == 3
    assert service.status(NS, "r").target == pytest.approx(7.0)


def test_revision_keeps_its_windows_across_pod_changes():
    service, _, clock = make()
    service.apply([revision("r", ready=1)])
    tracked = service.revisions[(NS, "r")]
    service.apply([revision("r", ready=2)])
    assert service.revisions[(NS, "r")] is tracked


def test_revision_gone_from_the_directory_is_dropped():
    service, target, _ = make()
    service.apply([revision("a", ready=1), revision("b", ready=1)])
    service.apply([revision("b", ready=1)])
    assert service.status(NS, "a") is None
    assert (NS, "a") not in service.revisions
    assert service.record_pushed(NS, "a", Stat(average_concurrent_requests=1.0)) is False
    assert service.stats.unknown == 1
    calls = len(target.calls)
    service.tick()
    assert all(c.name == "b" for c in target.calls[calls:])


def test_other_autoscaling_class_is_skipped_with_a_reason():
    service, _, _ = make()
    service.apply([revision("h", annotations={f"{KPA}/class": "hpa.autoscaling.knative.dev"})])
    assert service.status(NS, "h") is None
    assert "hpa.autoscaling.knative.dev" in service.skipped[(NS, "h")]
    service.apply([revision("h")])
    assert service.status(NS, "h") is not None
    assert (NS, "h") not in service.skipped


def test_pushed_stat_for_a_revision_without_pods_decides_at_once():
    service, target, clock = make()
    service.apply([revision("cold", cc=1)])
    before = len(target.calls)
    clock.now += 0.3
    assert service.record_pushed(NS, "cold", Stat(average_concurrent_requests=1.0, request_count=1.0))
    status = service.status(NS, "cold")
    assert status.desired >= 1
    assert status.decided_at == clock.now
    assert len(target.calls) == before + 1
    assert target.calls[-1].replicas == status.desired


def test_poke_at_zero_decides_at_once():
    service, target, clock = make()
    service.apply([revision("z")])
    clock.now += 1
    service.record_pushed(NS, "z", Stat(average_concurrent_requests=0.0))
    service.tick()
    assert service.revisions[(NS, "z")].autoscaler.desired == 0
    clock.now += 0.5
    service.record_pushed(NS, "z", Stat(average_concurrent_requests=2.0))
    assert service.status(NS, "z").decided_at == clock.now
    assert service.status(NS, "z").desired >= 1
    assert target.calls[-1].desired >= 1


def test_pushed_stat_for_a_scaled_up_revision_waits_for_the_tick():
    service, _, clock = make()
    service.apply([revision("warm", ready=2)])
    clock.now += 1
    scraped(service, "warm", 100.0, clock.now)
    service.tick()
    decided = service.status(NS, "warm").decided_at
    clock.now += 0.5
    service.record_pushed(NS, "warm", Stat(average_concurrent_requests=50.0))
    assert service.status(NS, "warm").decided_at == decided


def test_outcome_is_published_only_when_it_changes():
    service, target, clock = make()
    service.apply([revision("r", ready=2, cc=10)])
    for _ in range(3):
        clock.now += 2
        scraped(service, "r", 12.0, clock.now)
        service.tick()
    published = target.for_revision("r")
    # initial (no metrics), then desired 2 once, however many ticks saw the same thing
    assert [c.desired for c in published] == [-1, 2]
    clock.now += 2
    scraped(service, "r", 100.0, clock.now)
    service.tick()
    assert target.for_revision("r")[-1].desired > 2
    assert service.status(NS, "r").decided_at == clock.now


def test_restart_with_ready_pods_starts_in_panic_and_does_not_scale_down():
    service, _, clock = make({"stable-window": "6s"})
    service.apply([revision("busy", ready=5, cc=10)])
    for _ in range(2):  # well within one stable window of the restart
        clock.now += 2
        scraped(service, "busy", 1.0, clock.now)
        service.tick()
        status = service.status(NS, "busy")
        assert status.panic
        assert status.desired == 5
        assert status.reason == "panic"


def test_restart_with_one_ready_pod_does_not_panic():
    service, _, clock = make()
    service.apply([revision("one", ready=1, cc=10)])
    clock.now += 2
    scraped(service, "one", 1.0, clock.now)
    service.tick()
    assert not service.status(NS, "one").panic


def test_rps_metric_reports_rps_and_concurrency():
    service, _, clock = make()
    service.apply([revision("q", ready=1, annotations={f"{KPA}/metric": "rps"})])
    clock.now += 1
    service.revisions[(NS, "q")].autoscaler.record_scraped(Stat(average_concurrent_requests=3.0, request_count=280.0), clock.now)
    service.tick()
    doc = service.status(NS, "q").to_json()
    assert doc["metric"] == "rps"
    assert doc["stableRPS"] == pytest.approx(280.0)
    assert doc["stableConcurrency"] == pytest.approx(3.0)
    assert doc["desired"] == 2  # 280 / 140


def test_concurrency_metric_omits_rps_in_json():
    service, _, clock = make()
    service.apply([revision("c", ready=1)])
    doc = service.status(NS, "c").to_json()
    assert "stableRPS" not in doc
    assert doc["mode"] in (ServingMode.PROXY.value, ServingMode.SERVE.value)


def test_config_update_takes_effect_without_restart():
    service, _, _ = make()
    service.apply([revision("r", ready=1)])
    assert service.revisions[(NS, "r")].spec.stable_window == 60.0
    service.update_config({"stable-window": "6s", "container-concurrency-target-default": "10"})
    spec = service.revisions[(NS, "r")].spec
    assert spec.stable_window == 6.0
    assert spec.target_value == pytest.approx(7.0)


def test_invalid_config_is_refused_and_the_old_one_kept():
    service, _, _ = make({"stable-window": "6s"})
    with pytest.raises(ConfigError):
        service.update_config({"stable-window": "1s"})
    assert service.config.stable_window == 6.0


def test_idle_revision_goes_inactive_then_to_zero():
    service, target, clock = make({"stable-window": "6s", "scale-to-zero-grace-period": "4s"})
    service.apply([revision("idle", ready=1)])
    for _ in range(20):
        clock.now += 1
        scraped(service, "idle", 0.0, clock.now)
        service.tick()
    final = service.status(NS, "idle")
    assert final.activity is Activity.INACTIVE
    assert final.desired == 0 and final.replicas == 0
    assert any(c.replicas == 0 for c in target.for_revision("idle"))


def test_scale_target_errors_do_not_stop_decisions():
    class Broken:
        def scale(self, namespace, name, outcome):
            raise RuntimeError("boom")

    service = AutoscalerService(Broken(), clock=Clock(), fetch=FakeFetch())
    service.apply([revision("r")])
    assert service.status(NS, "r") is not None


async def test_scrape_records_into_the_revision_and_skips_revisions_without_targets():
    fetch = FakeFetch(concurrency=7.0)
    service, _, clock = make(fetch=fetch)
    service.apply(
        [
            revision("scraped", ready=2),
            revision("nopods"),
            revision("tbc", ready=1, annotations={f"{KPA}/target-burst-capacity": "-1"}),
        ]
    )
    service.scrape()
    service.scrape()  # same second: no second round
    for _ in range(5):
        await asyncio.sleep(0)
    assert sorted(fetch.calls) == ["10.0.0.0:9090", "10.0.0.1:9090"]
    tracked = service.revisions[(NS, "scraped")]
    assert tracked.tally.rounds == 1 and not tracked.scraping
    clock.now += 1
    service.tick()
    assert service.status(NS, "scraped").stable_concurrency == pytest.approx(14.0)
    await service.close()


@pytest.mark.parametrize(
    "now, interval, offset, expected",
    [
        (100.0, 1.0, 0.02, 100.02),
        (100.02, 1.0, 0.02, 101.02),
        (100.5, 2.0, 0.5, 102.5),
        (101.9, 2.0, 0.5, 102.5),
        (102.49, 2.0, 0.5, 102.5),
    ],
)
def test_loops_keep_to_the_clock(now, interval, offset, expected):
    assert _next_boundary(now, interval, offset) == pytest.approx(expected)


def test_a_late_duplicate_report_from_one_sender_replaces_instead_of_adding():
    service, target, clock = make({"stable-window": "6s"})
    service.apply([revision("dup", ready=1, cc=1), revision("once", ready=1, cc=1)])
    clock.now = float(int(clock.now)) + 0.1
    report = Stat(pod_name="activator-0", average_concurrent_requests=20.0, request_count=20.0)
    service.record_pushed(NS, "once", report)
    for _ in range(3):  # a stalled sender's backlog, arriving within one second
        service.record_pushed(NS, "dup", report)
    other = Stat(pod_name="activator-1", average_concurrent_requests=20.0, request_count=20.0)
    service.record_pushed(NS, "once", other)  # a second activator's load does add up
    service.record_pushed(NS, "dup", other)
    clock.now += 0.5
    service.tick()
    assert service.status(NS, "dup").desired == service.status(NS, "once").desired == 58  # ceil(40 / 0.7)
