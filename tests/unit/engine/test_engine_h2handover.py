"""HTTP/2 detection in the HTTP/1.1 engine, on both builds: the preface hands the connection over, nothing else does."""

from __future__ import annotations

import dataclasses

import pytest

from tests.twins import load, twin_params
from tests.unit.engine.fakes import FakeLoop, FakeTransport, ForwardAll, fake_pool_type

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


@pytest.fixture(params=twin_params("dataplane.http._engine", fully_pure=True))
def engine(request):
    return load(request.param)


def connect(engine, http2):
    loop = FakeLoop()
    pool = fake_pool_type(engine)(loop)
    policy = ForwardAll(engine, pool)
    config = dataclasses.replace(engine.EngineConfig(), http2=http2)
    client = engine.ClientConnection(loop, policy, config)
    transport = FakeTransport()
    transport.protocol = client
    client.connection_made(transport)
    return client, transport, pool, policy, loop


class Taker:
    """Stands for the HTTP/2 protocol: takes the transport over, as ``http2_handler`` does."""

    def __init__(self):
        self.calls = []
        self.data = bytearray()

    def __call__(self, transport, data):
        self.calls.append(transport)
        transport.protocol = self
        self.data += data

    def data_received(self, data):
        self.data += data


@pytest.mark.parametrize(
    "reads",
    [[PREFACE + SETTINGS], [b"PRI * HTTP/2.0\r\n", b"\r\nSM\r\n\r\n" + SETTINGS], [b"PRI * HTTP/2.0\r\n\r\n", b"SM\r\n\r\n"]],
)
def test_preface_hands_the_connection_over_with_every_byte(engine, reads):
    taker = Taker()
    client, transport, pool, policy, loop = connect(engine, taker)
    for data in reads:
        transport.protocol.data_received(data)
    # once, with the bytes read so far; the rest reaches the new protocol; nothing answered here
    assert taker.calls == [transport]
    assert bytes(taker.data) == b"".join(reads)
    assert transport.take() == b"" and not transport.closed
    assert policy.events == [("lost",)]  # the policy forgets the HTTP/1.1 protocol object
    assert client.closed
    # its timers are off: the header timeout no longer applies to this transport
    assert all(t.cancelled for t in loop.timers)
    assert loop.errors == []


def test_without_http2_the_preface_is_refused_as_before(engine):
    client, transport, pool, policy, loop = connect(engine, None)
    client.data_received(PREFACE)
    out = transport.take()
    assert out.startswith(b"HTTP/1.1 505 ")
    assert transport.closed


@pytest.mark.parametrize(
    "request_bytes",
    [b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", b"PRI /x HTTP/1.1\r\nHost: h\r\n\r\n"],
)
def test_http1_requests_are_not_handed_over(engine, request_bytes):
    taken = []
    client, transport, pool, policy, loop = connect(engine, lambda t, data: taken.append(data))
    client.data_received(request_bytes)
    assert taken == []
    assert policy.events[0][0] == "request"


def test_a_version_2_request_line_that_is_not_the_preface_is_refused(engine):
    taken = []
    client, transport, pool, policy, loop = connect(engine, lambda t, data: taken.append(data))
    client.data_received(b"GET / HTTP/2.0\r\nHost: h\r\n\r\n")
    assert taken == []
    assert transport.take().startswith(b"HTTP/1.1 505 ")
