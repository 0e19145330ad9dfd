"""The queue-proxy gives its freed heap back once traffic stops: one timer per burst, none while idle."""

from __future__ import annotations

import pytest

from dataplane.http import engine
from dataplane.queueproxy import policy as policy_mod
from dataplane.queueproxy.policy import TRIM_QUIET, QueueProxyPolicy
from dataplane.queueproxy.readiness import Readiness
from dataplane.queueproxy.settings import from_env
from tests.unit.engine.fakes import FakeLoop, FakeTransport, fake_pool_type

ENV = {
    "CONTAINER_CONCURRENCY": "0",
    "USER_PORT": "8080",
    "QUEUE_SERVING_PORT": "8012",
    "REVISION_TIMEOUT_SECONDS": "300",
    "SERVING_NAMESPACE": "ns",
    "SERVING_CONFIGURATION": "cfg",
    "SERVING_REVISION": "rev",
    "SERVING_POD": "pod",
    "SERVING_POD_IP": "10.0.0.1",
}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


@pytest.fixture
def rig(monkeypatch):
    trims = []
    monkeypatch.setattr(policy_mod, "release_memory", lambda: trims.append(loop.now) or True)
    loop = FakeLoop()
    settings = from_env(ENV)
    readiness = Readiness(settings.probes)
    readiness.ready = True
    policy = QueueProxyPolicy(loop, settings, readiness)
    policy.pool = fake_pool_type(engine)(loop)
    client = engine.ClientConnection(loop, policy, engine.EngineConfig())
    transport = FakeTransport()
    transport.protocol = client
    client.connection_made(transport)

    def request() -> None:
        client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: r1\r\n\r\n")
        policy.pool.opened[-1].data_received(OK)  # the one connection, reused
        assert transport.take() == OK.replace(b"\r\n\r\n", b"\r\nX-Request-Id: r1\r\n\r\n")

    yield loop, policy, request, trims
    transport.lose()
    policy.close()


def _trim_timers(loop, policy) -> list:
    return [t for t in loop.timers if not t.cancelled and t.callback == policy._trim_if_quiet]


def test_no_timer_before_any_request(rig):
    loop, policy, _request, trims = rig
    assert _trim_timers(loop, policy) == []
    loop.advance(60)
    assert trims == []


def test_trims_once_traffic_has_stopped_for_the_quiet_period(rig):
    loop, policy, request, trims = rig
    request()
    assert len(_trim_timers(loop, policy)) == 1
    loop.advance(TRIM_QUIET - 0.1)
    assert trims == []
    loop.advance(0.2)
    assert trims == [pytest.approx(1000.0 + TRIM_QUIET)]
    loop.advance(60)  # idle: no further timer, no further trim
    assert len(trims) == 1 and _trim_timers(loop, policy) == []


def test_a_steady_trickle_holds_one_timer_and_trims_after_the_last_request(rig):
    loop, policy, request, trims = rig
    for _ in range(10):
        request()
        loop.advance(TRIM_QUIET / 4)
    assert trims == []
    assert len(_trim_timers(loop, policy)) == 1
    last = loop.now - TRIM_QUIET / 4
    loop.advance(TRIM_QUIET)
    assert trims == [pytest.approx(last + TRIM_QUIET)]
