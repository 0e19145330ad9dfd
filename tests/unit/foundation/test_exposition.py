"""The metrics renderer: Knative's two dialects, OpenTelemetry's Prometheus name mapping, safe label values."""

from __future__ import annotations

import pytest

from dataplane.dialects import sum_in_flight
from dataplane.exposition import COUNTER, GAUGE, HISTOGRAM, Instrument, Sheet, otel_name, status_class


@pytest.mark.parametrize(
    ("name", "unit", "kind", "exported"),
    [
        # knative.dev/serving pkg/queue and pkg/autoscaler instruments, as otlptranslator's
        # UnderscoreEscapingWithSuffixes (knative.dev/pkg observability/metrics/prometheus_enabled.go) names them
        ("kn.serving.invocation.duration", "s", HISTOGRAM, "kn_serving_invocation_duration_seconds"),
        ("http.server.request.duration", "s", HISTOGRAM, "http_server_request_duration_seconds"),
        ("kn.serving.queue.depth", "{request}", GAUGE, "kn_serving_queue_depth"),
        ("kn.revision.pods.desired", "{item}", GAUGE, "kn_revision_pods_desired"),
        ("kn.revision.pods.not_ready.count", "{pod}", GAUGE, "kn_revision_pods_not_ready_count"),
        ("kn.revision.rps.stable", "{request}/s", GAUGE, "kn_revision_rps_stable_per_second"),
        ("kn.revision.panic.mode", "", GAUGE, "kn_revision_panic_mode"),
        ("kn.activator.requests.shed", "{request}", COUNTER, "kn_activator_requests_shed_total"),
        ("process.cpu.utilization", "1", GAUGE, "process_cpu_utilization_ratio"),
        ("already.seconds", "s", GAUGE, "already_seconds"),
    ],
)
def test_opentelemetry_names(name, unit, kind, exported):
    assert otel_name(name, unit, kind) == exported


COUNT = Instrument("revision_request_count", "kn.serving.requests", COUNTER, "{request}", "Requests")
LATENCY = Instrument("revision_request_latencies", "http.server.request.duration", HISTOGRAM, "s", "Latency")
ONLY_OC = Instrument("revision_app_request_count", None, COUNTER, "{request}", "App requests")


def test_opencensus_counters_keep_their_name_and_histograms_are_milliseconds():
    sheet = Sheet("opencensus")
    labels = {"namespace": "default", "revision": "r-1", "code": 200, "code_class": status_class(200)}
    sheet.add(COUNT, labels, 3)
    sheet.add(ONLY_OC, labels, 2)
    sheet.observe(LATENCY, {"revision": "r-1"}, (0.005, 0.25), [1, 2, 4], 1.5)
    assert sheet.render().decode().splitlines() == [
        "# HELP revision_request_count Requests",
        "# TYPE revision_request_count counter",
        'revision_request_count{namespace_name="default",response_code="200",response_code_class="2xx",revision_name="r-1"} 3.0',
        "# HELP revision_app_request_count App requests",
        "# TYPE revision_app_request_count counter",
        'revision_app_request_count{namespace_name="default",response_code="200",response_code_class="2xx",revision_name="r-1"} 2.0',
        "# HELP revision_request_latencies Latency",
        "# TYPE revision_request_latencies histogram",
        'revision_request_latencies_bucket{revision_name="r-1",le="5.0"} 1.0',
        'revision_request_latencies_bucket{revision_name="r-1",le="250.0"} 3.0',
        'revision_request_latencies_bucket{revision_name="r-1",le="+Inf"} 7.0',
        'revision_request_latencies_sum{revision_name="r-1"} 1500.0',
        'revision_request_latencies_count{revision_name="r-1"} 7.0',
    ]


def test_opentelemetry_counters_end_in_total_histograms_are_seconds_and_attributes_are_escaped():
    sheet = Sheet("opentelemetry")
    labels = {"namespace": "default", "revision": "r-1", "code": 503, "code_class": "5xx"}
    sheet.add(COUNT, labels, 3)
    sheet.add(ONLY_OC, labels, 2)  # not in this dialect
    sheet.observe(LATENCY, {"revision": "r-1"}, (0.005, 0.25), [1, 2, 4], 1.5)
    assert sheet.render().decode().splitlines() == [
        "# HELP kn_serving_requests_total Requests",
        "# TYPE kn_serving_requests_total counter",
        'kn_serving_requests_total{http_response_status_code="503",k8s_namespace_name="default",kn_revision_name="r-1"} 3.0',
        "# HELP http_server_request_duration_seconds Latency",
        "# TYPE http_server_request_duration_seconds histogram",
        'http_server_request_duration_seconds_bucket{kn_revision_name="r-1",le="0.005"} 1.0',
        'http_server_request_duration_seconds_bucket{kn_revision_name="r-1",le="0.25"} 3.0',
        'http_server_request_duration_seconds_bucket{kn_revision_name="r-1",le="+Inf"} 7.0',
        'http_server_request_duration_seconds_sum{kn_revision_name="r-1"} 1.5',
        'http_server_request_duration_seconds_count{kn_revision_name="r-1"} 7.0',
    ]


def test_a_label_value_cannot_forge_a_sample():
    # a name that reaches a label from outside (a service label, a pod name) is escaped, never a new line
    sheet = Sheet("opencensus")
    sheet.add(COUNT, {"service": 'x"} 1\nrevision_in_flight_requests{a="b', "code": 200}, 1)
    lines = sheet.render().decode().splitlines()
    assert len(lines) == 3
    assert lines[2] == 'revision_request_count{response_code="200",service_name="x\\"} 1\\nrevision_in_flight_requests{a=\\"b"} 1.0'
    assert sum_in_flight(sheet.render().decode()) is None


def test_an_unknown_dialect_is_refused():
    with pytest.raises(ValueError, match="unknown metrics dialect"):
        Sheet("prometheus")


def test_in_flight_is_read_under_either_dialect():
    assert sum_in_flight('revision_in_flight_requests{pod_name="a"} 2.0\nrevision_in_flight_requests{pod_name="b"} 1.0\n') == 3.0
    assert sum_in_flight('http_server_active_requests{k8s_pod_name="a"} 4.0\n') == 4.0
    assert sum_in_flight("revision_in_flight_requests_total 9\nrevision_queue_depth 1\n") is None
