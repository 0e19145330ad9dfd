"""config-observability's metrics-dialect and config-logging's levels: one parser, errors naming the key."""

from __future__ import annotations

import pytest

from dataplane.api.errors import ConfigError
from dataplane.api.observability import ObservabilityConfig, log_levels
from dataplane.dialects import choose_dialect, parse_dialect
from dataplane.logs import parse_level


@pytest.mark.parametrize(
    ("data", "dialect"),
    [({}, "opencensus"), ({"metrics-dialect": ""}, "opencensus"), ({"metrics-dialect": "opentelemetry"}, "opentelemetry"),
     ({"metrics-dialect": " OpenCensus "}, "opencensus"), ({"metrics-protocol": "prometheus"}, "opencensus")],
)  # fmt: skip
def test_metrics_dialect(data, dialect):
    assert ObservabilityConfig.from_map(data).metrics_dialect == dialect


@pytest.mark.parametrize("bad", ["otel", "prometheus", "opencensus,opentelemetry", "open\ncensus"])
def test_an_unknown_dialect_names_the_configmap_and_the_key(bad):
    with pytest.raises(ConfigError) as caught:
        ObservabilityConfig.from_map({"metrics-dialect": bad})
    assert str(caught.value) == f"config-observability: metrics-dialect: must be one of opencensus, opentelemetry, got {bad!r}"
    assert (caught.value.configmap, caught.value.key) == ("config-observability", "metrics-dialect")


def test_a_flag_must_be_right_but_a_bad_environment_value_falls_back_and_says_so():
    heard = []
    assert choose_dialect("opentelemetry", "junk", heard.append) == "opentelemetry"
    with pytest.raises(ValueError, match="--metrics-dialect: must be one of"):
        choose_dialect("junk", None, heard.append)
    assert heard == []
    assert choose_dialect(None, "opentelemetry", heard.append) == "opentelemetry"
    assert choose_dialect(None, None, heard.append) == "opencensus"
    assert choose_dialect(None, "junk", heard.append) == "opencensus"
    assert heard == ["METRICS_DIALECT (metrics-dialect): must be one of opencensus, opentelemetry, got 'junk'; serving opencensus"]
    assert parse_dialect(None) == "opencensus"


def test_config_logging_levels_take_zap_names():
    data = {"loglevel.activator": "debug", "loglevel.autoscaler": "warn", "zap-logger-config": "{}", "loglevel.controller": ""}
    assert log_levels(data) == {"activator": "DEBUG", "autoscaler": "WARNING", "controller": "INFO"}
    assert parse_level("ERROR", "--log-level") == "ERROR"
    with pytest.raises(ConfigError, match="config-logging: loglevel.activator: must be one of debug, info, warn, error"):
        log_levels({"loglevel.activator": "verbose"})
