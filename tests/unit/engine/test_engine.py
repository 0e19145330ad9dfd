"""The proxy engine driven socket-free, on both builds: bytes in through data_received, writes recorded."""

from __future__ import annotations

import pytest

from tests.twins import load, twin_params
from tests.unit.engine.fakes import FakeLoop, FakeTransport, ForwardAll, fake_pool_type


@pytest.fixture(params=twin_params("dataplane.http._engine", fully_pure=True))
def engine(request):
    return load(request.param)


@pytest.fixture
def loop():
    loop = FakeLoop()
    yield loop
    assert loop.errors == [], "a callback raised"


@pytest.fixture
def rig(engine, loop):
    pool = fake_pool_type(engine)(loop)
    policy = ForwardAll(engine, pool)
    client = engine.ClientConnection(loop, policy, engine.EngineConfig(max_buffered_body=1000))
    transport = FakeTransport()
    transport.protocol = client
    client.connection_made(transport)
    yield client, transport, pool, policy
    if not client.closed:
        transport.lose()


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
    client.data_received(b"PUT /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
    first.transport.take()
    first.transport.lose()  # the app had closed it: no response byte came back
    second = pool.opened[1]
    assert second.transport.take() == b"PUT /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
    second.data_received(OK)
    assert transport.take() == OK
    assert policy.errors == []


def test_a_post_is_never_replayed(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n")
    first = pool.opened[0]
    first.data_received(OK)
    transport.take()
    client.data_received(b"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
    first.transport.lose()  # the app may have acted on it before closing
    assert len(pool.opened) == 1
    assert transport.take().startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert policy.errors == ["upstream closed the connection"]


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


def test_response_head_and_body_read_together_leave_in_one_write(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up = pool.opened[0]
    up.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
    assert transport.writes == 1
    up.data_received(b"cd")
    assert (transport.take(), transport.writes) == (b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd", 2)


def test_request_body_read_with_its_head_goes_upstream_in_one_write(rig):
    client, transport, pool, policy = rig
    client.data_received(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
    up = pool.opened[0]
    assert (up.transport.take(), up.transport.writes) == (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", 1)


def test_policy_error_is_reported_and_answered_with_500(rig, loop):
    client, transport, pool, policy = rig
    policy.on_request = lambda conn, head: 1 / 0
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    reply = transport.take()
    assert reply.startswith(b"HTTP/1.1 500 Internal Server Error\r\n") and b"Connection: close\r\n" in reply
    assert transport.closed
    assert [type(c["exception"]) for c in loop.errors] == [ZeroDivisionError]
    loop.errors.clear()
    transport.lose()
    assert policy.aborted == 1  # the policy still hears the request is over


def test_policy_error_after_the_response_started_cuts_the_client(rig, loop):
    client, transport, pool, policy = rig
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up = pool.opened[0]
    policy.on_done = lambda conn: 1 / 0
    up.data_received(OK)
    assert transport.take() == OK  # what was held for one write still went out first
    assert transport.aborted
    assert len(loop.errors) == 1
    loop.errors.clear()


def test_bad_chunked_body_read_with_its_head_never_reaches_the_policy(rig):
    client, transport, pool, policy = rig
    client.data_received(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert transport.take().startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert ("request", b"POST", b"/") not in policy.events
    assert pool.opened == [] and transport.closed


def test_bad_chunked_body_after_the_response_started_cuts_both_sides(rig):
    client, transport, pool, policy = rig
    client.data_received(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    up = pool.opened[0]
    up.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    client.data_received(b"zz\r\n")
    assert transport.aborted and up.transport.aborted
    assert policy.done == [200]


def test_header_timeout_answers_408(rig, loop):
    client, transport, pool, policy = rig
    client.data_received(b"GET / HTTP/1.1\r\nHo")
    loop.advance(59.0)
    assert transport.take() == b""
    loop.advance(2.0)
    assert transport.take().startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert transport.closed and policy.done == [408]


def test_request_timeout_answers_504_and_an_idle_connection_closes(rig, loop):
    client, transport, pool, policy = rig
    policy.timeout = 10.0
    client.data_received(b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
    loop.advance(11.0)
    assert transport.take().startswith(b"HTTP/1.1 504 Gateway Timeout\r\n")
    assert transport.closed and pool.opened[0].transport.aborted


def test_idle_keep_alive_connection_is_closed(rig, loop):
    client, transport, pool, policy = rig
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    pool.opened[0].data_received(OK)
    loop.advance(74.0)
    assert not transport.closed
    loop.advance(2.0)
    assert transport.closed


def test_response_start_timeout_stops_counting_once_the_response_started(rig, loop, engine):
    client, transport, pool, policy = rig
    policy.on_request = lambda conn, head: (
        conn.set_timeouts(30.0, 5.0, 0.0),
        conn.forward(pool, engine.request_head(head, {}, False, b"app")),
    )
    client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    up = pool.opened[0]
    loop.advance(4.0)
    up.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    loop.advance(20.0)
    assert not transport.aborted  # past 5 s, but the response had started
    loop.advance(7.0)
    assert transport.aborted  # the 30 s total still holds


def test_a_cut_response_ends_the_connection_without_serving_pipelined_requests(rig, loop):
    client, transport, pool, policy = rig
    policy.timeout = 10.0
    client.data_received(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
    pool.opened[0].data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    loop.advance(11.0)
    assert transport.aborted
    assert [e for e in policy.events if e[0] == "request"] == [("request", b"GET", b"/1")]


def test_tunnel_bytes_after_the_upstream_closed_are_dropped(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    up = pool.opened[0]
    up.data_received(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    up.transport.lose()
    client.data_received(b"late bytes")
    assert transport.closed


def test_chunked_response_is_decoded_for_an_http10_client(rig):
    client, transport, pool, policy = rig
    client.data_received(b"GET / HTTP/1.0\r\n\r\n")
    up = pool.opened[0]
    up.data_received(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
    up.data_received(b"lo\r\n6;x=1\r\n world\r\n0\r\nT: 1\r\n\r\n")
    assert transport.take() == b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nhello world"
    assert transport.closed


def test_pool_keeps_at_most_max_idle_and_forgets_quietly(engine, loop):
    pool = fake_pool_type(engine)(loop)
    pool.max_idle = 1
    first, second = engine.UpstreamConnection(pool), engine.UpstreamConnection(pool)
    for conn in (first, second):
        conn.connection_made(FakeTransport())
        pool.give_back(conn)
    assert pool.idle == [first] and second.transport.closed
    pool.forget(second)  # not idle: nothing to do
    pool.forget(first)
    assert pool.idle == [] and pool.take() is None


# -- head builders and decoder, both builds --------------------------------------------------------


class Head:
    def __init__(self, headers, **attrs):
        self.method, self.target, self.status, self.reason = b"GET", b"/p", 200, b"OK"
        self.headers = headers
        self.connection_tokens = ()
        self.__dict__.update(attrs)


def test_collect_joins_repeated_headers_by_lower_case_name(engine):
    headers = [(b"X-A", b"1"), (b"Accept", b"*/*"), (b"x-a", b"2"), (b"X-Forwarded-For", b"10.0.0.1")]
    wanted = frozenset({b"x-a", b"x-forwarded-for", b"absent"})
    expected = {b"x-a": b"1, 2", b"x-forwarded-for": b"10.0.0.1"}
    assert engine.collect(headers, wanted) == expected
    assert engine.collect(headers, set(wanted)) == expected  # a plain set works too
    assert engine.collect(headers, frozenset({b"X-A"})) == {}  # wanted names are lower case


def test_request_head_replaces_drops_and_adds_host(engine):
    head = Head([(b"Host", b"h"), (b"Connection", b"x-drop"), (b"X-Drop", b"1"), (b"X-Keep", b"2"), (b"K-Original-Host", b"o")])
    head.connection_tokens = (b"x-drop",)
    out = engine.request_head(head, {b"host": b"new", b"k-original-host": None, b"x-forwarded-for": b"1.2.3.4"}, False, b"d")
    assert out == b"GET /p HTTP/1.1\r\nX-Keep: 2\r\nhost: new\r\nx-forwarded-for: 1.2.3.4\r\n\r\n"
    assert type(out) is bytes
    assert engine.request_head(Head([]), {}, False, b"d:1") == b"GET /p HTTP/1.1\r\nHost: d:1\r\n\r\n"


def test_response_head_for_http10_and_dechunked_bodies(engine):
    head = Head([(b"Transfer-Encoding", b"chunked"), (b"Keep-Alive", b"x"), (b"X-A", b"1")])
    assert engine.response_head(head, False, True, False, [(b"X-W", b"3")]) == (
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-W: 3\r\nConnection: keep-alive\r\n\r\n"
    )
    assert engine.response_head(head, True, True, True) == b"HTTP/1.0 200 OK\r\nX-A: 1\r\nConnection: close\r\n\r\n"


def test_simple_response(engine):
    assert engine.simple_response(404, b"nope", False) == (
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n\r\nnope"
    )
    assert engine.simple_response(599, b"x", True, [(b"Retry-After", b"1")], True, b"a/b") == (
        b"HTTP/1.1 599 Unknown\r\nContent-Type: a/b\r\nContent-Length: 1\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )


def test_dechunker_output_does_not_depend_on_how_the_input_is_cut(engine):
    body = b"5\r\nhello\r\n1;a=b\r\n,\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n"
    for cut in range(len(body) + 1):
        dechunker = engine.Dechunker()
        assert dechunker.feed(body[:cut]) + dechunker.feed(body[cut:]) == b"hello,0123456789", cut
