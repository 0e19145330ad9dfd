"""The gRPC health check kubelet makes for a ``readinessProbe.grpc``, as a one-shot h2c client.

``grpc_health(host, port, service, timeout)`` opens one h2c connection, calls
``/grpc.health.v1.Health/Check`` with ``HealthCheckRequest{service}`` and returns a
``HealthResult``: serving only when the answer is HTTP 200 with ``grpc-status: 0`` and
one ``HealthCheckResponse`` whose status is SERVING (1). NOT_SERVING, UNKNOWN,
SERVICE_UNKNOWN, an unknown service (``grpc-status: 5``), an HTTP/1.1 answer, a reset
or a timeout are not. A refused connect raises ``ConnectionRefusedError``, so that the
caller can poll sooner. The messages are encoded by hand (two fields), so no gRPC or
protobuf library is needed at run time.
"""

from __future__ import annotations

import asyncio
import math
import socket
from dataclasses import dataclass

from dataplane.http.h2session import Session

PATH = b"/grpc.health.v1.Health/Check"
SERVING = 1
# a HealthCheckResponse is a few bytes; more than this is not a health service
MAX_RESPONSE = 16 * 1024
# grpc-timeout holds at most 8 digits (gRPC over HTTP/2, "Requests")
_MAX_TIMEOUT_DIGITS = 99_999_999


@dataclass(frozen=True, slots=True)
class HealthResult:
    """The verdict of one health check; ``detail`` says why, for logs and tests."""

    serving: bool
    detail: str


def encode_request(service: str) -> bytes:
    """``HealthCheckRequest{service}`` framed as one gRPC message (flag 0, 4-byte length)."""
    name = service.encode("utf-8")
    # proto3 leaves an empty string out; field 1, wire type 2: tag 0x0a, varint length, bytes
    message = b"\x0a" + _varint(len(name)) + name if name else b""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def grpc_timeout(seconds: float) -> bytes:
    """A ``grpc-timeout`` value: milliseconds, rounded up, or whole seconds when too long for 8 digits."""
    ms = max(1, math.ceil(seconds * 1000))
    if ms <= _MAX_TIMEOUT_DIGITS:
        return b"%dm" % ms
    return b"%dS" % min(_MAX_TIMEOUT_DIGITS, math.ceil(seconds))


def parse_response(body: bytes) -> int | None:
    """The ``status`` of a framed ``HealthCheckResponse`` (0 when absent); None when malformed."""
    if len(body) < 5 or body[0] != 0:
        return None  # too short, or compressed: we asked for no compression
    length = int.from_bytes(body[1:5], "big")
    if len(body) != 5 + length:
        return None  # a unary answer is exactly one message
    message = memoryview(body)[5:]
    status = 0
    pos = 0
    while pos < len(message):
        key, pos = _read_varint(message, pos)
        if key is None:
            return None
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(message, pos)
            if value is None:
                return None
            if field == 1:
                status = value
        elif wire == 2:
            size, pos = _read_varint(message, pos)
            if size is None or pos + size > len(message):
                return None
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            if pos > len(message):
                return None
        else:
            return None
    return status


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(data: memoryview, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos


class _HealthCall(asyncio.Protocol):
    """One connection, one stream: the request goes out at connect, the verdict lands in ``result``."""

    def __init__(self, session_class, head: list, body: bytes, result: asyncio.Future) -> None:
        self.session = session_class(self, client=True)
        self.head = head
        self.pending = body
        self.result = result
        self.transport = None
        self.stream_id = 0
        self.status = 0
        self.grpc_status: bytes | None = None
        self.content_type = b""
        self.body = bytearray()

    def finish(self, serving: bool, detail: str) -> None:
        if not self.result.done():
            self.result.set_result(HealthResult(serving, detail))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    # -- asyncio.Protocol

    def connection_made(self, transport) -> None:
        self.transport = transport
        if transport.get_extra_info("sockname") == transport.get_extra_info("peername"):
            # the kernel's unlucky source port: a socket connected to itself, nothing listens
            if not self.result.done():
                self.result.set_exception(ConnectionRefusedError("connected to itself: nothing listens"))
            transport.close()
            return
        self.session.initiate()
        self.stream_id = self.session.send_request(self.head)
        self.send_body()
        self.flush()

    def data_received(self, data) -> None:
        try:
            self.session.receive(data)
        except Exception as exc:  # a handler bug must not hang the probe until its timeout
            self.finish(False, f"HTTP/2 session failed: {exc!r}")
            return
        self.flush()
        if self.session.closed:
            self.finish(False, "connection closed by the HTTP/2 session (not an h2c server?)")

    def eof_received(self):
        return False

    def connection_lost(self, exc) -> None:
        self.finish(False, "connection closed before the answer" + (f": {exc}" if exc else ""))

    def flush(self) -> None:
        data = self.session.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    def send_body(self) -> None:
        room = self.session.send_window(self.stream_id)
        if not self.pending or not room:
            return
        chunk, self.pending = self.pending[:room], self.pending[room:]
        self.session.send_data(self.stream_id, chunk, end_stream=not self.pending)

    # -- the session's handler

    def on_headers(self, stream_id: int, headers: list) -> None:
        status = int(headers[0][1])
        if status < 200:
            return  # an interim response; the real one follows
        self.status = status
        for name, value in headers:
            if name == b"content-type":
                self.content_type = value
            elif name == b"grpc-status":
                self.grpc_status = value  # a trailers-only answer

    def on_data(self, stream_id: int, data: bytes) -> None:
        self.session.consumed(stream_id, len(data))
        self.body += data
        if len(self.body) > MAX_RESPONSE:
            self.session.reset_stream(stream_id, 0x8)  # CANCEL
            self.finish(False, f"response body over {MAX_RESPONSE} bytes")

    def on_trailers(self, stream_id: int, headers: list) -> None:
        for name, value in headers:
            if name == b"grpc-status":
                self.grpc_status = value

    def on_end(self, stream_id: int) -> None:
        self.finish(*self.verdict())

    def verdict(self) -> tuple[bool, str]:
        if self.status != 200:
            return False, f"HTTP status {self.status}"
        if not self.content_type.startswith(b"application/grpc"):
            return False, f"content-type {self.content_type.decode('latin-1')!r} is not gRPC"
        if self.grpc_status != b"0":
            return False, "no grpc-status" if self.grpc_status is None else f"grpc-status {self.grpc_status.decode('latin-1')}"
        status = parse_response(bytes(self.body))
        if status is None:
            return False, "malformed HealthCheckResponse"
        if status != SERVING:
            return False, {0: "UNKNOWN", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}.get(status, f"status {status}")
        return True, "SERVING"

    def on_reset(self, stream_id: int, error_code: int) -> None:
        self.finish(False, f"stream reset with error code {error_code}")

    def on_goaway(self, error_code: int, last_stream_id: int) -> None:
        if last_stream_id < self.stream_id or error_code:
            self.finish(False, f"GOAWAY with error code {error_code}")

    def on_window_update(self, stream_id: int) -> None:
        self.send_body()

    def on_settings_acked(self) -> None:
        pass


async def grpc_health(host: str, port: int, service: str = "", timeout: float = 1.0, session_class=None) -> HealthResult:
    """Ask the gRPC health service at ``host:port`` about ``service`` ("" is the whole server).

    The whole call, connect included, is bounded by ``timeout`` seconds, which the
    server also learns as ``grpc-timeout``. ``session_class`` picks an HTTP/2 session
    build (the one chosen at import by default).
    """
    loop = asyncio.get_running_loop()
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    head = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", PATH),
        (b":authority", authority.encode("ascii")),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
        (b"grpc-timeout", grpc_timeout(timeout)),
        (b"user-agent", b"kube-probe/dataplane"),
    ]
    result = loop.create_future()
    session_class = session_class or Session
    transport = None
    try:
        async with asyncio.timeout(timeout):
            transport, _ = await loop.create_connection(
                lambda: _HealthCall(session_class, head, encode_request(service), result), host, port
            )
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return await result
    except TimeoutError:
        return HealthResult(False, f"no answer within {timeout:g}s")
    finally:
        if transport is not None:
            transport.close()
