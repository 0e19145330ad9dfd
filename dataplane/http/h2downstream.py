"""The client-facing HTTP/2 protocol: one ``H2ServerConnection`` per connection, one ``H2Stream`` per request.

A connection arrives as HTTP/1.1 on the engine's ``ClientConnection``; when its
first bytes are HTTP/2's connection preface the engine hands it over through
``EngineConfig.http2``, which ``http2_handler`` makes. The session
(``h2session.Session``, libnghttp2 or ``h2``) does the framing and answers bad
input; this protocol turns each stream into a request for the same policy as
HTTP/1.1 (see ``h2stream``). Requests whose head arrived in one read are handed
to the policy after the read, so a head that ends the stream goes upstream with
END_STREAM on it. Writes collect in the session and leave once per read, or once
per loop iteration when another connection's read produced them.
"""

from __future__ import annotations

import asyncio

from dataplane.http.h2heads import parse_request
from dataplane.http.h2http1 import H1Pool
from dataplane.http.h2limits import H2Limits
from dataplane.http.h2session import Session
from dataplane.http.h2stream import H2Stream
from dataplane.http.limits import EngineConfig


class H2ServerConnection(asyncio.Protocol):
    """One HTTP/2 client connection on the proxy."""

    session_type = Session  # the build's session; a test may give an instance the other one

    def __init__(self, loop: asyncio.AbstractEventLoop, policy, config: EngineConfig, limits: H2Limits | None, pools: dict):
        self.loop = loop
        self.policy = policy
        self.config = config
        self.limits = limits
        self.pools = pools  # HTTP/1.1 legs by upstream address, shared by the handler's connections
        self.transport = None
        self.session = None
        self.peer_ip = b""
        self.streams: dict[int, H2Stream] = {}
        self.new: list[H2Stream] = []  # heads of the current read, handed to the policy after it
        self.closed = False
        self.paused = False  # the client is not reading: response data waits
        self.draining = False
        self.in_receive = False
        self.flush_handle = None
        self.timer = None
        self.idle_since = 0.0

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer_ip = peer[0].encode()
        self.session = self.session_type(self, limits=self.limits)
        self.session.initiate()
        self.policy.connection_made(self)
        self.idle_since = self.loop.time()
        # the client must complete its preface and SETTINGS as an HTTP/1.1 client its head
        self.timer = self.loop.call_at(self.idle_since + self.config.header_timeout, self._on_timer)
        self.flush()

    def data_received(self, data) -> None:
        self.in_receive = True
        try:
            self.session.receive(data)
        except Exception as exc:  # a handler bug: the session has ended the connection (INTERNAL_ERROR)
            self.loop.call_exception_handler({"message": "HTTP/2 session callback failed", "exception": exc, "protocol": self})
        finally:
            self.in_receive = False
        new = self.new
        if new:
            self.new = []
            self.in_receive = True
            try:
                for stream in new:
                    if stream.head is not None and not stream.closed:
                        try:
                            self.policy.on_request(stream, stream.head)
                        except Exception as exc:
                            stream.callback_failed(exc)
            finally:
                self.in_receive = False
        self.flush()

    def eof_received(self):
        return False

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        for stream in list(self.streams.values()):
            try:
                stream.client_gone()
            except Exception as error:
                self.loop.call_exception_handler({"message": "proxy engine callback failed", "exception": error, "protocol": self})
        self.streams.clear()
        self.policy.connection_lost(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._pump_all()

    # -- writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what the session has queued; close once the session is over."""
        if self.closed:
            return
        data = self.session.data_to_send()
        if data:
            self.transport.write(data)
        if self.session.closed or (self.draining and not self.streams):
            self.closed = True
            self.transport.close()

    def want_flush(self) -> None:
        """Something was queued on the session outside this connection's read: write it soon."""
        if self.in_receive or self.flush_handle is not None or self.closed:
            return
        self.flush_handle = self.loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self.flush_handle = None
        self.flush()

    # -- the session's handler -----------------------------------------------------------------

    def on_headers(self, sid: int, headers: list) -> None:
        stream = H2Stream(self, sid, parse_request(headers))
        self.streams[sid] = stream
        self.new.append(stream)

    def on_data(self, sid: int, data: bytes) -> None:
        stream = self.streams.get(sid)
        if stream is None:
            self.session.consumed(sid, len(data))
            return
        try:
            stream.request_data(data)
        except Exception as exc:
            stream.callback_failed(exc)

    def on_trailers(self, sid: int, headers: list) -> None:
        stream = self.streams.get(sid)
        if stream is not None:
            stream.req_trailers = headers

    def on_end(self, sid: int) -> None:
        stream = self.streams.get(sid)
        if stream is None:
            return
        try:
            stream.request_end()
        except Exception as exc:
            stream.callback_failed(exc)

    def on_reset(self, sid: int, error_code: int) -> None:
        stream = self.streams.get(sid)
        if stream is None:
            return
        try:
            stream.client_gone()
        except Exception as exc:
            self.loop.call_exception_handler({"message": "proxy engine callback failed", "exception": exc, "protocol": self})

    def on_window_update(self, sid: int) -> None:
        if sid == 0:
            self._pump_all()
            return
        stream = self.streams.get(sid)
        if stream is not None:
            try:
                stream.pump_response()
            except Exception as exc:
                stream.callback_failed(exc)

    def on_goaway(self, error_code: int, last_stream_id: int) -> None:
        pass  # the client opens no more streams; the open ones finish

    def on_settings_acked(self) -> None:
        pass

    def _pump_all(self) -> None:
        for stream in list(self.streams.values()):
            if stream.resp_chunks or stream.resp_ended:
                try:
                    stream.pump_response()
                except Exception as exc:
                    stream.callback_failed(exc)

    def http1_pool(self, pool) -> H1Pool:
        """The HTTP/1.1 legs to the engine pool ``pool``'s server (an app that speaks only HTTP/1.1)."""
        legs = self.pools.get(pool.address)
        if legs is None:
            legs = self.pools[pool.address] = H1Pool(self.loop, pool.host, pool.port, self.config)
        return legs

    # -- streams, drain and the idle timer -----------------------------------------------------

    def stream_over(self, stream: H2Stream) -> None:
        """``stream`` is answered or abandoned: the connection forgets it."""
        if self.streams.pop(stream.sid, None) is not None and not self.streams:
            self.idle_since = self.loop.time()
            if self.timer is None and not self.closed:
                self.timer = self.loop.call_at(self.idle_since + self.config.keepalive_timeout, self._on_timer)
        self.want_flush()

    def drain(self) -> None:
        """GOAWAY: no new streams; the connection closes once the open ones are answered."""
        if self.closed or self.draining:
            return
        self.draining = True
        self.session.goaway()
        self.want_flush()

    def _on_timer(self) -> None:
        self.timer = None
        if self.closed:
            return
        now = self.loop.time()
        if not self.session.established:
            self.closed = True
            self.transport.close()
            return
        if self.streams:
            return  # re-armed when the last stream ends
        due = self.idle_since + self.config.keepalive_timeout
        if now < due:
            self.timer = self.loop.call_at(due, self._on_timer)
            return
        self.drain()


def http2_handler(loop: asyncio.AbstractEventLoop, policy, config: EngineConfig, limits: H2Limits | None = None):
    """What ``EngineConfig.http2`` takes: serves a connection that opened with the preface on
    ``H2ServerConnection``, for ``policy``."""
    pools: dict = {}

    def take_over(transport: asyncio.Transport, data: bytes) -> None:
        proto = H2ServerConnection(loop, policy, config, limits, pools)
        transport.set_protocol(proto)
        proto.connection_made(transport)
        if data:
            proto.data_received(data)

    take_over.pools = pools  # so the owner can close the HTTP/1.1 legs' idle connections
    return take_over


def close_pools(handler) -> None:
    """Close the idle HTTP/1.1 connections an ``http2_handler`` keeps."""
    for pool in handler.pools.values():
        pool.close()


__all__ = ["H2ServerConnection", "close_pools", "http2_handler"]
