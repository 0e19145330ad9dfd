"""Tracing through a real queue-proxy into an in-process OTLP/HTTP receiver: W3C and B3 in, one span
per hop with the right parents, W3C and B3 out to the app; nothing at all when tracing is off."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import aiohttp
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

from tests.support import start_pod

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


class Receiver:
    """An OTLP/HTTP collector on loopback: keeps every span posted to /v1/traces."""

    def __init__(self):
        self.spans: list = []
        self.resources: list = []
        self.bad: list[str] = []

    async def traces(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-protobuf":
            self.bad.append(request.content_type)
            return web.Response(status=415)
        message = ExportTraceServiceRequest.FromString(await request.read())
        for resource_spans in message.resource_spans:
            attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self.resources.append(attrs)
                    self.spans.append(span)
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf")

    async def wait_for(self, trace_id: str, names: set[str], timeout: float = 10.0) -> dict:
        """The spans of ``trace_id`` by name, once all of ``names`` are in."""
        deadline = time.monotonic() + timeout
        while True:
            found = {s.name: s for s in self.spans if s.trace_id.hex() == trace_id}
            if names <= found.keys():
                return found
            assert time.monotonic() < deadline, f"spans {sorted(found)} of {trace_id}, wanted {sorted(names)}"
            await asyncio.sleep(0.05)


@pytest.fixture
async def receiver():
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/v1/traces", rec.traces)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1/traces"
    yield rec
    await runner.cleanup()
    assert rec.bad == []


@pytest.fixture
def pods():
    started = []

    def start(**env: str):
        pod = start_pod(**env)
        started.append(pod)
        return pod

    yield start
    for pod in reversed(started):
        pod.stop()


def traced(receiver: Receiver, **env: str) -> dict[str, str]:
    # batches leave every 50 ms so the test need not wait Knative's default 5 s; loopback never via a proxy
    return {"TRACING_PROTOCOL": "http/protobuf", "TRACING_ENDPOINT": receiver.url, "TRACING_SAMPLING_RATE": "1",
            "OTEL_BSP_SCHEDULE_DELAY": "50", "NO_PROXY": "127.0.0.1", **env}  # fmt: skip


async def echo(url: str, headers: dict[str, str]) -> dict[str, str]:
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/echo", headers=headers) as r:
            assert r.status == 200
            seen = await r.json()
    return {k.lower(): v for k, v in seen["headers"]}


async def test_w3c_parent_span_per_hop_and_the_app_sees_its_parent(receiver, pods):
    pod = pods(**traced(receiver))
    got = await echo(pod.url, {"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01", "tracestate": "vendor=abc"})
    spans = await receiver.wait_for(TRACE_ID, {"queue_proxy", "app"})
    qp, app = spans["queue_proxy"], spans["app"]
    assert qp.parent_span_id.hex() == CLIENT_SPAN
    assert app.parent_span_id == qp.span_id
    assert "queue_wait" not in spans  # containerConcurrency 0: no breaker
    assert got["traceparent"] == f"00-{TRACE_ID}-{qp.span_id.hex()}-01"
    assert got["tracestate"] == "vendor=abc"
    assert (got["x-b3-traceid"], got["x-b3-spanid"], got["x-b3-sampled"]) == (TRACE_ID, qp.span_id.hex(), "1")
    attrs = {a.key: (a.value.string_value or a.value.int_value) for a in qp.attributes}
    assert attrs["http.request.method"] == "GET" and attrs["url.path"] == "/echo"
    assert attrs["http.response.status_code"] == 200 and attrs["http.request.id"] == got["x-request-id"]
    assert qp.start_time_unix_nano <= app.start_time_unix_nano <= app.end_time_unix_nano <= qp.end_time_unix_nano
    resource = receiver.resources[receiver.spans.index(qp)]
    assert resource["service.name"] == "queue-proxy" and resource["kn.revision.name"] == "hello-00001"


@pytest.mark.parametrize(
    "headers",
    [{"b3": f"{TRACE_ID}-{CLIENT_SPAN}-1"},
     {"X-B3-TraceId": TRACE_ID, "X-B3-SpanId": CLIENT_SPAN, "X-B3-Sampled": "1", "X-B3-ParentSpanId": "1111111111111111"}],
)  # fmt: skip
async def test_b3_single_and_multi_are_read_and_replaced(receiver, pods, headers):
    pod = pods(**traced(receiver))
    got = await echo(pod.url, headers)
    qp = (await receiver.wait_for(TRACE_ID, {"queue_proxy"}))["queue_proxy"]
    assert qp.parent_span_id.hex() == CLIENT_SPAN
    assert got["traceparent"] == f"00-{TRACE_ID}-{qp.span_id.hex()}-01"
    assert got["x-b3-spanid"] == qp.span_id.hex()
    # the client's B3 headers never reach the app beside ours
    assert "b3" not in got and "x-b3-parentspanid" not in got


async def test_w3c_wins_over_b3_and_a_request_without_context_starts_a_trace(receiver, pods):
    pod = pods(**traced(receiver))
    got = await echo(pod.url, {"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01", "b3": f"{'1' * 32}-{'2' * 16}-1"})
    assert got["traceparent"].split("-")[1] == TRACE_ID
    fresh = await echo(pod.url, {})
    trace_id, parent = fresh["traceparent"].split("-")[1:3]
    spans = await receiver.wait_for(trace_id, {"queue_proxy", "app"})
    assert spans["queue_proxy"].span_id.hex() == parent and spans["queue_proxy"].parent_span_id == b""


async def test_the_breaker_wait_is_a_span(receiver, pods):
    pod = pods(**traced(receiver, CONTAINER_CONCURRENCY="1"))
    other = "0af7651916cd43dd8448eb211c80319c"
    async with aiohttp.ClientSession() as s:

        async def get(path: str, trace_id: str):
            async with s.get(pod.url + path, headers={"traceparent": f"00-{trace_id}-{CLIENT_SPAN}-01"}) as r:
                assert r.status == 200
                await r.read()

        first = asyncio.ensure_future(get("/order?id=1&ms=300", other))
        await asyncio.sleep(0.1)  # the first holds the only slot
        await get("/echo", TRACE_ID)
        await first
    spans = await receiver.wait_for(TRACE_ID, {"queue_proxy", "queue_wait", "app"})
    wait, app = spans["queue_wait"], spans["app"]
    assert wait.parent_span_id == spans["queue_proxy"].span_id
    assert wait.end_time_unix_nano - wait.start_time_unix_nano > 50_000_000  # it waited for the first
    assert wait.end_time_unix_nano <= app.start_time_unix_nano
    assert "queue_wait" not in await receiver.wait_for(other, {"queue_proxy", "app"})


async def test_sampling_zero_exports_nothing_and_passes_the_decision_on(receiver, pods):
    pod = pods(**traced(receiver, TRACING_SAMPLING_RATE="0"))
    got = await echo(pod.url, {"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"})
    assert got["traceparent"].startswith(f"00-{TRACE_ID}-") and got["traceparent"].endswith("-00")
    await asyncio.sleep(0.5)
    assert receiver.spans == []


async def test_off_by_default_the_app_gets_the_client_headers_unchanged(pods):
    pod = pods()
    sent = {"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01", "tracestate": "vendor=abc", "b3": f"{TRACE_ID}-{CLIENT_SPAN}-1"}
    got = await echo(pod.url, sent)
    assert {k: got[k] for k in sent} == sent


POLICY_PROBE = """
import asyncio, sys
from dataplane.queueproxy.readiness import Readiness
from dataplane.queueproxy.settings import from_env
from dataplane.queueproxy.sidecar import make_policy
settings = from_env()
policy = make_policy(asyncio.new_event_loop(), settings, Readiness(settings.probes))
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry") or m in ("dataplane.tracing", "dataplane.queueproxy.traced"))
print(type(policy).__name__, len(loaded), "dataplane.tracing" in loaded)
policy.close()
"""


@pytest.mark.parametrize(("tracing", "answer"), [(False, "QueueProxyPolicy 0 False"), (True, "TracedQueueProxyPolicy")])
def test_the_sdk_is_loaded_only_with_tracing_on(tracing, answer):
    from tests.support import queue_proxy_env

    _, env = queue_proxy_env(1)
    if tracing:
        env.update(TRACING_PROTOCOL="http/protobuf", TRACING_ENDPOINT="http://127.0.0.1:9/v1/traces")
    out = subprocess.run([sys.executable, "-c", POLICY_PROBE], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(answer)
    if tracing:
        assert out.stdout.split()[2] == "True" and int(out.stdout.split()[1]) > 5


async def test_activator_then_queue_proxy_one_trace(receiver, monkeypatch):
    from tests.integration.test_activator import NS, Rig, revision

    # the activator inherits this process's environment
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    rig = Rig()
    try:
        await rig.start("--tracing-protocol", "http/protobuf", "--tracing-endpoint", receiver.url, "--tracing-sampling-rate", "1")
        pod = await rig.pod(**traced(receiver))
        rig.directory.publish([revision("hello-00001", [pod])])
        await rig.settle()
        headers = {"Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS, "b3": f"{TRACE_ID}-{CLIENT_SPAN}-1"}
        got = await echo(rig.url, headers)
        spans = await receiver.wait_for(TRACE_ID, {"activator", "pod", "queue_proxy", "app"})
    finally:
        await rig.stop()
    act, hop, qp = spans["activator"], spans["pod"], spans["queue_proxy"]
    assert act.parent_span_id.hex() == CLIENT_SPAN
    assert hop.parent_span_id == act.span_id and qp.parent_span_id == act.span_id
    assert spans["app"].parent_span_id == qp.span_id
    assert got["traceparent"] == f"00-{TRACE_ID}-{qp.span_id.hex()}-01"
    if "throttler_wait" in spans:  # the pod's first probe may still have been running
        assert spans["throttler_wait"].parent_span_id == act.span_id
        assert spans["throttler_wait"].end_time_unix_nano <= hop.start_time_unix_nano
    assert receiver.resources[receiver.spans.index(act)]["service.name"] == "activator"


def test_the_activator_off_loads_no_sdk():
    code = (
        "import asyncio, sys, argparse\n"
        "from dataplane.cmd.activator import add_arguments, settings_from, make_policy\n"
        "p = argparse.ArgumentParser(); add_arguments(p)\n"
        "s = settings_from(p.parse_args(['--directory', 'http://127.0.0.1:1/']))\n"
        "policy = make_policy(asyncio.new_event_loop(), None, None, s)\n"
        "print(type(policy).__name__, [m for m in sys.modules if m.startswith('opentelemetry') or m.endswith('.traced') or m == 'dataplane.tracing'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACING_")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ActivatorPolicy []"


async def test_http2_requests_are_traced_too(receiver, pods):
    from tests.integration.test_h2_socket import run

    pod = pods(**traced(receiver))
    rc, out = await run("curl", "-sS", "--http2-prior-knowledge", "-H", f"traceparent: 00-{TRACE_ID}-{CLIENT_SPAN}-01", f"{pod.url}/echo")
    assert rc == 0, out
    got = {k.lower(): v for k, v in json.loads(out)["headers"]}
    spans = await receiver.wait_for(TRACE_ID, {"queue_proxy", "app"})
    assert spans["queue_proxy"].parent_span_id.hex() == CLIENT_SPAN
    assert got["traceparent"] == f"00-{TRACE_ID}-{spans['queue_proxy'].span_id.hex()}-01"
