"""Recording stats, the no-data rule, the rps metric, pokes, and spec updates."""

from __future__ import annotations

import pytest

from dataplane.api.autoscaling import AutoscalerConfig
from dataplane.autoscaler.core.metrics import RevisionMetrics
from dataplane.autoscaler.core.revision import RevisionAutoscaler
from dataplane.autoscaler.core.spec import ScalingSpec, resolve_spec
from dataplane.stats.wire import Stat

A = "autoscaling.knative.dev/"


def make_spec(**annotations: str) -> ScalingSpec:
    return resolve_spec({A + k.replace("_", "-"): v for k, v in annotations.items()}, AutoscalerConfig())


def test_scraped_stats_leave_out_proxied_traffic_and_pushed_stats_count_in_full() -> None:
    metrics = RevisionMetrics(make_spec())
    scraped = Stat(
        average_concurrent_requests=10.0,
        average_proxied_concurrent_requests=4.0,
        request_count=100.0,
        proxied_request_count=30.0,
    )
    pushed = Stat(pod_name="activator-1", average_concurrent_requests=4.0, request_count=30.0)
    metrics.record_scraped(scraped, 50.2)
    metrics.record_pushed(pushed, 50.9)  # same second: same bucket
    assert metrics.stable_and_panic("concurrency", 50.0) == (10.0, 10.0)
    assert metrics.stable_and_panic("rps", 50.5) == (100.0, 100.0)


def test_several_activators_add_up() -> None:
    metrics = RevisionMetrics(make_spec())
    for name in ("a", "b", "c"):
        metrics.record_pushed(Stat(pod_name=name, average_concurrent_requests=2.0), 7.0)
    assert metrics.stable_and_panic("concurrency", 7.0) == (6.0, 6.0)


def test_no_data_when_pods_are_scraped_but_nothing_arrived() -> None:
    metrics = RevisionMetrics(make_spec())
    assert metrics.stable_and_panic("concurrency", 100.0) is None
    metrics.record_scraped(Stat(average_concurrent_requests=1.0), 100.0)
    assert metrics.stable_and_panic("concurrency", 160.0) == (0.0, 0.0)
    assert metrics.stable_and_panic("concurrency", 161.0) is None


def test_without_a_scrape_target_silence_is_zero_load() -> None:
    metrics = RevisionMetrics(make_spec(target_burst_capacity="-1"))
    assert metrics.stable_and_panic("concurrency", 100.0) == (0.0, 0.0)


def test_weighted_aggregation_is_used_when_annotated() -> None:
    metrics = RevisionMetrics(make_spec(metric_aggregation_algorithm="weighted-exponential"))
    metrics.record_scraped(Stat(average_concurrent_requests=10.0), 0.0)
    stable, panic = metrics.stable_and_panic("concurrency", 0.0)  # type: ignore[misc]
    assert stable == pytest.approx(2.0)  # c = 0.2 for 60 buckets
    assert panic == pytest.approx(10 * (1 - 0.0001 ** (1 / 6)))


@pytest.mark.parametrize(
    ("scraped_rps", "proxied", "pushed", "ready", "expected"),
    [(300.0, 0.0, 0.0, 3, 3), (280.0, 0.0, 0.0, 2, 2), (300.0, 100.0, 100.0, 3, 3), (0.0, 0.0, 700.0, 5, 5)],
)
def test_rps_metric(scraped_rps: float, proxied: float, pushed: float, ready: int, expected: int) -> None:
    autoscaler = RevisionAutoscaler(make_spec(metric="rps"), now=0.0)
    assert autoscaler.spec.target_value == pytest.approx(140.0)
    for second in range(60):
        autoscaler.record_scraped(
            Stat(average_concurrent_requests=1.0, request_count=scraped_rps, proxied_request_count=proxied), second
        )
        if pushed:
            autoscaler.record_pushed(Stat(average_concurrent_requests=1.0, request_count=pushed), second)
    decision = autoscaler.tick(59.0, ready)
    assert decision is not None
    assert decision.desired == expected
    assert decision.stable_value == pytest.approx(scraped_rps - proxied + pushed)


def test_tick_without_data_keeps_the_last_decision() -> None:
    autoscaler = RevisionAutoscaler(make_spec(), now=0.0)
    assert autoscaler.tick(0.0, 0) is None
    assert autoscaler.desired == -1
    assert autoscaler.excess_burst_capacity == -111
    autoscaler.record_scraped(Stat(average_concurrent_requests=100.0), 1.0)
    decision = autoscaler.tick(2.0, 1)
    assert decision is not None and decision.desired == 2
    assert autoscaler.tick(100.0, 2) is None
    assert autoscaler.desired == 2


def test_poke_only_when_at_zero_and_load_arrives() -> None:
    autoscaler = RevisionAutoscaler(make_spec(), now=0.0)
    busy = Stat(average_concurrent_requests=1.0, request_count=1.0)
    idle = Stat()
    assert not autoscaler.record_pushed(busy, 0.0)  # desired unknown (-1), not zero
    for second in range(1, 62):
        autoscaler.record_scraped(idle, float(second))
    decision = autoscaler.tick(62.0, 1)
    assert decision is not None and decision.desired == 0
    assert not autoscaler.record_pushed(idle, 63.0)
    assert autoscaler.record_pushed(busy, 64.0)
    assert autoscaler.record_scraped(busy, 64.5)
    decision = autoscaler.tick(64.5, 0)
    assert decision is not None and decision.desired == 1
    assert not autoscaler.record_pushed(busy, 65.0)


def test_update_resizes_windows_and_keeps_recent_data() -> None:
    autoscaler = RevisionAutoscaler(make_spec(), now=0.0)
    for second in range(100):
        autoscaler.record_scraped(Stat(average_concurrent_requests=float(second)), float(second))
    autoscaler.update(make_spec(window="10s"), now=99.0)
    assert autoscaler.metrics.concurrency_stable.size == 10
    assert autoscaler.metrics.concurrency_panic.size == 1
    decision = autoscaler.tick(99.0, 100)
    assert decision is not None
    assert decision.stable_value == pytest.approx(sum(range(90, 100)) / 10)
    assert decision.panic_value == 99.0


def test_update_to_another_algorithm_starts_afresh() -> None:
    autoscaler = RevisionAutoscaler(make_spec(), now=0.0)
    autoscaler.record_scraped(Stat(average_concurrent_requests=5.0), 0.0)
    autoscaler.update(make_spec(metric_aggregation_algorithm="weighted-exponential"), now=0.0)
    assert autoscaler.tick(0.0, 1) is None


def test_update_to_tbc_minus_one_stops_waiting_for_scrapes() -> None:
    autoscaler = RevisionAutoscaler(make_spec(), now=0.0)
    assert autoscaler.tick(10.0, 0) is None
    autoscaler.update(make_spec(target_burst_capacity="-1"), now=10.0)
    decision = autoscaler.tick(10.0, 0)
    assert decision is not None and decision.desired == 0
