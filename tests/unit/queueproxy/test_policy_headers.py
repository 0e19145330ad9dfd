"""What the app sees of a request's headers, and what comes back, through the queue-proxy; both builds."""

from __future__ import annotations

import pytest

from dataplane.http.requestid import RequestIds
from dataplane.queueproxy import policy as policy_mod
from dataplane.queueproxy.policy import QueueProxyPolicy
from dataplane.queueproxy.readiness import Readiness
from dataplane.queueproxy.settings import from_env
from tests.twins import load, twin_params
from tests.unit.engine.fakes import FakeLoop, FakeTransport, fake_pool_type
from tests.unit.queueproxy.test_settings import ENV

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


@pytest.fixture(params=twin_params("dataplane.http._engine"))
def engine(request, monkeypatch):
    engine = load(request.param)
    monkeypatch.setattr(policy_mod, "collect", engine.collect)
    monkeypatch.setattr(policy_mod, "request_head", engine.request_head)
    return engine


class Rig:
    def __init__(self, engine, env=ENV):
        self.loop = FakeLoop()
        settings = from_env(env)
        readiness = Readiness(settings.probes)
        readiness.ready = True
        self.policy = QueueProxyPolicy(self.loop, settings, readiness)
        self.policy.ids = RequestIds(b"qp")
        self.policy.pool = fake_pool_type(engine)(self.loop)
        config = engine.EngineConfig(max_headers=settings.max_headers)
        self.client = engine.ClientConnection(self.loop, self.policy, config)
        self.transport = FakeTransport(("10.9.8.7", 4000))
        self.transport.protocol = self.client
        self.client.connection_made(self.transport)

    def to_app(self, raw: bytes) -> bytes:
        """Send ``raw``; what the app received."""
        self.client.data_received(raw)
        return self.policy.pool.opened[-1].transport.take()

    def close(self):
        if not self.transport.lost:
            self.transport.lose()
        self.policy.close()


@pytest.fixture
def rig(engine):
    rig = Rig(engine)
    yield rig
    rig.close()
    assert rig.loop.errors == [], "a callback raised"


def test_from_the_activator_every_internal_header_is_read_then_dropped(rig):
    sent = rig.to_app(
        b"GET /p HTTP/1.1\r\nHost: 10.0.0.1:8012\r\nK-Proxy-Request: activator\r\nK-Original-Host: a.example.com\r\n"
        b"Knative-Serving-Tag: v1\r\nKnative-Serving-Default-Route: false\r\nK-Network-Hash: h\r\nK-Passthrough-Lb: true\r\n"
        b"Knative-Serving-Revision: r\r\nKnative-Serving-Namespace: n\r\nX-Request-Id: rid-1\r\nX-Forwarded-For: 1.1.1.1\r\n"
        b"X-Forwarded-Proto: http\r\nForwarded: for=1.1.1.1;proto=http\r\n\r\n"
    )
    # nothing internal reaches the app; K-Proxy-Request was read first, for the autoscaler's stats
    assert sent == (
        b"GET /p HTTP/1.1\r\nX-Request-Id: rid-1\r\nX-Forwarded-Proto: http\r\n"
        b"x-forwarded-for: 1.1.1.1, 10.9.8.7\r\nforwarded: for=1.1.1.1;proto=http, for=10.9.8.7;proto=http\r\n"
        b"host: a.example.com\r\n\r\n"
    )
    assert rig.policy.collector.proxied_concurrency == 1
    rig.policy.pool.opened[-1].data_received(OK)
    # the id came with the request: the app's answer goes back as it is
    assert rig.transport.take() == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Request-Id: rid-1\r\n\r\nhi"


def test_a_direct_request_gets_an_id_a_scheme_and_a_forwarded_element(rig):
    sent = rig.to_app(b"GET / HTTP/1.1\r\nHost: a.example.com\r\nK-Proxy-Request: activator\r\n\r\n")
    assert sent == (
        b"GET / HTTP/1.1\r\nHost: a.example.com\r\nX-Request-Id: qp-1\r\nx-forwarded-for: 10.9.8.7\r\n"
        b"x-forwarded-proto: http\r\nforwarded: for=10.9.8.7;proto=http\r\n\r\n"
    )
    rig.policy.pool.opened[-1].data_received(OK)
    assert rig.transport.take() == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Request-Id: qp-1\r\n\r\nhi"


def test_the_apps_own_request_id_header_is_not_doubled(rig):
    rig.to_app(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    rig.policy.pool.opened[-1].data_received(b"HTTP/1.1 200 OK\r\nx-request-id: qp-1\r\nContent-Length: 0\r\n\r\n")
    assert rig.transport.take() == b"HTTP/1.1 200 OK\r\nx-request-id: qp-1\r\nContent-Length: 0\r\n\r\n"


def test_a_clients_forwarded_gets_this_hop_appended(rig):
    sent = rig.to_app(b"GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=\"[2001:db8::1]\"\r\nX-Forwarded-Proto: https\r\n\r\n")
    assert b"\r\nX-Forwarded-Proto: https\r\n" in sent
    assert b"\r\nforwarded: for=\"[2001:db8::1]\", for=10.9.8.7;proto=http\r\n" in sent


def test_an_absolute_form_target_reaches_the_app_in_origin_form_with_its_host(rig):
    sent = rig.to_app(b"GET http://a.example.com/x?y HTTP/1.1\r\nHost: b.example.com\r\n\r\n")
    assert sent.startswith(b"GET /x?y HTTP/1.1\r\nHost: a.example.com\r\n")


def test_errors_of_the_proxy_name_the_request_id(rig):
    rig.to_app(b"GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc\r\n\r\n")
    rig.policy.pool.opened[-1].transport.lose()  # the app drops the connection
    sent = rig.transport.take()
    assert sent.startswith(b"HTTP/1.1 502 Bad Gateway\r\n") and b"\r\nX-Request-Id: abc\r\n" in sent
    assert sent.endswith(b"upstream closed the connection (request id abc)")


def test_a_refused_head_gets_an_id_too(engine):
    rig = Rig(engine, {**ENV, "QUEUE_MAX_HEADERS": "3"})
    rig.client.data_received(b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
    sent = rig.transport.take()
    assert sent.startswith(b"HTTP/1.1 431 ") and b"\r\nX-Request-Id: qp-1\r\n" in sent
    assert sent.endswith(b"too many header fields (request id qp-1)")
    assert rig.policy.metrics.rejected_bad_input == 1
    rig.close()


def test_probes_are_answered_and_carry_no_request_id(rig):
    rig.client.data_received(b"GET / HTTP/1.1\r\nHost: a\r\nK-Network-Probe: probe\r\nK-Network-Hash: h1\r\n\r\n")
    sent = rig.transport.take()
    assert sent.startswith(b"HTTP/1.1 200 OK\r\n") and sent.endswith(b"\r\n\r\nh1") and b"X-Request-Id" not in sent
    assert rig.policy.pool.opened == []
