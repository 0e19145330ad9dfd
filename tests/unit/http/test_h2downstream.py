"""The client-facing HTTP/2 protocol driven socket-free: a client session on one side, a recording
policy and a fake upstream leg on the other, on a clock the test moves. Both session builds."""

from __future__ import annotations

import pytest

from dataplane.http.engine import EngineConfig
from dataplane.http.h2downstream import H2ServerConnection
from dataplane.http.h2limits import CANCEL, NO_ERROR, REFUSED_STREAM
from tests.twins import load, twin_params
from tests.unit.engine.fakes import FakeLoop, FakeTransport
from tests.unit.http.h2rig import Recorder

GET = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"h"), (b":path", b"/")]
POST = [(b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"h"), (b":path", b"/up")]
GRPC = POST + [(b"content-type", b"application/grpc"), (b"te", b"trailers")]
WINDOW = 65535


class Loop(FakeLoop):
    def __init__(self):
        super().__init__()
        self.soon = []

    def call_soon(self, callback, *args):
        handle = _Handle(callback, args)
        self.soon.append(handle)
        return handle

    def run_soon(self):
        while self.soon:
            handle = self.soon.pop(0)
            if not handle.cancelled:
                handle.callback(*handle.args)


class _Handle:
    def __init__(self, callback, args):
        self.callback, self.args, self.cancelled = callback, args, False

    def cancel(self):
        self.cancelled = True


class Leg:
    """A fake upstream: takes request bytes up to ``free``, records what the stream asks of it."""

    def __init__(self):
        self.free = 1 << 30
        self.body = bytearray()
        self.ended = False
        self.trailers = None
        self.consumed_bytes = 0
        self.cancelled = []
        self.done_ids = []
        self.stream = None

    def open_stream(self, stream):
        self.stream = stream
        ended = stream.request_end_with_head()
        self.ended = ended
        stream.attach(self, 7)

    def room(self, usid):
        return self.free

    def write(self, usid, data, end):
        self.free -= len(data)
        self.body += data
        self.ended = self.ended or end

    def write_trailers(self, usid, headers):
        self.trailers = headers
        self.ended = True

    def consumed(self, usid, n):
        self.consumed_bytes += n

    def cancel(self, usid):
        self.cancelled.append(usid)

    def done(self, usid):
        self.done_ids.append(usid)


class Policy:
    def __init__(self, leg):
        self.leg = leg
        self.mode = "forward"
        self.events = []
        self.streams = []

    def connection_made(self, conn):
        self.events.append("made")

    def connection_lost(self, conn):
        self.events.append("lost")

    def on_request(self, conn, head):
        self.streams.append(conn)
        self.events.append(("request", head.method, head.target))
        conn.set_timeouts(10.0)
        if self.mode == "forward":
            conn.forward(self.leg, list(GET))
        elif self.mode == "big":
            conn.respond(200, b"x" * 200_000)

    def on_admitted(self, conn):
        pass

    def on_response_start(self, conn, status):
        self.events.append(("start", status))

    def on_done(self, conn):
        self.events.append(("done", conn.status))

    def on_abort(self, conn):
        self.events.append("abort")

    def on_upstream_error(self, conn, reason, retryable):
        conn.fail(502, reason)

    def on_timeout(self, conn):
        conn.fail(504, "request timeout")


@pytest.fixture(params=twin_params("dataplane.http._h2"))
def rig(request):
    module = load(request.param)
    loop = Loop()
    leg = Leg()
    policy = Policy(leg)
    server = H2ServerConnection(loop, policy, EngineConfig(), None, {})
    transport = FakeTransport()
    transport.protocol = server
    server.session_type = module.Session  # the server's session is the build under test too
    server.connection_made(transport)
    handler = Recorder()
    client = module.Session(handler, client=True)
    client.initiate()
    rig = Rig(loop, server, transport, client, handler, policy, leg)
    rig.exchange()
    yield rig
    assert loop.errors == []


class Rig:
    def __init__(self, loop, server, transport, client, handler, policy, leg):
        self.loop, self.server, self.transport = loop, server, transport
        self.client, self.handler, self.policy, self.leg = client, handler, policy, leg

    def exchange(self):
        """Carry bytes both ways (and run what was scheduled) until both sides are quiet."""
        for _ in range(200):
            self.loop.run_soon()
            out = self.client.data_to_send()
            if out:
                self.server.data_received(out)
            back = self.transport.take()
            if back:
                self.client.receive(back)
            if not out and not back and not self.loop.soon:
                return
        raise AssertionError("kept talking")

    def named(self, name):
        return [c for c in self.handler.calls if c[0] == name]


def test_a_queued_stream_reset_by_its_client_is_aborted_and_the_connection_goes_on(rig):
    rig.policy.mode = "hold"
    sid = rig.client.send_request(GET, end_stream=True)
    rig.exchange()
    rig.client.reset_stream(sid, CANCEL)
    rig.exchange()
    assert rig.policy.events[-1] == "abort" and ("done", 0) not in rig.policy.events
    assert rig.server.streams == {}
    rig.policy.mode = "forward"
    sid = rig.client.send_request(GET, end_stream=True)
    rig.exchange()
    rig.leg.stream.response_head(200, [(b":status", b"200")])
    rig.leg.stream.response_end()
    rig.exchange()
    assert rig.named("end")[-1] == ("end", sid) and rig.named("headers")[-1][1] == sid
    assert rig.policy.events[-1] == ("done", 200)


def test_a_body_larger_than_the_clients_window_waits_for_it(rig):
    rig.policy.mode = "big"
    sid = rig.client.send_request(GET, end_stream=True)
    rig.exchange()
    got = sum(len(c[2]) for c in rig.named("data"))
    assert got == WINDOW  # the client consumed nothing: the server sent its window, no more
    assert ("done", 200) not in rig.policy.events
    rig.client.consumed(sid, got)
    rig.exchange()
    while sum(len(c[2]) for c in rig.named("data")) < 200_000:
        rig.client.consumed(sid, WINDOW)
        rig.exchange()
    assert sum(len(c[2]) for c in rig.named("data")) == 200_000
    assert rig.named("end") == [("end", sid)] and rig.policy.events[-1] == ("done", 200)


def test_request_body_is_taken_only_as_the_upstream_takes_it(rig):
    rig.leg.free = 40000  # past half the window: the sessions send WINDOW_UPDATE from there
    sid = rig.client.send_request(POST)
    rig.client.send_data(sid, b"a" * WINDOW)
    rig.exchange()
    assert len(rig.leg.body) == 40000
    assert rig.client.send_window(sid) == 40000  # the client's window reopened by what went on, no more
    rig.leg.free = 1 << 30
    rig.leg.stream.pump_request()
    rig.exchange()
    assert len(rig.leg.body) == WINDOW  # the rest went on once the upstream took it


def test_response_trailers_pass_and_the_stream_ends(rig):
    sid = rig.client.send_request(GRPC)
    rig.client.send_data(sid, b"\x00\x00\x00\x00\x02hi", end_stream=True)
    rig.exchange()
    assert bytes(rig.leg.body) == b"\x00\x00\x00\x00\x02hi" and rig.leg.ended
    stream = rig.leg.stream
    stream.response_head(200, [(b":status", b"200"), (b"content-type", b"application/grpc")])
    stream.response_data(b"\x00\x00\x00\x00\x02ok")
    stream.response_trailers([(b"grpc-status", b"0"), (b"grpc-message", b"")])
    stream.response_end()
    rig.exchange()
    assert rig.named("trailers") == [("trailers", sid, [(b"grpc-status", b"0"), (b"grpc-message", b"")])]
    assert rig.named("end") == [("end", sid)]
    assert rig.leg.done_ids == [7] and rig.policy.events[-1] == ("done", 200)


def test_timeout_before_the_response_is_504_and_grpc_status_4_for_grpc(rig):
    plain = rig.client.send_request(GET, end_stream=True)
    call = rig.client.send_request(GRPC, end_stream=True)
    rig.exchange()
    rig.loop.advance(10.0)
    rig.exchange()
    heads = {c[1]: dict(c[2]) for c in rig.named("headers")}
    assert heads[plain][b":status"] == b"504"
    assert heads[call][b":status"] == b"200" and heads[call][b"grpc-status"] == b"4"
    assert heads[call][b"grpc-message"].startswith(b"request timeout")
    assert rig.leg.cancelled == [7, 7]  # both upstream streams were cancelled


def test_connection_lost_aborts_its_streams_and_cancels_upstream(rig):
    rig.client.send_request(GET, end_stream=True)
    rig.exchange()
    rig.transport.lose()
    assert rig.policy.events[-2:] == ["abort", "lost"]
    assert rig.leg.cancelled == [7]


def test_drain_sends_goaway_and_closes_once_the_open_stream_is_answered(rig):
    sid = rig.client.send_request(GET, end_stream=True)
    rig.exchange()
    rig.server.drain()
    rig.exchange()
    assert rig.named("goaway") == [("goaway", NO_ERROR, sid)] and not rig.transport.closed
    rig.leg.stream.response_head(200, [(b":status", b"200")])
    rig.leg.stream.response_end()
    rig.exchange()
    assert rig.named("end") == [("end", sid)] and rig.transport.closed


class Retrying(Policy):
    """Sends a request refused before the app saw it to a second upstream, as the activator does."""

    def __init__(self, leg, spare):
        super().__init__(leg)
        self.spare = spare
        self.errors = []

    def on_upstream_error(self, conn, reason, retryable):
        self.errors.append(retryable)
        if retryable:
            conn.forward(self.spare, list(GET))
        else:
            conn.fail(502, reason)


@pytest.fixture
def retrying(rig):
    rig.spare = Leg()
    rig.policy = rig.server.policy = Retrying(rig.leg, rig.spare)
    return rig


def test_a_refused_stream_goes_again_whole_with_its_end(retrying):
    rig = retrying
    # the head ends the request
    first = rig.client.send_request(GET, end_stream=True)
    rig.exchange()
    rig.leg.stream.upstream_reset(REFUSED_STREAM)
    rig.exchange()
    assert rig.policy.errors == [True] and rig.spare.ended and rig.spare.stream.sid == first
    # trailers end it, in a later read: they go to the new upstream too, or that stream would never end
    rig.leg.ended = False
    second = rig.client.send_request(POST)
    rig.exchange()
    rig.client.send_trailers(second, [(b"x-check", b"1")])
    rig.exchange()
    assert rig.leg.trailers == [(b"x-check", b"1")] and rig.leg.body == b""
    rig.spare.ended = False
    rig.leg.stream.upstream_reset(REFUSED_STREAM)
    rig.exchange()
    assert rig.policy.errors == [True, True] and rig.spare.stream.sid == second
    assert rig.spare.ended and rig.spare.trailers == [(b"x-check", b"1")]
    rig.spare.stream.response_head(200, [(b":status", b"200")])
    rig.spare.stream.response_end()
    rig.exchange()
    assert ("end", second) in rig.named("end")


def test_a_refused_stream_whose_body_had_left_is_not_sent_again(retrying):
    rig = retrying
    sid = rig.client.send_request(POST)
    rig.client.send_data(sid, b"part one", end_stream=False)
    rig.exchange()
    assert rig.leg.body == b"part one"
    rig.leg.stream.upstream_reset(REFUSED_STREAM)
    rig.exchange()
    # that part is gone from the proxy: sent again it would reach the app cut short
    assert rig.policy.errors == [False] and rig.spare.stream is None
    assert dict(rig.named("headers")[-1][2])[b":status"] == b"502"
