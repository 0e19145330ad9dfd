"""What the engine takes from a client at the edge, on both builds: absolute-form targets, the
header-count limit, and answers of its own to HEAD requests."""

from __future__ import annotations

import pytest

from tests.twins import load, twin_params
from tests.unit.engine.fakes import FakeLoop, FakeTransport, ForwardAll, fake_pool_type

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


@pytest.fixture(params=twin_params("dataplane.http._engine", fully_pure=True))
def engine(request):
    return load(request.param)


@pytest.fixture
def loop():
    loop = FakeLoop()
    yield loop
    assert loop.errors == [], "a callback raised"


class Edge:
    """A client connection of ``engine`` with ``policy`` (a ForwardAll unless given)."""

    def __init__(self, engine, loop, policy=None, **config):
        self.pool = fake_pool_type(engine)(loop)
        self.policy = policy or ForwardAll(engine, self.pool)
        self.client = engine.ClientConnection(loop, self.policy, engine.EngineConfig(**config))
        self.transport = FakeTransport()
        self.transport.protocol = self.client
        self.client.connection_made(self.transport)

    def close(self):
        if not self.client.closed:
            self.transport.lose()


@pytest.fixture
def edge(engine, loop):
    made = []

    def make(policy=None, **config):
        e = Edge(engine, loop, policy, **config)
        made.append(e)
        return e

    yield make
    for e in made:
        e.close()


# -- absolute-form targets (RFC 9112 §3.2.2) -------------------------------------------------------


def test_absolute_form_goes_upstream_in_origin_form_with_the_targets_authority_as_host(edge):
    e = edge()
    e.client.data_received(b"GET http://a.example.com/p?q=1 HTTP/1.1\r\nHost: b.example.com\r\nX-Y: z\r\n\r\n")
    assert e.policy.events == [("request", b"GET", b"/p?q=1")]
    up = e.pool.opened[0]
    assert up.transport.take() == b"GET /p?q=1 HTTP/1.1\r\nHost: a.example.com\r\nX-Y: z\r\n\r\n"
    up.data_received(OK)
    assert e.transport.take() == OK


@pytest.mark.parametrize("target", [b"ftp://a.example.com/", b"http://user@a.example.com/", b"http://a.example.com:99999999/"])
def test_absolute_form_with_another_scheme_or_a_bad_authority_is_400(edge, target):
    e = edge()
    e.client.data_received(b"GET " + target + b" HTTP/1.1\r\nHost: b.example.com\r\n\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n")
    sent = e.transport.take()
    assert sent.startswith(b"HTTP/1.1 400 Bad Request\r\n") and sent.endswith(b"\r\n\r\nbad request target")
    assert e.transport.closed and e.pool.opened == [] and e.policy.done == [400]


# -- the header-count limit ------------------------------------------------------------------------


def head_with(count: int) -> bytes:
    """A GET with ``count`` field lines, Host included."""
    return b"GET / HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(count - 1)) + b"\r\n"


@pytest.mark.parametrize("limit", [5, 150])
def test_the_header_count_limit_is_a_setting(edge, limit):
    e = edge(max_headers=limit)
    e.client.data_received(head_with(limit))
    up = e.pool.opened[0]
    assert up.transport.take().count(b"\r\n") == limit + 2
    up.data_received(OK)
    assert e.transport.take() == OK
    e.client.data_received(head_with(limit + 1))
    sent = e.transport.take()
    assert sent.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n") and sent.endswith(b"too many header fields")
    assert e.transport.closed and len(e.pool.opened) == 1


def test_the_header_count_limit_is_100_by_default(engine, edge):
    assert engine.EngineConfig().max_headers == 100
    e = edge()
    e.client.data_received(head_with(101))
    assert e.transport.take().startswith(b"HTTP/1.1 431 ")


# -- HEAD answered by the proxy itself -----------------------------------------------------------


class Answers(ForwardAll):
    """Answers every request itself: 404 with a body, or raises for /boom."""

    def on_request(self, conn, head):
        self.events.append(("request", head.method, head.target))
        if head.target == b"/boom":
            raise RuntimeError("policy bug")
        conn.respond(404, b"no route for host nowhere")


def test_head_answered_with_an_error_gets_the_head_alone_and_the_connection_goes_on(edge):
    e = edge(Answers(None, None))
    e.client.data_received(b"HEAD / HTTP/1.1\r\nHost: nowhere\r\n\r\nGET / HTTP/1.1\r\nHost: nowhere\r\n\r\n")
    body = b"no route for host nowhere"
    head = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % len(body)
    assert e.transport.take() == head + head + body  # the HEAD's answer has no body; the GET's has
    assert not e.transport.closed and e.policy.done == [404, 404]


def test_head_answered_with_500_after_a_policy_error_gets_no_body(edge, loop):
    e = edge(Answers(None, None))
    e.client.data_received(b"HEAD /boom HTTP/1.1\r\nHost: h\r\n\r\n")
    sent = e.transport.take()
    assert sent.startswith(b"HTTP/1.1 500 Internal Server Error\r\n") and sent.endswith(b"Content-Length: 14\r\nConnection: close\r\n\r\n")
    assert [c["exception"].args for c in loop.errors] == [("policy bug",)]
    loop.errors.clear()


# -- the request id --------------------------------------------------------------------------------


class WithId(ForwardAll):
    """Forwards every request with the id the test names, as a policy sets it."""

    def __init__(self, engine, pool, rid=b"id-1"):
        super().__init__(engine, pool)
        self.rid = rid

    def on_request(self, conn, head):
        conn.request_id = self.rid
        conn.response_extra = [(b"X-Extra", b"1")]
        super().on_request(conn, head)

    def on_rejected(self, conn, status):
        super().on_rejected(conn, status)
        conn.request_id = b"refused-1"


def with_id_edge(engine, edge):
    e = edge(None)
    e.policy = WithId(engine, e.pool)
    e.client.policy = e.policy
    return e


def test_the_request_id_goes_back_on_the_upstreams_response_once(engine, edge):
    e = with_id_edge(engine, edge)
    e.client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    e.pool.opened[0].data_received(OK)
    assert e.transport.take() == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Extra: 1\r\nX-Request-Id: id-1\r\n\r\nhi"
    e.client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    e.pool.opened[0].data_received(b"HTTP/1.1 200 OK\r\nx-REQUEST-id: id-1\r\nContent-Length: 0\r\n\r\n")
    assert e.transport.take() == b"HTTP/1.1 200 OK\r\nx-REQUEST-id: id-1\r\nContent-Length: 0\r\nX-Extra: 1\r\n\r\n"


def test_the_engines_own_errors_name_the_request_id(engine, edge):
    e = with_id_edge(engine, edge)
    e.client.data_received(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
    e.pool.opened[0].transport.lose()
    body = b"upstream closed the connection (request id id-1)"
    assert e.transport.take() == (
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
        b"X-Extra: 1\r\nX-Request-Id: id-1\r\nConnection: close\r\n\r\n" % len(body)
    )  # a HEAD: the length of the body, not the body


def test_a_refusal_asks_the_policy_first_so_it_can_carry_an_id(engine, edge):
    e = with_id_edge(engine, edge)
    e.client.data_received(b"GET / HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n")
    assert e.transport.take() == (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 37\r\n"
        b"X-Request-Id: refused-1\r\nConnection: close\r\n\r\nduplicate host (request id refused-1)"
    )
