"""SERVING_READINESS_PROBE parsing: defaults, each handler, errors that name the field."""

from __future__ import annotations

import orjson
import pytest

from dataplane.queueproxy.probespec import (
    HTTPHeader,
    ProbeSpec,
    ProbeSpecError,
    default_probe,
    parse_readiness_probe,
)

USER_PORT = 8080


def parse_one(doc) -> ProbeSpec:
    (spec,) = parse_readiness_probe(orjson.dumps(doc).decode(), USER_PORT)
    return spec


@pytest.mark.parametrize("value", [None, "", "  \n", b""])
def test_unset_means_tcp_on_the_user_port_aggressively(value):
    assert parse_readiness_probe(value, USER_PORT) == (default_probe(USER_PORT),)
    spec = default_probe(USER_PORT)
    assert (spec.kind, spec.host, spec.port, spec.success_threshold) == ("tcp", "127.0.0.1", USER_PORT, 1)
    assert spec.aggressive
    assert (spec.aggressive_interval, spec.aggressive_attempt_timeout, spec.aggressive_poll_timeout) == (
        0.05,
        0.1,
        10.0,
    )
    assert spec.attempt_timeout == 0.1


def test_what_the_controller_sends_for_the_default_probe():
    spec = parse_one({"tcpSocket": {"port": 8080, "host": "127.0.0.1"}, "successThreshold": 1})
    assert spec == default_probe(USER_PORT)


def test_tcp_probe_with_timings_is_not_aggressive():
    spec = parse_one(
        {
            "tcpSocket": {"port": "9000"},
            "periodSeconds": 5,
            "timeoutSeconds": 2,
            "successThreshold": 2,
            "failureThreshold": 4,
            "initialDelaySeconds": 7,
        }
    )
    assert (spec.kind, spec.host, spec.port) == ("tcp", "127.0.0.1", 9000)
    assert (spec.period_seconds, spec.timeout_seconds, spec.success_threshold) == (5, 2, 2)
    assert (spec.failure_threshold, spec.initial_delay_seconds) == (4, 7)
    assert not spec.aggressive
    assert spec.attempt_timeout == 2.0


def test_zero_timings_take_the_kubernetes_defaults():
    spec = parse_one({"tcpSocket": {}, "periodSeconds": 3, "timeoutSeconds": 0, "successThreshold": 0})
    assert (spec.port, spec.timeout_seconds, spec.success_threshold, spec.failure_threshold) == (USER_PORT, 1, 1, 3)


def test_http_probe():
    spec = parse_one(
        {
            "httpGet": {
                "path": "healthz",
                "port": 8080,
                "host": "127.0.0.1",
                "scheme": "https",
                "httpHeaders": [{"name": "K-Kubelet-Probe", "value": "queue"}, {"name": "X-Empty"}],
            },
            "periodSeconds": 1,
        }
    )
    assert (spec.kind, spec.port, spec.path, spec.scheme) == ("http", 8080, "/healthz", "HTTPS")
    assert spec.http_headers == (HTTPHeader("K-Kubelet-Probe", "queue"), HTTPHeader("X-Empty", ""))
    assert spec.period_seconds == 1


def test_http_probe_defaults():
    spec = parse_one({"httpGet": {}})
    assert (spec.kind, spec.host, spec.port, spec.path, spec.scheme, spec.http_headers) == (
        "http",
        "127.0.0.1",
        USER_PORT,
        "/",
        "HTTP",
        (),
    )
    assert spec.aggressive


def test_grpc_probe():
    spec = parse_one({"grpc": {"port": 50051, "service": "ready"}})
    assert (spec.kind, spec.port, spec.grpc_service) == ("grpc", 50051, "ready")
    assert parse_one({"grpc": {"port": 50051}}).grpc_service == ""


@pytest.mark.parametrize("doc", [{"exec": {"command": ["cat", "/tmp/ready"]}}, {"periodSeconds": 2}])
def test_exec_and_handlerless_probes_become_tcp_on_the_user_port(doc):
    spec = parse_one(doc)
    assert (spec.kind, spec.host, spec.port) == ("tcp", "127.0.0.1", USER_PORT)
    assert spec.period_seconds == doc.get("periodSeconds", 0)


def test_a_list_gives_one_spec_per_container():
    specs = parse_readiness_probe(
        orjson.dumps([{"tcpSocket": {"port": 8080}}, {"httpGet": {"port": 8081, "path": "/ok"}}]), USER_PORT
    )
    assert [(s.kind, s.port) for s in specs] == [("tcp", 8080), ("http", 8081)]


def test_unknown_keys_are_ignored():
    assert parse_one({"tcpSocket": {"port": 8080, "extra": 1}, "terminationGracePeriodSeconds": 3}).port == 8080


def test_specs_are_frozen():
    with pytest.raises(AttributeError):
        default_probe(USER_PORT).port = 1


@pytest.mark.parametrize(
    "value, message",
    [
        ("{", "SERVING_READINESS_PROBE: invalid JSON"),
        ("null", "SERVING_READINESS_PROBE: must be a JSON object"),
        ("[]", "SERVING_READINESS_PROBE: must not be an empty list"),
        ('{"httpGet": {"port": 0}}', "SERVING_READINESS_PROBE.httpGet.port: must be an integer 1-65535"),
        ('{"httpGet": {"port": 65536}}', "SERVING_READINESS_PROBE.httpGet.port: must be an integer 1-65535"),
        ('{"httpGet": {"port": "http"}}', "SERVING_READINESS_PROBE.httpGet.port: must be an integer 1-65535"),
        ('{"tcpSocket": {"port": true}}', "SERVING_READINESS_PROBE.tcpSocket.port: must be an integer 1-65535"),
        ('{"grpc": {"port": "50051"}}', "SERVING_READINESS_PROBE.grpc.port: must be an integer 1-65535"),
        ('{"tcpSocket": {"port": 8080.5}}', "SERVING_READINESS_PROBE.tcpSocket.port: must be an integer 1-65535"),
        ('{"tcpSocket": 5}', "SERVING_READINESS_PROBE.tcpSocket: must be a JSON object"),
        ('{"tcpSocket": {"host": 1}}', "SERVING_READINESS_PROBE.tcpSocket.host: must be a string"),
        ('{"periodSeconds": "1"}', "SERVING_READINESS_PROBE.periodSeconds: must be an integer"),
        ('{"timeoutSeconds": -1}', "SERVING_READINESS_PROBE.timeoutSeconds: must be between 0 and 2147483647"),
        ('{"successThreshold": 1.5}', "SERVING_READINESS_PROBE.successThreshold: must be an integer"),
        ('{"httpGet": {"scheme": "FTP"}}', "SERVING_READINESS_PROBE.httpGet.scheme: must be HTTP or HTTPS"),
        ('{"httpGet": {"path": 3}}', "SERVING_READINESS_PROBE.httpGet.path: must be a string"),
        ('{"httpGet": {"httpHeaders": {}}}', "SERVING_READINESS_PROBE.httpGet.httpHeaders: must be a list"),
        ('{"httpGet": {"httpHeaders": [1]}}', "SERVING_READINESS_PROBE.httpGet.httpHeaders[0]: must be a JSON object"),
        (
            '{"httpGet": {"httpHeaders": [{"value": "v"}]}}',
            "SERVING_READINESS_PROBE.httpGet.httpHeaders[0].name: must be a non-empty HTTP token",
        ),
        (
            '{"httpGet": {"httpHeaders": [{"name": "A B"}]}}',
            "SERVING_READINESS_PROBE.httpGet.httpHeaders[0].name: must be a non-empty HTTP token",
        ),
        (
            '{"httpGet": {"httpHeaders": [{"name": "a", "value": "x\\r\\nEvil: 1"}]}}',
            "SERVING_READINESS_PROBE.httpGet.httpHeaders[0].value: must not contain control characters",
        ),
        ('{"httpGet": {}, "tcpSocket": {}}', "SERVING_READINESS_PROBE: must have one handler, got httpGet, tcpSocket"),
        ('[{"tcpSocket": {}}, {"grpc": {"port": 0}}]', "SERVING_READINESS_PROBE[1].grpc.port: must be an integer 1-65535"),
    ],
)
def test_errors_name_the_field(value, message):
    with pytest.raises(ProbeSpecError) as info:
        parse_readiness_probe(value, USER_PORT)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)
    assert message.startswith(info.value.field + ":")
