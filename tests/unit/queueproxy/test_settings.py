"""Queue-proxy settings: the request-head limits beside QUEUE_MAX_HEAD_BYTES."""

from __future__ import annotations

import pytest

from dataplane.queueproxy.settings import SettingsError, from_env

ENV = {
    "CONTAINER_CONCURRENCY": "0",
    "USER_PORT": "8080",
    "REVISION_TIMEOUT_SECONDS": "300",
    "SERVING_NAMESPACE": "default",
    "SERVING_CONFIGURATION": "hello",
    "SERVING_REVISION": "hello-00001",
    "SERVING_POD": "hello-00001-pod",
    "SERVING_POD_IP": "10.0.0.1",
    "QUEUE_SERVING_PORT": "8012",
}


def test_header_count_limit_defaults_to_100_and_is_read_from_queue_max_headers():
    assert from_env(ENV).max_headers == 100
    assert from_env({**ENV, "QUEUE_MAX_HEADERS": "250"}).max_headers == 250


@pytest.mark.parametrize("raw, message", [("0", "QUEUE_MAX_HEADERS: must be >= 1, got 0"), ("many", "QUEUE_MAX_HEADERS: must be an integer, got 'many'")])
def test_a_bad_header_count_limit_names_the_variable(raw, message):
    with pytest.raises(SettingsError) as info:
        from_env({**ENV, "QUEUE_MAX_HEADERS": raw})
    assert str(info.value) == message


def test_the_app_speaks_http1_unless_told_h2c_or_served_on_knatives_h2c_port():
    assert from_env({**ENV, "QUEUE_SERVING_PORT": "8012"}).user_protocol == "http1"
    assert from_env({**ENV, "QUEUE_SERVING_PORT": "8012", "USER_PROTOCOL": "h2c"}).user_protocol == "h2c"
    # Knative's reconciler gives a revision whose port is named h2c the serving port 8013
    assert from_env({**ENV, "QUEUE_SERVING_PORT": "8013"}).user_protocol == "h2c"
    assert from_env({**ENV, "QUEUE_SERVING_PORT": "8013", "USER_PROTOCOL": "http1"}).user_protocol == "http1"


def test_an_unknown_user_protocol_names_the_variable():
    with pytest.raises(SettingsError, match="USER_PROTOCOL: must be http1 or h2c, got 'h2'"):
        from_env({**ENV, "USER_PROTOCOL": "h2"})


def test_knatives_layout_serves_8013_too_and_other_layouts_name_their_second_port():
    assert from_env({**ENV, "QUEUE_SERVING_PORT": "8012"}).h2c_serving_port == 8013
    assert from_env({**ENV, "QUEUE_SERVING_PORT": "8013"}).h2c_serving_port == 0  # one port is both
    assert from_env({**ENV, "QUEUE_SERVING_PORT": "18012"}).h2c_serving_port == 0  # a local pod's own port
    assert from_env({**ENV, "QUEUE_SERVING_PORT": "18012", "QUEUE_SERVING_H2C_PORT": "18013"}).h2c_serving_port == 18013
    assert from_env({**ENV, "QUEUE_SERVING_PORT": "8012", "QUEUE_SERVING_H2C_PORT": "0"}).h2c_serving_port == 0
