"""Stat frames, the JSON API and Prometheus metrics, called directly (no sockets)."""

from __future__ import annotations

import orjson
import pytest
from aiohttp.test_utils import make_mocked_request

from dataplane.autoscaler.api import AutoscalerApi, build_app
from dataplane.autoscaler.service import AutoscalerService
from dataplane.autoscaler.statserver import StatServer, decode_json_messages
from dataplane.directory import PodInfo, RevisionInfo
from dataplane.stats import wire
from dataplane.stats.wire import Stat

START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


async def never_fetch(address: str) -> Stat:
    raise AssertionError(f"no scraping expected, asked {address}")


def service_with(*infos: RevisionInfo) -> tuple[AutoscalerService, Clock]:
    clock = Clock()
    service = AutoscalerService(None, {"stable-window": "6s"}, clock=clock, fetch=never_fetch)
    service.apply(infos)
    return service, clock


def info(name: str, ready: int = 0, annotations: dict | None = None) -> RevisionInfo:
    pods = tuple(PodInfo(f"{name}-{i}", f"127.0.0.1:{9000 + i}", True, f"127.0.0.1:{9100 + i}", START - 600) for i in range(ready))
    return RevisionInfo("default", name, container_concurrency=1, annotations=annotations or {}, pods=pods)


def frame(*messages: tuple[str, str, float]) -> bytes:
    return wire.encode_messages(
        wire.WireStatMessage(ns, name, wire.Stat(pod_name="activator", average_concurrent_requests=c, request_count=1.0))
        for ns, name, c in messages
    )


def test_binary_frame_records_each_known_revision():
    service, _ = service_with(info("a"), info("b"))
    server = StatServer(service)
    assert server.receive(frame(("default", "a", 1.0), ("default", "b", 2.0), ("default", "ghost", 1.0)), binary=True) == 2
    assert (service.stats.received, service.stats.unknown) == (2, 1)
    # a revision without pods and traffic waiting decides at once
    assert service.status("default", "a").desired >= 1
    assert service.status("default", "b").desired >= 1


def test_json_text_frame_uses_proto3_json_names():
    service, _ = service_with(info("a"))
    server = StatServer(service)
    text = orjson.dumps(
        {"messages": [{"namespace": "default", "name": "a", "stat": {"podName": "tool", "averageConcurrentRequests": 3, "requestCount": "2"}}]}
    ).decode()
    assert server.receive(text, binary=False) == 1
    assert service.status("default", "a").desired == 5  # ceil(3 / 0.7)


def test_undecodable_frames_are_counted_and_ignored():
    service, _ = service_with(info("a"))
    server = StatServer(service)
    assert server.receive(b"\x0a\xff", binary=True) == 0
    assert server.receive("{not json", binary=False) == 0
    assert server.receive('{"messages": [{"name": "a", "stat": {"bogus": 1}}]}', binary=False) == 0
    assert service.stats.rejected_frames == 3


@pytest.mark.parametrize(
    "text, problem",
    [
        ("[]", "must be a JSON object"),
        ('{"messages": {}}', "must be a list"),
        ('{"messages": [1]}', "messages[0]: must be an object"),
        ('{"messages": [{"name": 3}]}', "must be strings"),
        ('{"messages": [{"stat": []}]}', "stat: must be an object"),
    ],
)
def test_json_messages_errors_name_the_problem(text, problem):
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        decode_json_messages(text)


def test_json_message_without_stat_records_nothing():
    service, _ = service_with(info("a"))
    assert StatServer(service).receive('{"messages": [{"namespace": "default", "name": "a"}]}', binary=False) == 0
    assert decode_json_messages("{}") == []


async def test_revision_endpoint_returns_the_latest_decision():
    service, _ = service_with(info("a", ready=2))
    api = AutoscalerApi(service)
    response = await api.revision(make_mocked_request("GET", "/revisions/default/a", match_info={"namespace": "default", "name": "a"}))
    assert response.status == 200
    doc = orjson.loads(response.body)
    assert doc["name"] == "a" and doc["ready"] == 2
    for field in ("desired", "excessBurstCapacity", "panic", "stableConcurrency", "panicConcurrency", "target", "reason", "mode"):
        assert field in doc


async def test_unknown_revision_is_404_with_a_reason():
    service, _ = service_with(info("h", annotations={"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev"}))
    api = AutoscalerApi(service)
    missing = await api.revision(make_mocked_request("GET", "/", match_info={"namespace": "default", "name": "nope"}))
    assert missing.status == 404
    assert "not in the directory" in orjson.loads(missing.body)["error"]
    hpa = await api.revision(make_mocked_request("GET", "/", match_info={"namespace": "default", "name": "h"}))
    assert hpa.status == 404
    assert "hpa.autoscaling.knative.dev" in orjson.loads(hpa.body)["error"]


async def test_revisions_endpoint_lists_all():
    service, _ = service_with(info("b"), info("a"))
    response = await AutoscalerApi(service).revisions(make_mocked_request("GET", "/revisions"))
    assert [r["name"] for r in orjson.loads(response.body)["revisions"]] == ["a", "b"]


async def test_metrics_are_per_revision_and_gathered_at_scrape_time():
    service, clock = service_with(info("a", ready=1), info("q", ready=1, annotations={"autoscaling.knative.dev/metric": "rps"}))
    api = AutoscalerApi(service)
    clock.now += 1
    service.revisions[("default", "a")].autoscaler.record_scraped(Stat(average_concurrent_requests=3.5), clock.now)
    service.tick()
    text = (await api.metrics(make_mocked_request("GET", "/metrics"))).body.decode()
    labels = 'configuration_name="",namespace_name="default",revision_name="a",service_name=""'
    assert f"autoscaler_desired_pods{{{labels}}} 5.0" in text
    assert f"autoscaler_stable_request_concurrency{{{labels}}} 3.5" in text
    assert f"autoscaler_target_concurrency_per_pod{{{labels}}} 0.7" in text
    assert f"autoscaler_panic_mode{{{labels}}} 1.0" in text
    assert f"autoscaler_scrape_latencies_count{{{labels}}} 0.0" in text
    assert f"autoscaler_scrape_error_count{{{labels}}} 0.0" in text
    q = 'configuration_name="",namespace_name="default",revision_name="q",service_name=""'
    assert f"autoscaler_target_requests_per_second{{{q}}} 140.0" in text
    assert f"autoscaler_target_requests_per_second{{{labels}}}" not in text
    clock.now += 2
    service.revisions[("default", "a")].autoscaler.record_scraped(Stat(average_concurrent_requests=0.0), clock.now)
    service.apply([info("q", ready=1, annotations={"autoscaling.knative.dev/metric": "rps"})])
    later = (await api.metrics(make_mocked_request("GET", "/metrics"))).body.decode()
    assert labels not in later


async def test_plain_get_on_the_stat_path_is_a_probe():
    service, _ = service_with()
    response = await StatServer(service).handle(make_mocked_request("GET", "/"))
    assert response.status == 200


def test_app_routes():
    service, _ = service_with()
    paths = {r.resource.canonical for r in build_app(service).router.routes()}
    assert {"/", "/stats", "/revisions", "/revisions/{namespace}/{name}", "/healthz", "/metrics"} <= paths


def test_event_frames_go_to_the_listener_and_record_no_stats():
    service, _ = service_with(info("a"))
    heard: list[list[dict]] = []
    server = StatServer(service, heard.append)
    good = {"type": "coldStart", "namespace": "default", "name": "a", "waitSeconds": 1.5, "requests": 1}
    text = orjson.dumps({"events": [good, {"type": 1, "namespace": "default", "name": "a"}, "junk", {"type": "shed"}]}).decode()
    assert server.receive(text, binary=False) == 0
    assert heard == [[good]]  # malformed entries are dropped, the well-formed one kept
    assert (service.stats.received, service.stats.rejected_frames) == (0, 0)
    assert server.receive('{"events": "not a list"}', binary=False) == 0
    assert server.receive('{"events": [', binary=False) == 0  # not JSON: counted as rejected, nothing heard
    assert heard == [[good]] and service.stats.rejected_frames == 1


def test_event_frames_without_a_listener_are_ignored():
    service, _ = service_with(info("a"))
    server = StatServer(service)
    assert server.receive('{"events": [{"type": "shed", "namespace": "default", "name": "a", "requests": 2}]}', binary=False) == 0
    assert service.stats.rejected_frames == 0

