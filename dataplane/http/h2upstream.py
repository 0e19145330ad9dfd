"""h2c to the app: pooled HTTP/2 connections, each carrying many streams at once.

``H2UpstreamPool(loop, host, port)`` is what a policy hands ``H2Stream.forward``
for an app whose port speaks h2c. A stream goes on the first connection with room
(fewer open streams than the app's SETTINGS_MAX_CONCURRENT_STREAMS); when none has
room, one more connection is opened (never more than one connect at a time, and at
most ``max_connections``), and streams wait in order until its SETTINGS arrive. A
connection the app sends GOAWAY on takes no new streams; its open ones finish.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque

from dataplane.http.h2limits import CANCEL, H2Limits
from dataplane.http.h2session import Session

MAX_CONNECTIONS = 32


class H2UpstreamConnection(asyncio.Protocol):
    """One h2c connection to the app; the upstream leg of its streams (see ``h2stream``)."""

    def __init__(self, pool: H2UpstreamPool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.session = Session(self, client=True, limits=pool.limits)
        self.transport = None
        self.streams: dict = {}  # upstream stream id -> H2Stream
        self.ready = False  # the app's SETTINGS arrived
        self.going_away = False
        self.closed = False
        self.paused = False
        self.in_receive = False
        self.flush_handle = None

    def room_for_streams(self) -> int:
        if not self.ready or self.going_away or self.closed:
            return 0
        return self.session.peer_max_streams - len(self.streams)

    def start(self, stream) -> None:
        """Open a stream for ``stream``'s request."""
        end = stream.request_end_with_head()
        usid = self.session.send_request(stream.upstream_head, end)
        self.streams[usid] = stream
        stream.attach(self, usid)
        self.want_flush()

    # -- the leg's methods, called by H2Stream -------------------------------------------------

    def room(self, usid: int) -> int:
        return 0 if self.paused else self.session.send_window(usid)

    def write(self, usid: int, data: bytes, end: bool) -> None:
        self.session.send_data(usid, data, end)
        self.want_flush()

    def write_trailers(self, usid: int, headers: list) -> None:
        self.session.send_trailers(usid, headers)
        self.want_flush()

    def consumed(self, usid: int, n: int) -> None:
        self.session.consumed(usid, n)
        self.want_flush()

    def cancel(self, usid: int) -> None:
        if self.streams.pop(usid, None) is not None:
            self.session.reset_stream(usid, CANCEL)
            self.want_flush()
            self.pool.room_made()

    def done(self, usid: int) -> None:
        if self.streams.pop(usid, None) is not None:
            self.want_flush()
            self.pool.room_made()

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.pool.conns.append(self)  # now, so that the app's SETTINGS find it in the pool
        self.session.initiate()
        self.flush()

    def data_received(self, data) -> None:
        self.in_receive = True
        try:
            self.session.receive(data)
        except Exception as exc:
            self.loop.call_exception_handler({"message": "HTTP/2 session callback failed", "exception": exc, "protocol": self})
        finally:
            self.in_receive = False
        for stream in list(self.streams.values()):
            if stream.head_pending():
                # a head without data in this read: it goes now (gRPC's initial metadata)
                try:
                    stream.pump_response()
                except Exception as exc:
                    stream.callback_failed(exc)
        if not self.ready and self.session.established:
            self.ready = True
            self.pool.room_made()
        self.flush()

    def eof_received(self):
        return False

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        self.pool.forget(self, exc)
        streams = list(self.streams.values())
        self.streams.clear()
        reason = "upstream closed the connection" if exc is None else f"upstream connection error: {exc}"
        for stream in streams:
            try:
                stream.upstream_lost(reason)
            except Exception as error:
                stream.callback_failed(error)
            stream.conn.want_flush()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        for stream in list(self.streams.values()):
            stream.pump_request()

    def flush(self) -> None:
        if self.closed:
            return
        data = self.session.data_to_send()
        if data:
            self.transport.write(data)
        if self.session.closed:
            self.closed = True
            self.transport.close()

    def want_flush(self) -> None:
        if self.in_receive or self.flush_handle is not None or self.closed:
            return
        self.flush_handle = self.loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self.flush_handle = None
        self.flush()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.session.goaway()
            self.flush()
            self.transport.close()

    # -- the session's handler ------------------------------------------------------------------

    def _call(self, usid: int, method: str, *args) -> None:
        stream = self.streams.get(usid)
        if stream is None:
            return
        try:
            getattr(stream, method)(*args)
        except Exception as exc:
            stream.callback_failed(exc)
        stream.conn.want_flush()

    def on_headers(self, usid: int, headers: list) -> None:
        # the session checked the head: :status comes first and is three digits
        self._call(usid, "response_head", int(headers[0][1]), headers)

    def on_data(self, usid: int, data: bytes) -> None:
        if usid not in self.streams:
            self.session.consumed(usid, len(data))
            return
        self._call(usid, "response_data", data)

    def on_trailers(self, usid: int, headers: list) -> None:
        self._call(usid, "response_trailers", headers)

    def on_end(self, usid: int) -> None:
        self._call(usid, "response_end")

    def on_reset(self, usid: int, error_code: int) -> None:
        stream = self.streams.pop(usid, None)
        if stream is None:
            return
        self.pool.room_made()
        try:
            stream.upstream_reset(error_code)
        except Exception as exc:
            stream.callback_failed(exc)
        stream.conn.want_flush()

    def on_window_update(self, usid: int) -> None:
        targets = list(self.streams.values()) if usid == 0 else [self.streams.get(usid)]
        for stream in targets:
            if stream is not None:
                try:
                    stream.pump_request()
                except Exception as exc:
                    stream.callback_failed(exc)

    def on_goaway(self, error_code: int, last_stream_id: int) -> None:
        self.going_away = True
        self.pool.forget(self, None)

    def on_settings_acked(self) -> None:
        pass


class H2UpstreamPool:
    """h2c connections to one ``host:port``, streams multiplexed on them."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        host: str,
        port: int,
        limits: H2Limits | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.loop = loop
        self.host = host
        self.port = port
        self.limits = limits
        self.max_connections = max_connections
        self.conns: list[H2UpstreamConnection] = []
        self.waiting: deque = deque()  # streams waiting for room, oldest first
        self.connecting = 0
        self.connections_opened = 0
        self._tasks: set[asyncio.Task] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def open_stream(self, stream) -> None:
        """Send ``stream``'s request on a connection with room, now or once there is one."""
        if not self.waiting:
            for conn in self.conns:
                if conn.room_for_streams() > 0:
                    conn.start(stream)
                    return
        self.waiting.append(stream)
        self._grow()

    def room_made(self) -> None:
        """A connection got ready or a stream ended: start waiting streams where there is room."""
        waiting = self.waiting
        while waiting:
            stream = waiting[0]
            if not stream.wants_upstream(self):
                waiting.popleft()
                continue
            conn = next((c for c in self.conns if c.room_for_streams() > 0), None)
            if conn is None:
                break
            waiting.popleft()
            try:
                conn.start(stream)
            except Exception as exc:
                stream.callback_failed(exc)
            stream.conn.want_flush()
        self._grow()

    def _grow(self) -> None:
        if not self.waiting or self.connecting:
            return
        if any(not c.ready and not c.closed for c in self.conns):
            return  # one is on its way: its SETTINGS say how many streams it takes
        if len(self.conns) >= self.max_connections:
            return
        self.connecting += 1
        task = self.loop.create_task(self._connect())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self) -> None:
        try:
            _, conn = await self.loop.create_connection(lambda: H2UpstreamConnection(self), self.host, self.port)
        except OSError as exc:
            self.connecting -= 1
            self._fail_waiting(exc)
            return
        self.connecting -= 1
        sock = conn.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections_opened += 1

    def _fail_waiting(self, exc: OSError) -> None:
        waiting, self.waiting = self.waiting, deque()
        for stream in waiting:
            if stream.wants_upstream(self):
                try:
                    stream.connect_failed(self.address, exc)
                except Exception as error:
                    stream.callback_failed(error)
                stream.conn.want_flush()

    def forget(self, conn: H2UpstreamConnection, exc) -> None:
        """``conn`` takes no new streams (closed, or the app said GOAWAY)."""
        try:
            self.conns.remove(conn)
        except ValueError:
            pass
        if not conn.ready and conn.closed and self.waiting:
            # the app closed before its SETTINGS: it does not speak h2c, or it is failing
            self._fail_waiting(ConnectionResetError(f"closed before HTTP/2 settings{': ' + str(exc) if exc else ''}"))
            return
        self._grow()

    def close(self) -> None:
        """Close every connection; waiting streams fail as not dialled."""
        for task in self._tasks:
            task.cancel()
        for conn in list(self.conns):
            conn.close()
        self.conns.clear()
        if self.waiting:
            self.loop.call_soon(self._fail_waiting, ConnectionAbortedError("connection pool closed"))
