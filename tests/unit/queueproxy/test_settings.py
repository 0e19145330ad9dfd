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
