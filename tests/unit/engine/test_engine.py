"""The proxy engine driven socket-free: bytes in through data_received, writes recorded."""

from __future__ import annotations

import asyncio

import pytest

from dataplane.http.client import ClientConnection, EngineConfig
from dataplane.http.heads import request_head
from dataplane.http.upstream import UpstreamConnection, UpstreamPool


class FakeTransport:
    def __init__(self, peer=("10.1.2.3", 5555)):
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True
        self.pauses = 0
        self.peer = peer
        self.protocol = None

    def write(self, data):
        assert not self.closed, "write after close"
        self.written += data

    def close(self):
        # like uvloop: connection_lost comes later, from the loop; tests call lose()
        self.closed = True

    def lose(self, exc=None):
        self.closed = True
        self.protocol.connection_lost(exc)

    def abort(self):
        self.aborted = True
        self.close()

    def pause_reading(self):
        self.reading = False
        self.pauses += 1

    def resume_reading(self):
        self.reading = True

    def get_extra_info(self, name, default=None):
        return self.peer if name == "peername" else default

    def take(self) -> bytes:
        data = bytes(self.written)
        self.written.clear()
        return data


class FakePool(UpstreamPool):
    """Connects synchronously to fake upstream transports."""

    def __init__(self, loop):
        super().__init__(loop, "127.0.0.1", 9999)
        self.opened: list[UpstreamConnection] = []
        self.refuse = False

    def connect(self, client):
        if self.refuse:
            client.connect_failed(self, ConnectionRefusedError(111, "Connection refused"))
            return
        conn = UpstreamConnection(self)
        transport = FakeTransport()
        transport.protocol = conn
        conn.connection_made(transport)
        self.opened.append(conn)
        client.attach(conn, reused=False)


class ForwardAll:
    """A minimal policy: every request goes to the pool unchanged but for the engine's own rules."""

    def __init__(self, pool):
        self.pool = pool
        self.done = []
        self.aborted = 0
        self.errors = []

    def connection_made(self, conn):
        pass

    def connection_lost(self, conn):
        pass

    def on_request(self, conn, head):
        conn.forward(self.pool, request_head(head, {}, head.upgrade, b"app"))

    def on_admitted(self, conn):
        pass

    def on_response_start(self, conn, status):
        pass

    def on_done(self, conn):
        self.done.append(conn.status)

    def on_abort(self, conn):
        self.aborted += 1

    def on_rejected(self, conn, status):
        self.done.append(status)

    def on_upstream_error(self, conn, reason, retryable):
        self.errors.append(reason)
        conn.fail(502, reason)

    def on_timeout(self, conn):
        conn.fail(504, "request timeout")


@pytest.fixture
def rig():
    loop = asyncio.new_event_loop()
    pool = FakePool(loop)
    policy = ForwardAll(pool)
    client = ClientConnection(loop, policy, EngineConfig(max_buffered_body=1000))
    transport = FakeTransport()
    transport.protocol = client
    client.connection_made(transport)
    yield client, transport, pool, policy
    if not client.closed:
        transport.lose()
    loop.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


def test_get_is_forwarded_and_answered(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET /a?b=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nX-Y: z\r\n\r\n")
    up = pool.opened[0]
    assert up.transport.take() == b"GET /a?b=1 HTTP/1.1\r\nHost: h\r\nX-Y: z\r\n\r\n"
    up.data_received(OK)
    assert transport.take() == OK
    assert policy.done == [200]
    assert pool.idle == [up]  # back in the pool for the next request
    client.data_received(b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
    assert len(pool.opened) == 1 and up.transport.take().startswith(b"GET /next ")


def test_pipelined_requests_go_one_at_a_time(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
    up = pool.opened[0]
    assert up.transport.take().startswith(b"GET /1 ")
    up.data_received(OK)
    assert up.transport.take().startswith(b"GET /2 ")  # only after the first answer
    up.data_received(OK)
    assert transport.take() == OK + OK


def test_content_length_body_split_across_reads(rig):
    client, transport, pool, policy = rig
    client.data_received(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123")
    up = pool.opened[0]
    client.data_received(b"456")
    client.data_received(b"789GET /after HTTP/1.1\r\nHost: h\r\n\r\n")
    assert up.transport.take().endswith(b"\r\n\r\n0123456789")
    up.data_received(OK)
    assert up.transport.take().startswith(b"GET /after ")


def test_chunked_body_is_forwarded_byte_for_byte(rig):
    client, transport, pool, policy = rig
    body = b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n"
    client.data_received(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body[:7])
    client.data_received(body[7:])
    sent = pool.opened[0].transport.take()
    assert b"Transfer-Encoding: chunked\r\n" in sent
    assert sent.endswith(b"\r\n\r\n" + body)


def test_body_waiting_for_upstream_is_bounded_by_pausing(rig):
    client, transport, pool, policy = rig
    policy.on_request = lambda conn, head: None  # hold the request, as a breaker would
    client.data_received(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n")
    client.data_received(b"x" * 1500)
    assert not transport.reading
    client.forward(pool, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n")
    assert transport.reading
    assert pool.opened[0].transport.take().endswith(b"x" * 1500)


def test_backpressure_both_ways(rig):
    client, transport, pool, policy = rig
    client.data_received(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n")
    up = pool.opened[0]
    up.pause_writing()  # the app reads slowly
    assert not transport.reading
    up.resume_writing()
    assert transport.reading
    client.pause_writing()  # the client reads slowly
    assert not up.transport.reading
    client.resume_writing()
    assert up.transport.reading


def test_stale_pooled_connection_is_retried_once_on_a_fresh_one(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n")
    first = pool.opened[0]
    first.data_received(OK)
    transport.take()
    client.data_received(b"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
    first.transport.take()
    first.transport.lose()  # the app had closed it: no response byte came back
    second = pool.opened[1]
    assert second.transport.take() == b"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
    second.data_received(OK)
    assert transport.take() == OK
    assert policy.errors == []


def test_connection_lost_after_response_started_cuts_the_client(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up = pool.opened[0]
    up.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    up.transport.lose()
    assert transport.aborted
    assert policy.done == [200]


def test_refused_dial_is_a_502_with_reason(rig):
    client, transport, pool, policy = rig
    pool.refuse = True
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    reply = transport.take()
    assert reply.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert b"dial 127.0.0.1:9999" in reply


def test_interim_and_final_response(rig):
    client, transport, pool, policy = rig
    client.data_received(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    up = pool.opened[0]
    up.data_received(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert transport.take() == b"HTTP/1.1 100 Continue\r\n\r\n"
    client.data_received(b"ok")
    up.data_received(OK)
    assert transport.take() == OK


def test_read_until_close_response_closes_the_client(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up = pool.opened[0]
    up.data_received(b"HTTP/1.1 200 OK\r\n\r\nsome")
    up.data_received(b" more")
    up.eof_received()
    reply = transport.take()
    assert reply == b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nsome more"
    assert transport.closed


def test_http10_keep_alive_and_head(rig):
    client, transport, pool, policy = rig
    client.data_received(b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    up = pool.opened[0]
    assert up.transport.take() == b"HEAD / HTTP/1.1\r\nHost: app\r\n\r\n"
    up.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")  # HEAD: no body follows
    assert transport.take() == b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n"
    assert not transport.closed


def test_hop_by_hop_and_connection_named_headers_are_dropped(rig):
    client, transport, pool, policy = rig
    client.data_received(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: x-secret, keep-alive\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nX-Kept: 2\r\n\r\n"
    )
    up = pool.opened[0]
    assert up.transport.take() == b"GET / HTTP/1.1\r\nHost: h\r\nX-Kept: 2\r\n\r\n"
    up.data_received(b"HTTP/1.1 200 OK\r\nConnection: x-internal\r\nX-Internal: 1\r\nContent-Length: 0\r\n\r\n")
    assert transport.take() == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def test_upgrade_becomes_a_tunnel(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    up = pool.opened[0]
    assert up.transport.take() == b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
    up.data_received(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nserver-bytes")
    assert transport.take() == b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nserver-bytes"
    client.data_received(b"\x81\x02hi")
    assert up.transport.take() == b"\x81\x02hi"
    up.transport.lose()
    assert transport.closed


def test_bad_request_is_rejected_without_upstream(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    assert transport.take().startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert transport.closed and pool.opened == []


def test_client_gone_while_upstream_works_aborts_upstream(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up = pool.opened[0]
    transport.lose()
    assert up.transport.aborted
    assert policy.aborted == 1


def test_many_pipelined_local_answers_do_not_recurse(rig):
    client, transport, pool, policy = rig
    policy.on_request = lambda conn, head: conn.respond(200, b"x")
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n" * 5000)
    assert transport.take().count(b"HTTP/1.1 200 OK") == 5000
