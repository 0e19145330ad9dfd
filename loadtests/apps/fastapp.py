"""A fast local HTTP/1.1 app to stand behind the proxies under test.

Every request gets the same small ``200 OK``, but a queue-proxy health probe
(``K-Network-Probe: queue``), which gets ``queue`` as a queue-proxy would answer it. It is an ``asyncio.Protocol``
on uvloop with no framework, so that its own cost per request stays small
next to the proxy being measured. Keep-alive and pipelining are supported:
pipelined requests are answered in the order they arrived.

    python -m loadtests.apps.fastapp --port 8080 [--sleep-ms 5]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal

import uvloop

BODY = b"ok\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n"
    b"\r\n" + BODY
)
RESPONSE_CLOSE = RESPONSE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
# a queue-proxy's answer to its health probe, so that an activator can stand in front of this app directly
PROBE_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nqueue"
PROBE_RESPONSE_CLOSE = PROBE_RESPONSE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
)
NOT_IMPLEMENTED = b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

MAX_HEAD = 64 * 1024


class RequestHead:
    """What the framing of one request needs from its head."""

    __slots__ = ("content_length", "close", "chunked", "probe")

    def __init__(self, content_length: int, close: bool, chunked: bool, probe: bool = False) -> None:
        self.content_length = content_length
        self.close = close
        self.chunked = chunked
        self.probe = probe  # K-Network-Probe: queue


def parse_head(head: bytes) -> RequestHead | None:
    """Parse a request head (without the final blank line); None if malformed."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return None
    close = parts[2] == b"HTTP/1.0"
    length = 0
    chunked = False
    probe = False
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            return None
        name = name.strip().lower()
        if name == b"content-length":
            value = value.strip()
            if not value.isdigit():
                return None
            length = int(value)
        elif name == b"connection":
            tokens = value.strip().lower()
            if b"close" in tokens:
                close = True
            elif b"keep-alive" in tokens:
                close = False
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"k-network-probe":
            probe = value.strip() == b"queue"
    return RequestHead(length, close, chunked, probe)


class FastAppProtocol(asyncio.Protocol):
    """One connection: frame requests, answer each with a fixed response."""

    def __init__(self, sleep_s: float, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._sleep_s = sleep_s
        self._loop = loop or asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._body_left = 0  # bytes of the current request body still to skip
        self._closing = False
        # Answers waiting for their delay, oldest first: a timer that fires
        # sends the oldest, which keeps pipelined answers in order even if
        # two timers with the same deadline fire swapped.
        self._pending: collections.deque[bytes] = collections.deque()
        self._timers: collections.deque[asyncio.TimerHandle] = collections.deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._buf += data
        while self._buf and not self._closing:
            if self._body_left:
                skip = min(self._body_left, len(self._buf))
                del self._buf[:skip]
                self._body_left -= skip
                continue
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEAD:
                    self._fail(HEADERS_TOO_LARGE)
                return
            head = parse_head(bytes(self._buf[:end]))
            del self._buf[: end + 4]
            if head is None:
                self._fail(BAD_REQUEST)
            elif head.chunked:
                self._fail(NOT_IMPLEMENTED)
            else:
                self._body_left = head.content_length
                if head.probe:
                    self._answer(PROBE_RESPONSE_CLOSE if head.close else PROBE_RESPONSE, head.close)
                else:
                    self._answer(RESPONSE_CLOSE if head.close else RESPONSE, head.close)

    def _answer(self, response: bytes, close: bool) -> None:
        if close:
            # Read nothing more; the connection ends after this answer.
            self._closing = True
        if self._sleep_s <= 0:
            self._send(response)
            return
        self._pending.append(response)
        self._timers.append(self._loop.call_later(self._sleep_s, self._send_oldest))

    def _send_oldest(self) -> None:
        if self._timers:
            self._timers.popleft()
        if self._pending:
            self._send(self._pending.popleft())

    def _send(self, response: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(response)
        if self._closing and not self._pending:
            transport.close()

    def _fail(self, response: bytes) -> None:
        self._buf.clear()
        self._answer(response, close=True)

    def pause_writing(self) -> None:
        # A client that pipelines without reading must not grow our buffer.
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._closing:
            self._transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._pending.clear()
        self._transport = None


async def serve(host: str, port: int, sleep_ms: float) -> None:
    """Serve until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    server = await loop.create_server(
        lambda: FastAppProtocol(sleep_ms / 1000.0), host, port, backlog=4096, reuse_address=True
    )
    async with server:
        await stop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sleep-ms", type=float, default=0.0, help="delay before each answer, ms")
    args = parser.parse_args(argv)
    uvloop.run(serve(args.host, args.port, args.sleep_ms))


if __name__ == "__main__":
    main()
