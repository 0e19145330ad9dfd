"""The gRPC health check client: its hand-made messages against protobuf's, and what it makes of
each answer an h2c server on loopback may give (a server on the session twin, both builds)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from grpc_health.v1 import health_pb2

from dataplane.http.grpcprobe import encode_request, grpc_health, grpc_timeout, parse_response
from tests.twins import load, twin_params


def framed(message: bytes, flag: int = 0) -> bytes:
    return bytes([flag]) + len(message).to_bytes(4, "big") + message


def response(status: int) -> bytes:
    return framed(health_pb2.HealthCheckResponse(status=status).SerializeToString())


@pytest.mark.parametrize("service", ["", "test.Echo", "ü" * 70, "x" * 300])
def test_request_is_what_protobuf_encodes(service):
    # 300 bytes: a two-byte length varint
    assert encode_request(service) == framed(health_pb2.HealthCheckRequest(service=service).SerializeToString())


@pytest.mark.parametrize(
    ("seconds", "value"),
    [(0.1, b"100m"), (1, b"1000m"), (0.0001, b"1m"), (0.0015, b"2m"), (99_999.999, b"99999999m"), (2**31 - 1, b"99999999S")],
)
def test_grpc_timeout_fits_eight_digits(seconds, value):
    assert grpc_timeout(seconds) == value


def test_response_status_is_read_past_unknown_fields():
    assert parse_response(response(1)) == 1
    assert parse_response(response(2)) == 2
    assert parse_response(framed(b"")) == 0  # proto3 leaves UNKNOWN out
    # unknown fields of every wire type before the status are skipped
    extra = b"\x12\x03abc" + b"\x19" + bytes(8) + b"\x25" + bytes(4) + b"\x28\x96\x01"
    assert parse_response(framed(extra + b"\x08\x01")) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\x00\x00",
        framed(b"\x08\x01", flag=1),  # compressed, though we asked for none
        framed(b"\x08\x01") + framed(b"\x08\x01"),  # two messages on a unary call
        framed(b"\x08\x01")[:-1],  # shorter than its prefix says
        framed(b"\x08"),  # a key without its value
        framed(b"\x08\xff"),  # a varint that never ends
        framed(b"\x12\x05ab"),  # a length past the message
        framed(b"\x0b\x01"),  # wire type 3 (groups): not in this message
        framed(b"\x08" + b"\xff" * 10 + b"\x01"),  # a varint past 64 bits
    ],
)
def test_malformed_responses_have_no_status(body):
    assert parse_response(body) is None


# -- the client against crafted h2c answers --------------------------------------------------------------


@pytest.fixture(params=twin_params("dataplane.http._h2"))
def h2(request):
    return load(request.param)


class FakeHealth(asyncio.Protocol):
    """An h2c server that answers each request with ``answer(session, stream_id)`` and records it."""

    def __init__(self, module, answer, seen: list) -> None:
        self.session = module.Session(self)
        self.answer = answer
        self.seen = seen
        self.heads: dict = {}
        self.bodies: dict = {}

    def connection_made(self, transport):
        self.transport = transport
        self.session.initiate()
        self.flush()

    def data_received(self, data):
        self.session.receive(data)
        self.flush()

    def flush(self):
        out = self.session.data_to_send()
        if out:
            self.transport.write(out)
        if self.session.closed:
            self.transport.close()

    def on_headers(self, sid, headers):
        self.heads[sid] = headers
        self.bodies[sid] = b""

    def on_data(self, sid, data):
        self.bodies[sid] += data
        self.session.consumed(sid, len(data))

    def on_end(self, sid):
        self.seen.append((self.heads[sid], self.bodies[sid]))
        self.answer(self.session, sid)

    def on_trailers(self, sid, headers):
        pass

    def on_reset(self, sid, code):
        pass

    def on_goaway(self, code, last):
        pass

    def on_settings_acked(self):
        pass

    def on_window_update(self, sid):
        pass


GRPC = [(b":status", b"200"), (b"content-type", b"application/grpc")]


def unary(body: bytes, grpc_status: bytes = b"0", head=GRPC):
    def answer(session, sid):
        session.send_headers(sid, head)
        session.send_data(sid, body)
        session.send_trailers(sid, [(b"grpc-status", grpc_status)])

    return answer


def trailers_only(grpc_status: bytes):
    def answer(session, sid):
        session.send_headers(sid, GRPC + [(b"grpc-status", grpc_status)], end_stream=True)

    return answer


async def ask(h2, answer, service="", timeout=2.0):
    seen: list = []
    server = await asyncio.get_running_loop().create_server(lambda: FakeHealth(h2, answer, seen), "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        result = await grpc_health("127.0.0.1", port, service, timeout, session_class=h2.Session)
    finally:
        server.close()
        await server.wait_closed()
    return result, seen


async def test_the_request_is_kubelets_health_call(h2):
    result, seen = await ask(h2, unary(response(1)), service="test.Echo", timeout=0.25)
    assert (result.serving, result.detail) == (True, "SERVING")
    [(head, body)] = seen
    fields = dict(head)
    assert [name for name, _ in head[:4]] == [b":method", b":scheme", b":path", b":authority"]
    assert (fields[b":method"], fields[b":scheme"], fields[b":path"]) == (b"POST", b"http", b"/grpc.health.v1.Health/Check")
    assert fields[b":authority"].startswith(b"127.0.0.1:")
    assert (fields[b"content-type"], fields[b"te"], fields[b"grpc-timeout"]) == (b"application/grpc", b"trailers", b"250m")
    assert body == framed(health_pb2.HealthCheckRequest(service="test.Echo").SerializeToString())


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (unary(response(2)), "NOT_SERVING"),
        (unary(response(0)), "UNKNOWN"),
        (unary(response(3)), "SERVICE_UNKNOWN"),
        (unary(response(7)), "status 7"),
        (trailers_only(b"5"), "grpc-status 5"),
        # a trailers-only OK carries no message: there is no SERVING in it
        (trailers_only(b"0"), "malformed HealthCheckResponse"),
        (unary(response(1), grpc_status=b"14"), "grpc-status 14"),
        (unary(response(1), grpc_status=b"00"), "grpc-status 00"),
        (unary(response(1), head=[(b":status", b"503"), (b"content-type", b"application/grpc")]), "HTTP status 503"),
        (unary(response(1), head=[(b":status", b"200"), (b"content-type", b"text/plain")]), "content-type 'text/plain' is not gRPC"),
        (unary(framed(b"\x08\x01", flag=1)), "malformed HealthCheckResponse"),
    ],
)
async def test_anything_but_serving_with_status_0_is_not_ready(h2, answer, detail):
    result, _ = await ask(h2, answer)
    assert (result.serving, result.detail) == (False, detail)


async def test_a_response_without_grpc_status_is_not_ready(h2):
    def answer(session, sid):
        session.send_headers(sid, GRPC)
        session.send_data(sid, response(1), end_stream=True)

    result, _ = await ask(h2, answer)
    assert (result.serving, result.detail) == (False, "no grpc-status")


async def test_an_endless_body_is_cut_off(h2):
    def answer(session, sid):
        session.send_headers(sid, GRPC)
        session.send_data(sid, bytes(session.send_window(sid)))  # 64 KiB, never ending

    result, _ = await ask(h2, answer)
    assert (result.serving, result.detail) == (False, "response body over 16384 bytes")


async def test_a_reset_stream_is_not_ready(h2):
    result, _ = await ask(h2, lambda session, sid: session.reset_stream(sid, 0x2))
    assert (result.serving, result.detail) == (False, "stream reset with error code 2")


async def test_a_silent_server_times_out(h2):
    loop = asyncio.get_running_loop()
    started = loop.time()
    result, _ = await ask(h2, lambda session, sid: None, timeout=0.2)
    assert (result.serving, result.detail) == (False, "no answer within 0.2s")
    assert loop.time() - started < 1.0


async def test_nothing_listening_is_refused_at_once(h2):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening
        with pytest.raises(ConnectionRefusedError):
            await grpc_health("127.0.0.1", sock.getsockname()[1], "", 5.0, session_class=h2.Session)
