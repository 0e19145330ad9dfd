"""Every component run for real under each metrics dialect: each metric's name and label set, as scraped.

The tables below are the contract (README "Metrics" lists the same names with their Knative sources):
the OpenCensus names Knative exported before 1.19, and its OpenTelemetry instruments under the
OpenTelemetry Prometheus exporter's mapping, plus this data plane's own metrics named in each style.
"""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest

from dataplane.stats.wire import Stat, WireStatMessage, encode_messages
from tests.integration.fakes import DirectoryServer, StatSink
from tests.support import Proc, dataplane_cmd, free_port, start_pod

NS, CONFIGURATION, SERVICE, REVISION, RPS_REVISION = "default", "hello", "hello-svc", "hello-00001", "hello-rps-00001"

OC_REVISION = {"namespace_name", "service_name", "configuration_name", "revision_name"}
OTEL_REVISION = {"k8s_namespace_name", "kn_service_name", "kn_configuration_name", "kn_revision_name"}
OC_POD = OC_REVISION | {"pod_name", "container_name"}
OTEL_POD = OTEL_REVISION | {"k8s_pod_name", "k8s_container_name"}
OC_CODE = {"response_code", "response_code_class"}
OTEL_CODE = {"http_response_status_code"}

# (OpenCensus name, OpenTelemetry name, histogram?, code labels?)
QUEUE_PROXY = [
    ("revision_request_count", "kn_serving_requests_total", False, True),
    ("revision_request_latencies", "http_server_request_duration_seconds", True, False),
    ("revision_app_request_count", None, False, True),
    ("revision_app_request_latencies", "kn_serving_invocation_duration_seconds", True, False),
    ("revision_queue_depth", "kn_serving_queue_depth", False, False),
    ("revision_in_flight_requests", "http_server_active_requests", False, False),
    ("revision_queue_waiting_requests", "kn_serving_queue_waiting", False, False),
    ("revision_request_rejected_count", "kn_serving_request_rejected_total", False, False),
    ("revision_request_shed_count", "kn_serving_request_shed_total", False, False),
    ("revision_request_timeout_count", "kn_serving_request_timeouts_total", False, False),
    ("revision_app_error_count", "kn_serving_app_errors_total", False, False),
    ("revision_request_aborted_count", "kn_serving_request_aborted_total", False, False),
]
ACTIVATOR = [
    ("activator_request_count", "kn_activator_requests_total", False, True),
    ("activator_request_latencies", "http_server_request_duration_seconds", True, False),
    ("activator_request_concurrency", "kn_revision_request_concurrency", False, False),
    ("activator_queued_requests", "kn_revision_request_queued", False, False),
    ("activator_in_flight_requests", "kn_revision_request_active", False, False),
    ("activator_capacity", "kn_activator_capacity", False, False),
    ("activator_ready_pods", "kn_activator_pods_ready", False, False),
    ("activator_shed_request_count", "kn_activator_requests_shed_total", False, False),
    ("activator_request_timeout_count", "kn_activator_requests_timeouts_total", False, False),
    ("activator_upstream_error_count", "kn_activator_requests_upstream_errors_total", False, False),
    ("activator_request_aborted_count", "kn_activator_requests_aborted_total", False, False),
    ("activator_capacity_wait_latencies", "kn_activator_capacity_wait_duration_seconds", True, False),
    ("activator_cold_start_latencies", "kn_activator_cold_start_duration_seconds", True, False),
]
AUTOSCALER = [
    ("autoscaler_desired_pods", "kn_revision_pods_desired", False, False),
    ("autoscaler_requested_pods", "kn_revision_pods_requested", False, False),
    ("autoscaler_actual_pods", "kn_revision_pods_count", False, False),
    ("autoscaler_not_ready_pods", "kn_revision_pods_not_ready_count", False, False),
    ("autoscaler_excess_burst_capacity", "kn_revision_capacity_excess", False, False),
    ("autoscaler_panic_mode", "kn_revision_panic_mode", False, False),
    ("autoscaler_stable_request_concurrency", "kn_revision_concurrency_stable", False, False),
    ("autoscaler_panic_request_concurrency", "kn_revision_concurrency_panic", False, False),
    ("autoscaler_target_concurrency_per_pod", "kn_revision_concurrency_target", False, False),
    ("autoscaler_stable_requests_per_second", "kn_revision_rps_stable_per_second", False, False),
    ("autoscaler_panic_requests_per_second", "kn_revision_rps_panic_per_second", False, False),
    ("autoscaler_target_requests_per_second", "kn_revision_rps_target_per_second", False, False),
    ("autoscaler_scrape_latencies", "kn_autoscaler_scrape_duration_seconds", True, False),
    ("autoscaler_scrape_error_count", "kn_autoscaler_scrape_errors_total", False, False),
]
AUTOSCALER_UNLABELLED = [
    ("autoscaler_stats_received_count", "kn_autoscaler_stats_received_total"),
    ("autoscaler_stats_unknown_revision_count", "kn_autoscaler_stats_unknown_revision_total"),
    ("autoscaler_stat_frames_rejected_count", "kn_autoscaler_stats_frames_rejected_total"),
]
# the names the issue lists, which dashboards and alerts in use read
KNATIVE_OPENCENSUS = {
    "revision_request_count", "revision_request_latencies_bucket", "revision_app_request_count",
    "revision_app_request_latencies_bucket", "revision_queue_depth", "activator_request_count",
    "activator_request_latencies_bucket", "activator_request_concurrency", "autoscaler_desired_pods", "autoscaler_requested_pods", "autoscaler_actual_pods",
    "autoscaler_panic_mode", "autoscaler_stable_request_concurrency", "autoscaler_panic_request_concurrency",
    "autoscaler_target_concurrency_per_pod", "autoscaler_excess_burst_capacity",
}  # fmt: skip
KNATIVE_OPENTELEMETRY = {
    "kn_serving_queue_depth", "kn_serving_invocation_duration_seconds_bucket", "http_server_request_duration_seconds_bucket",
    "kn_revision_request_concurrency", "kn_revision_pods_desired", "kn_revision_pods_requested", "kn_revision_pods_count",
    "kn_revision_panic_mode", "kn_revision_concurrency_stable", "kn_revision_concurrency_panic",
    "kn_revision_concurrency_target", "kn_revision_capacity_excess", "kn_autoscaler_scrape_duration_seconds_bucket",
}  # fmt: skip


def expected(table, dialect: str, base: set[str]) -> dict[str, set[frozenset]]:
    oc = dialect == "opencensus"
    code = OC_CODE if oc else OTEL_CODE
    out: dict[str, set[frozenset]] = {}
    for oc_name, otel_name, histogram, by_code in table:
        name = oc_name if oc else otel_name  # None: not in this dialect
        if name is None:
            continue
        labels = frozenset(base | code) if by_code else frozenset(base)
        if histogram:
            out[name + "_bucket"] = {labels | {"le"}}
            out[name + "_sum"] = out[name + "_count"] = {labels}
        else:
            out[name] = {labels}
    return out


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def label_sets(text: str) -> tuple[dict[str, set[frozenset]], dict[str, dict]]:
    """Each sample name's label-name sets, and one sample's label values per name."""
    sets: dict[str, set[frozenset]] = {}
    values: dict[str, dict] = {}
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = dict(_LABEL.findall(m.group(2) or ""))
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name}: no # TYPE line for it"
        sets.setdefault(name, set()).add(frozenset(labels))
        values.setdefault(name, labels)
    return sets, values


async def get_text(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return await resp.text()


async def wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.1)


def revision_doc(pods, name: str = REVISION, annotations: dict | None = None) -> dict:
    return {
        "namespace": NS,
        "name": name,
        "configuration": CONFIGURATION,
        "service": SERVICE,
        "containerConcurrency": 2,
        "timeoutSeconds": 30,
        "annotations": annotations or {},
        "pods": [
            {"name": f"{name}-pod-{i}", "address": p.address, "statsAddress": f"127.0.0.1:{p.ports['stats']}",
             "ready": True, "startedAt": time.time() - 3600}
            for i, p in enumerate(pods)
        ],
    }  # fmt: skip


@pytest.fixture
async def platform():
    """A directory, a stat sink and whatever processes a test starts, all stopped after it."""
    directory, sink = DirectoryServer(), StatSink()
    await directory.start()
    await sink.start()
    started: list = []
    yield directory, sink, started
    for thing in reversed(started):
        thing.stop()
    await directory.stop()
    await sink.stop()


@pytest.mark.parametrize("dialect", ["opencensus", "opentelemetry"])
async def test_every_component_serves_every_name_with_its_labels(platform, dialect):
    directory, sink, started = platform
    oc = dialect == "opencensus"
    # the default needs no setting at all: opencensus is what a component serves when told nothing
    dialect_env = {} if oc else {"METRICS_DIALECT": dialect}
    dialect_flag = () if oc else ("--metrics-dialect", dialect)
    pod = await asyncio.to_thread(start_pod, CONTAINER_CONCURRENCY="2", SERVING_SERVICE=SERVICE, **dialect_env)
    started.append(pod)
    port, metrics_port = free_port(), free_port()
    activator = await asyncio.to_thread(Proc, dataplane_cmd(
        "activator", "--bind", "127.0.0.1", "--port", str(port), "--metrics-port", str(metrics_port),
        "--directory", directory.url, "--autoscaler", sink.url, "--pod-name", "activator-test", "--drain-delay", "0",
        "--trust-revision-headers", *dialect_flag,
    ), None, port)  # fmt: skip
    started.append(activator)
    autoscaler_port = free_port()
    autoscaler = await asyncio.to_thread(Proc, dataplane_cmd(
        "autoscaler", "--bind", "127.0.0.1", "--port", str(autoscaler_port), "--directory", directory.url, *dialect_flag,
    ), None, autoscaler_port)  # fmt: skip
    started.append(autoscaler)
    rps = revision_doc([], RPS_REVISION, {"autoscaling.knative.dev/metric": "rps"})
    headers = {"Knative-Serving-Revision": REVISION, "Knative-Serving-Namespace": NS}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        # a cold start: a request waits while the revision has no pod, then its pod appears
        directory.publish([revision_doc([]), rps])
        await asyncio.sleep(0.3)
        waiting = asyncio.ensure_future(s.get(f"http://127.0.0.1:{port}/", headers=headers))
        await asyncio.sleep(0.3)
        directory.publish([revision_doc([pod]), rps])
        async with await waiting as resp:
            assert resp.status == 200
        for path in ("/", "/status?code=404"):
            async with s.get(f"http://127.0.0.1:{port}{path}", headers=headers) as resp:
                await resp.read()

        qp_text = await get_text(s, f"http://127.0.0.1:{pod.ports['metrics']}/metrics")
        activator_text = await get_text(s, f"http://127.0.0.1:{metrics_port}/metrics")

        requested = "autoscaler_requested_pods{" if oc else "kn_revision_pods_requested{"
        target_rps = "autoscaler_target_requests_per_second{" if oc else "kn_revision_rps_target_per_second{"

        async with s.ws_connect(f"ws://127.0.0.1:{autoscaler_port}/stats") as ws:
            # pushed stats, as an activator sends them: both revisions get a decision with replicas

            async def decided() -> str | None:
                stat = Stat(pod_name="activator-test", average_concurrent_requests=1.0, request_count=1.0)
                await ws.send_bytes(encode_messages([WireStatMessage(NS, r, stat) for r in (REVISION, RPS_REVISION)]))
                text = await get_text(s, f"http://127.0.0.1:{autoscaler_port}/metrics")
                return text if text.count(requested) == 2 and target_rps in text else None

            autoscaler_text = await wait_for(decided)
        assert autoscaler_text, "the autoscaler never decided for both revisions"

    pod_base, revision_base = (OC_POD, OC_REVISION) if oc else (OTEL_POD, OTEL_REVISION)
    for text, table, base in ((qp_text, QUEUE_PROXY, pod_base), (activator_text, ACTIVATOR, pod_base), (autoscaler_text, AUTOSCALER, revision_base)):
        served, _ = label_sets(text)
        want = expected(table, dialect, base)
        if table is AUTOSCALER:
            for oc_name, otel_name in AUTOSCALER_UNLABELLED:
                want[oc_name if oc else otel_name] = {frozenset()}
        assert served == want
    every = set(label_sets(qp_text)[0]) | set(label_sets(activator_text)[0]) | set(label_sets(autoscaler_text)[0])
    assert (KNATIVE_OPENCENSUS if oc else KNATIVE_OPENTELEMETRY) <= every

    # the values behind the labels: this pod, its revision, its codes
    _, qp_values = label_sets(qp_text)
    count = "revision_request_count" if oc else "kn_serving_requests_total"
    revision_label, pod_label, container_label = ("revision_name", "pod_name", "container_name") if oc else ("kn_revision_name", "k8s_pod_name", "k8s_container_name")
    service_label = "service_name" if oc else "kn_service_name"
    sample = qp_values[count]
    assert (sample[revision_label], sample[pod_label], sample[container_label], sample[service_label]) == (REVISION, "hello-00001-pod", "queue-proxy", SERVICE)
    code = "response_code" if oc else "http_response_status_code"
    assert re.search(rf'{count}{{[^}}]*{code}="404"[^}}]*}} 1.0', qp_text)
    assert re.search(rf'{count}{{[^}}]*{code}="200"[^}}]*}} 2.0', qp_text)
    _, activator_values = label_sets(activator_text)
    sample = activator_values["activator_request_count" if oc else "kn_activator_requests_total"]
    assert (sample[revision_label], sample[pod_label], sample[container_label], sample[service_label]) == (REVISION, "activator-test", "activator", SERVICE)
    cold = "activator_cold_start_latencies_count" if oc else "kn_activator_cold_start_duration_seconds_count"
    assert re.search(rf"{cold}{{[^}}]*}} 1.0", activator_text)
    # OpenCensus histograms are milliseconds, OpenTelemetry's seconds
    bounds = {v["le"] for v in [dict(_LABEL.findall(line)) for line in qp_text.splitlines() if "_latencies_bucket{" in line or "request_duration_seconds_bucket{" in line]}
    assert ("5.0" in bounds and "10000.0" in bounds) if oc else ("0.005" in bounds and "10.0" in bounds)
