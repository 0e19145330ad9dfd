# cython: nonecheck=True
"""Connections to one upstream server, and the LIFO pool of idle keep-alive ones.

Both builds run this text: the compiled engine is this module compiled as it is
into ``_upstream_c``, with the C types of ``_upstream_c.pxd``; the client
connection (``downstream``) and these call each other at C level there.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections import deque

from dataplane.http.errors import HttpError
from dataplane.http.limits import MAX_CONNECTING
from dataplane.http.parser import ChunkedScanner, parse_response_head

# how the body of the response being read is delimited
BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_UNTIL_CLOSE = 0, 1, 2, 3


class UpstreamConnection:
    """One connection to the upstream; owned by at most one client connection at a time."""

    def __init__(self, pool: UpstreamPool):
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.client = None  # the ClientConnection whose request this connection carries
        self.buf = bytearray()  # a response head still incomplete
        self.head = None
        self.mode = BODY_NONE
        self.remaining = 0
        self.scanner = ChunkedScanner()
        self.head_only = False
        self.got_bytes = False  # any byte of the current response arrived
        self.tunnel = False
        self.closed = False
        self.reusable = True

    # -- driven by the client connection -------------------------------------------------

    def begin(self, client, head_only: bool) -> None:
        """Start carrying ``client``'s request; ``head_only`` for HEAD (no response body)."""
        self.client = client
        self.head_only = head_only
        self.head = None
        self.got_bytes = False
        if self.buf:
            self.buf.clear()

    def close(self) -> None:
        self.reusable = False
        self.client = None
        if self.transport is not None and not self.closed:
            self.transport.close()

    def abort(self) -> None:
        self.reusable = False
        self.client = None
        if self.transport is not None and not self.closed:
            self.transport.abort()

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport

    # callbacks that reach the client's policy hand what it raises to client.callback_failed

    def data_received(self, data):
        client = self.client
        if client is None:
            # an idle pooled connection must stay silent; anything else means it is unusable
            self.close()
            return
        self.got_bytes = True
        if self.tunnel:
            client.send(data)
            return
        holding = client.hold_writes()
        try:
            if self.head is None:
                if self.buf:
                    self.buf += data
                    data = self.buf
                self._read_head(data)
            else:
                self._read_body(data)
            if holding:
                client.flush_writes()
        except Exception as exc:
            client.callback_failed(exc)  # which also sends or drops what was held

    def eof_received(self):
        client = self.client
        if client is not None and self.head is not None and self.mode == BODY_UNTIL_CLOSE:
            try:
                self._end_response()
            except Exception as exc:
                client.callback_failed(exc)
        return False

    def connection_lost(self, exc):
        self.closed = True
        self.reusable = False
        self.pool.forget(self)
        client = self.client
        self.client = None
        if client is not None:
            try:
                client.upstream_lost(self, exc)
            except Exception as error:
                client.callback_failed(error)

    def pause_writing(self):
        if self.client is not None:
            self.client.pause_for_upstream()

    def resume_writing(self):
        if self.client is not None:
            self.client.resume_for_upstream()

    # -- response parsing -----------------------------------------------------------------

    def _read_head(self, data) -> None:
        client = self.client
        while True:
            try:
                head = parse_response_head(data, client.max_head_size)
            except HttpError as exc:
                self._fail(exc.reason)
                return
            if head is None:
                if data is not self.buf:
                    self.buf += data
                return
            head_len = head.head_len
            rest = data[head_len:]
            status = head.status
            if 100 <= status < 200 and status != 101:
                # interim responses go to the client, then the final one follows
                client.interim_response(head)
                if client is not self.client:
                    return
                data = bytes(rest)
                if self.buf:
                    self.buf.clear()
                if not data:
                    return
                continue
            break
        if self.buf:
            self.buf.clear()
        self.head = head
        if status == 101:
            self.tunnel = True
            self.reusable = False
            client.switch_protocols(head, rest)
            return
        if self.head_only or status == 204 or status == 304:
            self.mode = BODY_NONE
        elif head.chunked:
            self.mode = BODY_CHUNKED
            self.scanner.reset()
        elif head.content_length >= 0:
            self.mode = BODY_LENGTH
            self.remaining = head.content_length
        else:
            self.mode = BODY_UNTIL_CLOSE
            self.reusable = False
        if not head.keep_alive:
            self.reusable = False
        client.response_start(head, self.mode)
        if self.client is not client:
            return
        if self.mode == BODY_NONE or (self.mode == BODY_LENGTH and self.remaining == 0):
            if rest:
                self.reusable = False  # bytes beyond the response: the connection is out of step
            self._end_response()
        elif rest:
            self._read_body(bytes(rest))

    def _read_body(self, data) -> None:
        mode = self.mode
        if mode == BODY_LENGTH:
            n = len(data)
            if n < self.remaining:
                self.remaining -= n
                self.client.response_body(data)
                return
            if n > self.remaining:
                self.reusable = False
                data = data[: self.remaining]
            self.remaining = 0
            self.client.response_body(data)
            self._end_response()
        elif mode == BODY_CHUNKED:
            try:
                end = self.scanner.feed(data, 0)
            except HttpError as exc:
                self._fail(f"bad chunked response body: {exc.reason}")
                return
            if end < len(data):
                self.reusable = False
                data = data[:end]
            self.client.response_body(data)
            if self.scanner.done and self.client is not None:
                self._end_response()
        elif mode == BODY_UNTIL_CLOSE:
            self.client.response_body(data)
        else:
            self.reusable = False

    def _end_response(self) -> None:
        client = self.client
        if client is not None:
            client.response_end(self)

    def _fail(self, reason: str) -> None:
        client = self.client
        self.abort()
        if client is not None:
            client.upstream_error(self, reason)


class UpstreamPool:
    """Keep-alive connections to one ``host:port``, reused newest first (LIFO keeps few sockets warm).

    At most ``max_connecting`` new connections are being opened at once; more wait in
    order and start as earlier ones complete. A burst of requests meeting an empty pool
    (a pod that has just become ready) then sends its first requests after a few
    connects instead of after all of them, and the pod is not hit by a wall of SYNs.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, host: str, port: int, max_idle: int = 100, max_connecting: int = MAX_CONNECTING):
        self.loop = loop
        self.host = host
        self.port = port
        self.max_idle = max_idle
        self.max_connecting = max(1, max_connecting)
        self.idle: list[UpstreamConnection] = []
        self._connecting: dict[asyncio.Task, object] = {}  # connect in progress -> its client
        self.connecting = 0  # connects in progress
        self._waiting: deque = deque()  # clients whose connect has not started yet, oldest first
        self.connections_opened = 0

    def take(self) -> UpstreamConnection | None:
        """The most recently used idle connection, or None."""
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    def give_back(self, conn: UpstreamConnection) -> None:
        conn.client = None
        if not conn.reusable or conn.closed:
            conn.close()
            return
        conn.head = None
        # a client queued for a connect slot takes it at once, rather than waiting for a connect
        waiting = self._waiting
        while waiting:
            client = waiting.popleft()
            if self._wants(client):
                try:
                    client.attach(conn, True)
                except Exception as error:
                    client.callback_failed(error)
                return
        if len(self.idle) < self.max_idle:
            self.idle.append(conn)
        else:
            conn.close()

    def forget(self, conn: UpstreamConnection) -> None:
        if conn in self.idle:
            self.idle.remove(conn)

    def connect(self, client) -> None:
        """Open a new connection for ``client``; it gets ``attach`` or ``connect_failed``.

        The one method a subclass may replace (tests connect to fake transports): the
        engine calls it through the object, the other methods it may call directly."""
        if self.connecting >= self.max_connecting:
            self._waiting.append(client)
            return
        self._start(client)

    def _start(self, client) -> None:
        self.connecting += 1
        task = self.loop.create_task(self._connect(client))
        self._connecting[task] = client
        task.add_done_callback(self._connect_done)

    def _connect_done(self, task: asyncio.Task) -> None:
        self._connecting.pop(task, None)

    def _wants(self, client) -> bool:
        # one that left, was answered or got a connection meanwhile needs none
        return not (client.closed or client.head is None or client.responded or client.upstream is not None or client.target is not self)

    def _connect_ended(self) -> None:
        """A connect succeeded or failed: start the next waiting ones that still want a connection."""
        self.connecting -= 1
        waiting = self._waiting
        while waiting and self.connecting < self.max_connecting:
            client = waiting.popleft()
            if self._wants(client):
                self._start(client)

    async def _connect(self, client) -> None:
        try:
            _, conn = await self.loop.create_connection(lambda: UpstreamConnection(self), self.host, self.port)
        except OSError as exc:
            self._connect_ended()
            try:
                client.connect_failed(self, exc)
            except Exception as error:
                client.callback_failed(error)
            return
        except Exception:
            self._connect_ended()
            raise
        self._connect_ended()
        sock = conn.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections_opened += 1
        try:
            client.attach(conn, False)
        except Exception as error:
            client.callback_failed(error)

    def close(self) -> None:
        """Close the idle connections and abandon the connects: their clients get
        ``connect_failed`` (nothing reached the server) on the next loop iteration."""
        abandoned = list(self._connecting.values())
        abandoned.extend(self._waiting)
        for task in self._connecting:
            task.cancel()
        self._connecting.clear()
        self._waiting.clear()
        self.connecting = 0
        for client in abandoned:
            self.loop.call_soon(self._abandon, client)
        while self.idle:
            self.idle.pop().close()

    def _abandon(self, client) -> None:
        if self._wants(client):
            try:
                client.connect_failed(self, ConnectionAbortedError(errno.ECONNABORTED, "connection pool closed"))
            except Exception as error:
                client.callback_failed(error)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
