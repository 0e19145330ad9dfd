"""`dataplane up` reads config-observability and config-logging from its store: validated on apply, last good kept, applied live."""

from __future__ import annotations

import logging

import aiohttp
import orjson
import pytest

from dataplane.platform.local.apiserver import SYSTEM_NAMESPACE
from dataplane.platform.local.controlplane import ControlPlane
from dataplane.ports import free_port


@pytest.fixture
async def plane(tmp_path):
    plane = ControlPlane(tmp_path / "home", router_port=free_port())
    port = free_port()
    await plane.start("127.0.0.1", port)
    plane.url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {plane.token}"}) as session:
        plane.session = session
        yield plane
    await plane.stop()


def observability(dialect: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "config-observability", "namespace": SYSTEM_NAMESPACE},
        "data": {"metrics-dialect": dialect},
    }


async def apply(plane, doc: dict) -> tuple[int, dict]:
    body = orjson.dumps({"documents": [doc]})
    async with plane.session.post(plane.url + "/v1/apply", data=body, headers={"Content-Type": "application/json"}) as resp:
        return resp.status, orjson.loads(await resp.read())


async def autoscaler_metrics(plane) -> str:
    async with plane.session.get(plane.url + "/autoscaler/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


async def test_the_default_dialect_is_opencensus_everywhere(plane):
    assert plane.api_config.observability.metrics_dialect == "opencensus"
    assert plane.runtime.sidecar_env["METRICS_DIALECT"] == "opencensus"
    assert "# TYPE autoscaler_stats_received_count counter" in await autoscaler_metrics(plane)


async def test_a_dialect_change_reaches_the_autoscaler_at_once_and_the_next_queue_proxies(plane):
    status, answer = await apply(plane, observability("opentelemetry"))
    assert status == 200, answer
    assert plane.runtime.sidecar_env["METRICS_DIALECT"] == "opentelemetry"
    text = await autoscaler_metrics(plane)
    assert "kn_autoscaler_stats_received_total 0.0" in text
    assert "autoscaler_stats_received_count" not in text


async def test_an_unknown_dialect_is_refused_naming_the_key_and_nothing_changes(plane):
    assert (await apply(plane, observability("opentelemetry")))[0] == 200
    status, answer = await apply(plane, observability("prometheus"))
    assert status >= 400
    assert "config-observability: metrics-dialect: must be one of opencensus, opentelemetry, got 'prometheus'" in orjson.dumps(answer).decode()
    assert plane.api_config.observability.metrics_dialect == "opentelemetry"


async def test_a_stored_bad_value_keeps_the_last_good_configuration(plane):
    assert (await apply(plane, observability("opentelemetry")))[0] == 200
    # stored before the rule existed (or by hand): the store takes it, the platform keeps what it had
    stored = plane.store.cache[("ConfigMap", SYSTEM_NAMESPACE, "config-observability")]
    await plane.store.update({**stored, "data": {"metrics-dialect": "otel"}})
    assert plane.api_config.observability.metrics_dialect == "opentelemetry"
    assert plane.runtime.sidecar_env["METRICS_DIALECT"] == "opentelemetry"


def logging_config(data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config-logging", "namespace": SYSTEM_NAMESPACE}, "data": data}


async def test_queue_proxies_log_text_as_dataplane_up_does_at_the_level_config_logging_gives(plane):
    assert (plane.runtime.sidecar_env["LOG_FORMAT"], plane.runtime.sidecar_env["LOG_LEVEL"]) == ("text", "INFO")
    assert (await apply(plane, logging_config({"loglevel.queueproxy": "debug", "loglevel.controller": "warn"})))[0] == 200
    assert plane.runtime.sidecar_env["LOG_LEVEL"] == "DEBUG"
    assert logging.getLogger("dataplane.controller").level == logging.WARNING
    status, answer = await apply(plane, logging_config({"loglevel.queueproxy": "chatty"}))
    assert status >= 400 and "config-logging: loglevel.queueproxy: must be one of debug, info, warn, error" in orjson.dumps(answer).decode()
    assert plane.runtime.sidecar_env["LOG_LEVEL"] == "DEBUG"
    assert (await apply(plane, logging_config({})))[0] == 200
    assert plane.runtime.sidecar_env["LOG_LEVEL"] == "INFO"
    assert logging.getLogger("dataplane.controller").level == logging.NOTSET


async def test_tracing_reaches_the_next_queue_proxies_and_a_bad_value_is_refused_naming_the_key(plane):
    assert plane.runtime.sidecar_env["TRACING_PROTOCOL"] == "none"
    doc = observability("opencensus")
    doc["data"].update({"tracing-protocol": "http/protobuf", "tracing-endpoint": "http://127.0.0.1:4318", "tracing-sampling-rate": "1"})
    status, answer = await apply(plane, doc)
    assert status == 200, answer
    env = plane.runtime.sidecar_env
    assert (env["TRACING_PROTOCOL"], env["TRACING_ENDPOINT"], env["TRACING_SAMPLING_RATE"]) == (
        "http/protobuf", "http://127.0.0.1:4318/v1/traces", "1.0")  # fmt: skip
    doc["data"]["tracing-protocol"] = "zipkin"
    status, answer = await apply(plane, doc)
    assert status >= 400
    assert "config-observability: tracing-protocol: must be one of none, http/protobuf, got 'zipkin'" in orjson.dumps(answer).decode()
    assert plane.runtime.sidecar_env["TRACING_PROTOCOL"] == "http/protobuf"
