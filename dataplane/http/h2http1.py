"""HTTP/2 requests to an app that speaks only HTTP/1.1: one request per connection at a time, kept alive.

The engine's own upstream connection serves its HTTP/1.1 client connection only
(the compiled one is typed for it), so this is a small HTTP/1.1 client of its own
on the same strict parser. The request's body goes with its ``content-length``, or
chunked when the client sent none; request trailers are dropped (HTTP/1.1 apps
rarely read them). The response is parsed, a chunked body decoded, and its head
turned into an HTTP/2 one; the app's socket is read only as fast as the client's
window takes the body.
"""

from __future__ import annotations

import asyncio
from collections import deque

from dataplane.http.engine import Dechunker
from dataplane.http.errors import HttpError
from dataplane.http.h2heads import http1_request, http1_response_head
from dataplane.http.limits import EngineConfig
from dataplane.http.parser import ChunkedScanner, parse_response_head

# request bytes handed to the socket before waiting for it to drain (pause_writing stops us first)
ROOM = 256 * 1024
NONE, LENGTH, CHUNKED, UNTIL_CLOSE = 0, 1, 2, 3


class H1Leg(asyncio.Protocol):
    """One HTTP/1.1 connection to the app, carrying one HTTP/2 stream's request at a time."""

    def __init__(self, pool: H1Pool) -> None:
        self.pool = pool
        self.transport = None
        self.stream = None
        self.chunked_request = False
        self.buf = bytearray()
        self.head = None
        self.mode = NONE
        self.remaining = 0
        self.scanner = ChunkedScanner()
        self.dechunker = None
        self.reusable = True
        self.closed = False
        self.paused = False
        self.reading_paused = False

    def start(self, stream) -> None:
        self.stream = stream
        self.head = None
        self.buf.clear()
        headers = stream.upstream_head
        if stream.request_end_with_head():
            length = 0
        else:
            length = -1
            for name, value in headers:
                if name == b"content-length":
                    length = int(value)
                    break
        self.chunked_request = length < 0
        self.transport.write(http1_request(headers, length))
        stream.attach(self, 1)

    # -- the leg's methods, called by H2Stream ---------------------------------------------------

    def room(self, usid: int) -> int:
        return 0 if self.paused or self.closed else ROOM

    def write(self, usid: int, data: bytes, end: bool) -> None:
        if self.closed:
            return
        if self.chunked_request:
            if data:
                self.transport.write(b"%x\r\n" % len(data) + data + b"\r\n")
            if end:
                self.transport.write(b"0\r\n\r\n")
        elif data:
            self.transport.write(data)

    def write_trailers(self, usid: int, headers: list) -> None:
        self.write(usid, b"", True)  # HTTP/1.1 apps get no request trailers

    def consumed(self, usid: int, n: int) -> None:
        stream = self.stream
        if self.reading_paused and (stream is None or not stream.resp_chunks) and not self.closed:
            self.reading_paused = False
            self.transport.resume_reading()

    def cancel(self, usid: int) -> None:
        self.stream = None
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def done(self, usid: int) -> None:
        self.stream = None
        if self.reusable and self.head is not None and self.mode == NONE and not self.buf:
            self.pool.give_back(self)
        elif not self.closed:
            self.reusable = False
            self.transport.close()

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data) -> None:
        stream = self.stream
        if stream is None:
            self.reusable = False  # an idle connection must stay silent
            self.transport.close()
            return
        try:
            if self.head is None:
                self.buf += data
                self._read_head()
            else:
                self._read_body(data)
        except Exception as exc:
            stream.callback_failed(exc)
        stream.conn.want_flush()
        if self.stream is not None and stream.resp_chunks and not self.closed and not self.reading_paused:
            # the client's window is shut: read no more from the app until it opens
            self.reading_paused = True
            self.transport.pause_reading()

    def eof_received(self):
        if self.stream is not None and self.head is not None and self.mode == UNTIL_CLOSE:
            self.mode = NONE
            self.reusable = False
            self.stream.response_end()
            if self.stream is not None:
                self.stream.conn.want_flush()
        return False

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.reusable = False
        self.pool.forget(self)
        stream = self.stream
        self.stream = None
        if stream is not None:
            reason = "upstream closed the connection" if exc is None else f"upstream connection error: {exc}"
            stream.upstream_lost(reason)
            stream.conn.want_flush()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.stream is not None:
            self.stream.pump_request()

    # -- the response -----------------------------------------------------------------------------

    def _read_head(self) -> None:
        stream = self.stream
        while True:
            try:
                head = parse_response_head(self.buf, self.pool.config.max_head_size)
            except HttpError as exc:
                self._fail(exc.reason)
                return
            if head is None:
                return
            rest = bytes(self.buf[head.head_len :])
            self.buf.clear()
            if 100 <= head.status < 200:
                if head.status == 101:
                    self._fail("upstream switched protocols, which HTTP/2 cannot carry")
                    return
                stream.response_head(head.status, [])
                self.buf += rest
                continue
            break
        self.head = head
        status = head.status
        if stream.upstream_head[0][1] == b"HEAD" or status in (204, 304):
            self.mode = NONE
        elif head.chunked:
            self.mode = CHUNKED
            self.scanner.reset()
            self.dechunker = Dechunker()
        elif head.content_length >= 0:
            self.mode = LENGTH
            self.remaining = head.content_length
        else:
            self.mode = UNTIL_CLOSE
            self.reusable = False
        if not head.keep_alive:
            self.reusable = False
        stream.response_head(status, http1_response_head(head))
        if self.mode == NONE or (self.mode == LENGTH and self.remaining == 0):
            self.mode = NONE
            if rest:
                self.reusable = False
            stream.response_end()
        elif rest:
            self._read_body(rest)

    def _read_body(self, data) -> None:
        stream = self.stream
        mode = self.mode
        if mode == LENGTH:
            if len(data) >= self.remaining:
                if len(data) > self.remaining:
                    self.reusable = False
                data = data[: self.remaining]
                self.remaining = 0
                self.mode = NONE
                if data:
                    stream.response_data(bytes(data))
                if self.stream is not None:
                    stream.response_end()
                return
            self.remaining -= len(data)
            stream.response_data(bytes(data))
        elif mode == CHUNKED:
            try:
                end = self.scanner.feed(data, 0)
            except HttpError as exc:
                self._fail(f"bad chunked response body: {exc.reason}")
                return
            if end < len(data):
                self.reusable = False
                data = data[:end]
            payload = self.dechunker.feed(data)
            if payload:
                stream.response_data(payload)
            if self.scanner.done and self.stream is not None:
                self.mode = NONE
                stream.response_end()
        elif mode == UNTIL_CLOSE:
            stream.response_data(bytes(data))
        else:
            self.reusable = False

    def _fail(self, reason: str) -> None:
        stream = self.stream
        self.cancel(0)
        if stream is not None:
            stream.upstream_lost(reason)


class H1Pool:
    """Idle HTTP/1.1 connections to one app, reused newest first."""

    def __init__(self, loop: asyncio.AbstractEventLoop, host: str, port: int, config: EngineConfig, max_idle: int = 100) -> None:
        self.loop = loop
        self.host = host
        self.port = port
        self.config = config
        self.max_idle = max_idle
        self.idle: list[H1Leg] = []
        self._tasks: set[asyncio.Task] = set()
        self.waiting: deque = deque()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def open_stream(self, stream) -> None:
        while self.idle:
            leg = self.idle.pop()
            if not leg.closed:
                leg.start(stream)
                return
        task = self.loop.create_task(self._connect(stream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, stream) -> None:
        try:
            _, leg = await self.loop.create_connection(lambda: H1Leg(self), self.host, self.port)
        except OSError as exc:
            if stream.wants_upstream(stream.target):
                try:
                    stream.connect_failed(self.address, exc)
                except Exception as error:
                    stream.callback_failed(error)
                stream.conn.want_flush()
            return
        if not stream.wants_upstream(stream.target):
            self.give_back(leg)
            return
        try:
            leg.start(stream)
        except Exception as error:
            stream.callback_failed(error)
        stream.conn.want_flush()

    def give_back(self, leg: H1Leg) -> None:
        if leg.reusable and not leg.closed and len(self.idle) < self.max_idle:
            self.idle.append(leg)
        else:
            leg.cancel(0)

    def forget(self, leg: H1Leg) -> None:
        try:
            self.idle.remove(leg)
        except ValueError:
            pass

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        while self.idle:
            self.idle.pop().cancel(0)
