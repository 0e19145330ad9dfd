"""config-observability's tracing keys: Knative's rules, errors naming the key, and the queue-proxy's environment."""

from __future__ import annotations

import pytest

from dataplane.api.errors import ConfigError
from dataplane.api.observability import ObservabilityConfig
from dataplane.queueproxy.settings import SettingsError, from_env
from dataplane.tracingconfig import TracingConfig, parse_tracing

ON = {"tracing-protocol": "http/protobuf", "tracing-endpoint": "http://collector:4318/v1/traces", "tracing-sampling-rate": "0.5"}


def test_off_by_default():
    config = ObservabilityConfig.from_map({}).tracing
    assert config == TracingConfig() and not config.enabled and config.env() == {}
    assert ObservabilityConfig.from_map({"tracing-protocol": " None "}).tracing == TracingConfig()


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [("http://collector:4318/v1/traces", "http://collector:4318/v1/traces"),
     ("collector.observability.svc:4318/v1/traces", "https://collector.observability.svc:4318/v1/traces"),
     ("HTTP://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
     ("https://otel.example/custom/path", "https://otel.example/custom/path")],
)  # fmt: skip
def test_http_protobuf_endpoint(endpoint, url):
    config = ObservabilityConfig.from_map({**ON, "tracing-endpoint": endpoint}).tracing
    assert config.enabled and config.endpoint == url and config.sampling_rate == 0.5


def test_rate_defaults_to_zero_as_knative():
    config = ObservabilityConfig.from_map({"tracing-protocol": "http/protobuf", "tracing-endpoint": "http://c:4318"}).tracing
    assert config.sampling_rate == 0.0


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [({"tracing-protocol": "zipkin"}, "tracing-protocol", "must be one of none, http/protobuf, got 'zipkin'"),
     ({"tracing-protocol": "grpc", "tracing-endpoint": "c:4317"}, "tracing-protocol",
      "'grpc' is not supported here; use http/protobuf (OTLP/HTTP) or none"),
     ({"tracing-protocol": "stdout"}, "tracing-protocol", "'stdout' is not supported here; use http/protobuf (OTLP/HTTP) or none"),
     ({"tracing-protocol": "http/protobuf"}, "tracing-endpoint", "required when tracing-protocol is http/protobuf"),
     ({"tracing-endpoint": "http://c:4318"}, "tracing-endpoint", "must not be set when tracing-protocol is none"),
     ({**ON, "tracing-endpoint": "ftp://c/x"}, "tracing-endpoint", "must be an http:// or https:// URL, got 'ftp://c/x'"),
     ({**ON, "tracing-endpoint": "http://user@c/x"}, "tracing-endpoint", "must name a host (and no user), got 'http://user@c/x'"),
     ({**ON, "tracing-endpoint": "http:///v1/traces"}, "tracing-endpoint", "must name a host (and no user), got 'http:///v1/traces'"),
     ({**ON, "tracing-endpoint": "http://c/x\r\nHost: evil"}, "tracing-endpoint",
      "must be a URL without spaces or control characters, got 'http://c/x\\r\\nHost: evil'"),
     ({**ON, "tracing-sampling-rate": "1.5"}, "tracing-sampling-rate", "must be from 0 to 1, got '1.5'"),
     ({**ON, "tracing-sampling-rate": "-0.1"}, "tracing-sampling-rate", "must be from 0 to 1, got '-0.1'"),
     ({**ON, "tracing-sampling-rate": "nan"}, "tracing-sampling-rate", "must be from 0 to 1, got 'nan'"),
     ({**ON, "tracing-sampling-rate": "half"}, "tracing-sampling-rate", "must be a number from 0 to 1, got 'half'")],
)  # fmt: skip
def test_a_bad_value_names_the_configmap_and_the_key(data, key, message):
    with pytest.raises(ConfigError) as caught:
        ObservabilityConfig.from_map(data)
    assert (caught.value.configmap, caught.value.key, caught.value.message) == ("config-observability", key, message)


def test_the_environment_round_trip_and_names_the_variable():
    config = ObservabilityConfig.from_map(ON).tracing
    env = config.env()
    assert env == {"TRACING_PROTOCOL": "http/protobuf", "TRACING_ENDPOINT": "http://collector:4318/v1/traces", "TRACING_SAMPLING_RATE": "0.5"}
    assert parse_tracing(env["TRACING_PROTOCOL"], env["TRACING_ENDPOINT"], env["TRACING_SAMPLING_RATE"]) == config
    base = {"USER_PORT": "8080", "REVISION_TIMEOUT_SECONDS": "300", "QUEUE_SERVING_PORT": "8012", "CONTAINER_CONCURRENCY": "0",
            "SERVING_NAMESPACE": "ns", "SERVING_CONFIGURATION": "c", "SERVING_REVISION": "r", "SERVING_POD": "p", "SERVING_POD_IP": "1.2.3.4"}
    assert from_env({**base, **env}).tracing == config
    assert from_env(base).tracing == TracingConfig()
    with pytest.raises(SettingsError, match="^TRACING_SAMPLING_RATE: must be from 0 to 1, got '2'$"):
        from_env({**base, **env, "TRACING_SAMPLING_RATE": "2"})


def test_tracing_without_the_sdk_installed_is_a_clear_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("opentelemetry") else real(name, *a))
    base = {"USER_PORT": "8080", "REVISION_TIMEOUT_SECONDS": "300", "QUEUE_SERVING_PORT": "8012", "CONTAINER_CONCURRENCY": "0",
            "SERVING_NAMESPACE": "ns", "SERVING_CONFIGURATION": "c", "SERVING_REVISION": "r", "SERVING_POD": "p", "SERVING_POD_IP": "1.2.3.4"}
    assert not from_env(base).tracing.enabled  # off needs nothing
    with pytest.raises(SettingsError, match=r"^TRACING_PROTOCOL: http/protobuf needs the OpenTelemetry SDK: install serverless-dataplane\[tracing\]$"):
        from_env({**base, **ObservabilityConfig.from_map(ON).tracing.env()})
