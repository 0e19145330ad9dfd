"""The console's time series: samples from the autoscaler's decisions and the activator's reports and events,
latency quantiles from queue-proxy histograms, on a fake clock."""

from __future__ import annotations

import math

import pytest

from dataplane.autoscaler.service import AutoscalerService
from dataplane.directory import RevisionInfo
from dataplane.platform.local.latency import parse_buckets, second_quantiles
from dataplane.platform.local.series import SeriesBook, quantile, sample_values
from dataplane.ports import free_port
from dataplane.stats.wire import Stat

KEY = ("default", "web-00001")
VALUES = {"rps": 1.0, "concurrency": 0.5, "stable": 0.2, "panic_window": 0.4, "target": 0.7,
          "desired": 1, "ready": 0, "panic": False, "p50": None, "p99": None}


def test_events_land_on_the_next_sample_of_their_revision_only():
    book = SeriesBook()
    book.note_events([
        {"type": "coldStart", "namespace": "default", "name": "web-00001", "waitSeconds": 0.8, "requests": 1},
        {"type": "coldStart", "namespace": "default", "name": "web-00001", "waitSeconds": 1.5, "requests": 3},
        {"type": "shed", "namespace": "default", "name": "web-00001", "requests": 4},
        {"type": "shed", "namespace": "default", "name": "web-00001", "requests": 2},
        {"type": "shed", "namespace": "default", "name": "other-00001", "requests": 9},
        {"type": "coldStart", "namespace": "default", "name": "web-00001", "waitSeconds": "soon"},  # not ours: ignored
        {"type": "newKind", "namespace": "default", "name": "web-00001"},
    ])
    first = book.record(10, KEY, VALUES)
    second = book.record(11, KEY, VALUES)
    assert (first.cold_start, first.shed) == (1.5, 6)  # the longest wait; every shed request
    assert (second.cold_start, second.shed) == (None, 0)
    assert book.record(11, ("default", "other-00001"), VALUES).shed == 9


def test_series_are_bounded_resampled_and_forgotten():
    book = SeriesBook(keep=3)
    for t in range(5):
        book.record(t, KEY, {**VALUES, "ready": t})
    assert [s["t"] for s in book.since(KEY, 0)] == [2, 3, 4]
    book.record(4, KEY, {**VALUES, "ready": 9})  # the same second again: the newer one holds
    assert [(s["t"], s["ready"]) for s in book.since(KEY, 3)] == [(4, 9)]
    assert book.since(("default", "never"), 0) is None
    book.note_events([{"type": "shed", "namespace": "default", "name": "gone-00001", "requests": 1}])
    book.retain([])
    assert book.since(KEY, 0) is None and book.record(5, ("default", "gone-00001"), VALUES).shed == 0


def test_sample_values_from_a_decision_and_a_report():
    service = AutoscalerService(clock=lambda: 1000.0)
    service.apply([RevisionInfo("default", "web-00001", container_concurrency=1)])
    outcome = service.status(*KEY)
    values = sample_values(outcome, (2.5, 4.0), (0.1, 0.9))
    assert values["rps"] == 4.0 and values["concurrency"] == 2.5 and values["target"] == outcome.target == 0.7
    assert (values["p50"], values["p99"]) == (0.1, 0.9)
    assert sample_values(None, (0.0, 0.0), (None, None))["desired"] == -1


def test_pushed_sums_the_senders_latest_recent_reports():
    clock = [1000.2]
    service = AutoscalerService(clock=lambda: clock[0])
    service.apply([RevisionInfo("default", "web-00001", container_concurrency=1)])
    service.record_pushed(*KEY, Stat(pod_name="a1", average_concurrent_requests=2.0, request_count=3.0))
    service.record_pushed(*KEY, Stat(pod_name="a2", average_concurrent_requests=1.0, request_count=1.0))
    assert service.pushed(*KEY, since=999) == (3.0, 4.0)
    clock[0] = 1001.5
    service.record_pushed(*KEY, Stat(pod_name="a1", average_concurrent_requests=0.5, request_count=1.0))
    assert service.pushed(*KEY, since=1001) == (0.5, 1.0)  # a2 said nothing since: its old report is not "now"
    assert service.pushed("default", "other", since=0) == (0.0, 0.0)


@pytest.mark.parametrize(("q", "counts", "expected"), [
    (0.5, [0, 0, 0], None),
    (0.5, [10, 0, 0], 0.05),  # all in the first bucket, [0, 0.1]: the middle
    (0.5, [0, 10, 0], 0.3),  # (0.1, 0.5]: the middle of it
    (0.99, [50, 49, 1], 0.5),  # past every bound: the last bound is all a histogram can say
    (0.99, [99, 1, 0], 0.1),
])  # fmt: skip
def test_quantile_interpolates_within_its_bucket(q, counts, expected):
    got = quantile(q, (0.1, 0.5), counts)
    assert got == expected if expected is None else got == pytest.approx(expected)


QP = """# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_bucket{configuration_name="web",le="0.1",pod_name="p"} %d.0
http_server_request_duration_seconds_bucket{configuration_name="web",le="0.5",pod_name="p"} %d.0
http_server_request_duration_seconds_bucket{configuration_name="web",le="+Inf",pod_name="p"} %d.0
http_server_request_duration_seconds_count{configuration_name="web",pod_name="p"} %d.0
kn_serving_invocation_duration_seconds_bucket{le="0.1"} 99.0
"""
# the same in OpenCensus's names, in milliseconds
QP_OPENCENSUS = """# TYPE revision_request_latencies histogram
revision_request_latencies_bucket{configuration_name="web",le="100",pod_name="p"} %d
revision_request_latencies_bucket{configuration_name="web",le="500",pod_name="p"} %d
revision_request_latencies_bucket{configuration_name="web",le="+Inf",pod_name="p"} %d
revision_request_latencies_count{configuration_name="web",pod_name="p"} %d
revision_app_request_latencies_bucket{le="100"} 99
"""


def test_both_dialects_give_the_same_buckets_in_seconds():
    assert parse_buckets(QP_OPENCENSUS % (1, 2, 2, 2)) == parse_buckets(QP % (1, 2, 2, 2)) == {0.1: 1.0, 0.5: 2.0, math.inf: 2.0}


def test_a_second_of_a_histogram_is_the_difference_of_two_reads():
    before = parse_buckets(QP % (1, 2, 2, 2))
    assert before == {0.1: 1.0, 0.5: 2.0, math.inf: 2.0}
    assert second_quantiles(None, before) == ((0.1, 0.5), [0, 0, 0])  # a first read is only the baseline
    now = parse_buckets(QP % (1, 12, 13, 13))
    assert second_quantiles(before, now) == ((0.1, 0.5), [0, 10, 1])
    restarted = parse_buckets(QP % (3, 3, 3, 3))  # counters went back: a new queue-proxy, all of it is new
    assert second_quantiles(now, restarted) == ((0.1, 0.5), [3, 0, 0])


async def test_latency_is_read_only_for_watched_revisions():
    from aiohttp import web

    from dataplane.platform.local.latency import WATCH_SECONDS, LatencyWatch

    counts = {"value": (1, 2, 2, 2)}
    reads = []

    async def metrics(_request):
        reads.append(1)
        return web.Response(text=QP % counts["value"])

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    address = f"127.0.0.1:{port}"
    watch = LatencyWatch()
    pods = [(KEY, "web-00001-pod", address), (("default", "other-00001"), "other-pod", address)]
    try:
        await watch.read(pods, 100.0)
        assert reads == [] and watch.latest(KEY) == (None, None)  # nobody looks: no pod is read
        watch.watch(KEY, 100.0)
        await watch.read(pods, 100.5)
        assert len(reads) == 1 and watch.latest(KEY) == (None, None)  # the baseline
        counts["value"] = (1, 12, 13, 13)  # ten requests in (0.1, 0.5], one past 0.5
        await watch.read(pods, 101.5)
        p50, p99 = watch.latest(KEY)
        assert p50 == pytest.approx(0.1 + 0.4 * (5.5 / 10)) and p99 == 0.5  # rank 5.5 of 11
        await watch.read(pods, 100.0 + WATCH_SECONDS + 1)  # no longer asked for: dropped, not read
        assert len(reads) == 2 and watch.latest(KEY) == (None, None)
    finally:
        await watch.close()
        await runner.cleanup()
