"""One HTTP/2 request on the proxy: to the policy, what ``ClientConnection`` is for an HTTP/1.1 one.

The policy sees an ``H2Stream`` in ``on_request`` and uses the engine's contract on
it (``respond``, ``forward``, ``set_timeouts``, ``admitted``, ``fail``, ``slot``,
``request_id``, ``response_extra``, ``status``...; ``dataplane.http.engine``), so
one policy serves both protocols. ``forward`` takes an ``H2UpstreamPool`` (the app
speaks h2c: the stream is multiplexed on a pooled connection) or the engine's
``UpstreamPool`` (the app speaks HTTP/1.1: the request is translated, see
``h2http1``). Bodies move in both directions only as the receiving side's window
allows, and the sending side's window reopens only for what was passed on, so a
stream holds at most what the two sessions advertised. For a gRPC request the
proxy's own errors are gRPC's trailers-only answers (``grpc-status``), and a
shorter ``grpc-timeout`` replaces the revision's timeout.

The stream talks to its upstream "leg" through five methods (``room``, ``write``,
``write_trailers``, ``consumed``, ``cancel``, each given the upstream stream id)
and hears back through ``response_head``, ``response_data``,
``response_trailers``, ``response_end``, ``upstream_reset`` and ``upstream_lost``.
"""

from __future__ import annotations

from collections import deque

from dataplane.http import h2heads
from dataplane.http.h2limits import CANCEL, NO_ERROR, REFUSED_STREAM
from dataplane.http.heads import TEXT, with_request_id


def take(chunks: deque, room: int) -> bytes:
    """Up to ``room`` bytes from the front of ``chunks`` (one chunk, or the front of one)."""
    chunk = chunks[0]
    if len(chunk) <= room:
        chunks.popleft()
        return chunk
    chunks[0] = chunk[room:]
    return chunk[:room]


class H2Stream:
    """One request on an HTTP/2 client connection, from its head to the end of its response."""

    def __init__(self, conn, sid: int, head: h2heads.H2Head) -> None:
        self.conn = conn
        self.sid = sid
        self.head = head  # None once the request is over, as with ClientConnection
        self.loop = conn.loop
        self.policy = conn.policy
        self.peer_ip = conn.peer_ip
        self.closed = False  # the client reset the stream or left
        self.slot = None
        self.response_extra = None
        self.request_id = b""
        self.status = 0
        self.upstream_head = None
        self.target = None
        self.responded = False  # the response head went to the client
        self.up = None  # the upstream leg carrying the request
        self.usid = 0
        # request body, held until the upstream's window takes it
        self.req_chunks: deque = deque()
        self.req_ended = False
        self.req_trailers = None
        self.req_sent_end = False
        self.body_passed = False  # request body went upstream: the request cannot be sent again
        # response, held until the client's window takes it
        self.resp_head = None  # a head not sent yet
        self.resp_chunks: deque = deque()
        self.resp_ended = False
        self.resp_trailers = None
        # where the gRPC messages passed to the client stand (see h2heads.grpc_walk)
        self.grpc_need = 0
        self.grpc_prefix = b""
        # timeouts (see set_timeouts)
        self.timer = None
        self.timeout_total = 0.0
        self.timeout_start = 0.0
        self.timeout_idle = 0.0
        self.started_at = 0.0
        self.last_write = 0.0

    # -- called by the policy ------------------------------------------------------------

    def set_timeouts(self, total: float, response_start: float = 0.0, idle: float = 0.0) -> None:
        """As ``ClientConnection.set_timeouts``; a client's shorter ``grpc-timeout`` wins."""
        grpc_timeout = self.head.grpc_timeout if self.head is not None else 0.0
        if grpc_timeout and grpc_timeout < total:
            total = grpc_timeout
        now = self.loop.time()
        self.started_at = now
        self.last_write = now
        self.timeout_total = total
        self.timeout_start = response_start
        self.timeout_idle = idle
        first = total
        if response_start and response_start < first:
            first = response_start
        if idle and idle < first:
            first = idle
        self._arm(now + first)

    def forward(self, pool, upstream_head) -> None:
        """Send the request on to ``pool``'s server with the header list ``upstream_head``."""
        self.target = pool
        self.upstream_head = upstream_head
        # sent again after a retryable error (nothing of the body had left): its end goes again too
        self.req_sent_end = False
        if hasattr(pool, "open_stream"):
            pool.open_stream(self)
        else:
            # the session refused every head an HTTP/1.1 reader could take differently (h2headers)
            self.conn.http1_pool(pool).open_stream(self)

    def respond(self, status: int, body: bytes, extra=None, content_type: bytes = TEXT) -> None:
        """Answer the request from the proxy itself (gRPC: an error status is a trailers-only answer)."""
        head = self.head
        if head is None or self.responded or self.closed:
            return
        if extra is None:
            extra = self.response_extra
        self.status = status
        self.resp_chunks.clear()
        self.resp_trailers = None
        self.resp_ended = True
        if head.grpc and status >= 300:
            self.resp_head = h2heads.grpc_error_head(status, body, extra, self.request_id)
        else:
            self.resp_head = h2heads.simple_head(status, len(body), content_type, extra, self.request_id)
            if body and head.method != b"HEAD":
                self.resp_chunks.append(body)
        self.pump_response()

    def admitted(self) -> None:
        """A breaker handed this waiting request its slot."""
        self.policy.on_admitted(self)

    def fail(self, status: int, reason: str) -> None:
        """The request cannot be served: answer ``status`` if nothing was sent yet; else end a
        gRPC call that stands between messages with its status in trailers, or reset the stream."""
        self._drop_upstream()
        message = with_request_id(reason.encode(), self.request_id)
        if not self.responded:
            self.respond(status, message)
        elif self.head is not None and self.head.grpc and not self.grpc_need and not self.grpc_prefix:
            self.resp_trailers = h2heads.grpc_trailers(status, message)
            self.resp_ended = True
            self.pump_response()
        else:
            self._reset(CANCEL)

    def callback_failed(self, exc: Exception) -> None:
        """A callback raised: report it, and answer 500 if nothing was sent yet, else reset."""
        self.loop.call_exception_handler({"message": "proxy engine callback failed", "exception": exc, "protocol": self})
        if self.head is None:
            return
        try:
            self.fail(500, "internal error")
        except Exception:
            self._reset(CANCEL)

    # -- request body, from the client's session -------------------------------------------------

    def request_data(self, data: bytes) -> None:
        if self.head is None:
            self.conn.session.consumed(self.sid, len(data))
            return
        self.req_chunks.append(data)
        if self.up is not None:
            self.pump_request()

    def request_end(self) -> None:
        self.req_ended = True
        if self.up is not None:
            self.pump_request()

    def pump_request(self) -> None:
        """Pass on what the upstream's window takes; the client's window reopens as much."""
        up = self.up
        if up is None or self.req_sent_end:
            return
        chunks = self.req_chunks
        usid = self.usid
        passed = 0
        while chunks:
            room = up.room(usid)
            if room <= 0:
                break
            part = take(chunks, room)
            passed += len(part)
            last = self.req_ended and not chunks and self.req_trailers is None
            up.write(usid, part, last)
            if last:
                self.req_sent_end = True
        if self.req_ended and not chunks and not self.req_sent_end:
            self.req_sent_end = True
            if self.req_trailers is not None:
                up.write_trailers(usid, self.req_trailers)
            else:
                up.write(usid, b"", True)
        if passed:
            self.body_passed = True
            self.conn.session.consumed(self.sid, passed)
            self.conn.want_flush()

    # -- upstream attachment ---------------------------------------------------------------------

    def wants_upstream(self, pool) -> bool:
        """Still waiting for a connection from ``pool``."""
        return self.head is not None and not self.closed and not self.responded and self.up is None and self.target is pool

    def attach(self, up, usid: int) -> None:
        """The request went out as ``usid`` on ``up`` (its head, and its end when it has no body)."""
        self.up = up
        self.usid = usid
        self.pump_request()

    def request_end_with_head(self) -> bool:
        """The head alone is the whole request: the upstream head carries END_STREAM."""
        if self.req_ended and not self.req_chunks and self.req_trailers is None:
            self.req_sent_end = True
            return True
        return False

    def connect_failed(self, address: str, exc: OSError) -> None:
        if self.head is None or self.closed:
            return
        self.policy.on_upstream_error(self, f"dial {address}: {exc.strerror or exc}", True)

    def upstream_reset(self, code: int) -> None:
        self.up = None
        if self.head is None:
            return
        if self.responded:
            self._reset(code if code != NO_ERROR else CANCEL)
            return
        # refused before the app saw it (RFC 9113 §8.7): another upstream may take it, if the head
        # and whatever body is still held here are the whole request
        retryable = code == REFUSED_STREAM and self.resp_head is None and not self.resp_chunks and not self.body_passed
        self.policy.on_upstream_error(self, f"upstream reset the stream (HTTP/2 error {code})", retryable)

    def upstream_lost(self, reason: str) -> None:
        self.up = None
        if self.head is not None:
            self.policy.on_upstream_error(self, reason, False)

    # -- response, from the upstream ------------------------------------------------------------

    def response_head(self, status: int, headers: list) -> None:
        """The upstream's response head (``headers`` without pseudo-fields, as sent)."""
        if self.head is None:
            return
        if status < 200:
            if status != 101 and not self.responded:
                self.conn.session.send_headers(self.sid, [(b":status", b"%d" % status)])
                self.conn.want_flush()
            return
        self.status = status
        self.resp_head = h2heads.h2_response_head(status, headers, self.response_extra, self.request_id)
        self.policy.on_response_start(self, status)

    def response_data(self, data: bytes) -> None:
        if self.head is None:
            return
        self.resp_chunks.append(data)
        self.pump_response()

    def response_trailers(self, headers: list) -> None:
        if self.head is not None:
            self.resp_trailers = [(n, v) for n, v in headers if n not in h2heads.CONNECTION_SPECIFIC]

    def response_end(self) -> None:
        if self.head is None:
            return
        self.resp_ended = True
        self.pump_response()

    def head_pending(self) -> bool:
        return self.resp_head is not None and self.head is not None

    def pump_response(self) -> None:
        """Pass on what the client's window takes; the upstream's window reopens as much."""
        conn = self.conn
        session = conn.session
        sid = self.sid
        chunks = self.resp_chunks
        head = self.resp_head
        if head is not None:
            self.resp_head = None
            self.responded = True
            if self.resp_ended and not chunks and self.resp_trailers is None:
                # the head is the whole response (gRPC's trailers-only answers among them)
                session.send_headers(sid, head, True)
                self._finish()
                return
            session.send_headers(sid, head)
        if not self.responded:
            return  # data before a head: only an interim 1xx came so far
        passed = 0
        if not conn.paused:
            while chunks:
                room = session.send_window(sid)
                if room <= 0:
                    break
                part = take(chunks, room)
                passed += len(part)
                last = self.resp_ended and not chunks and self.resp_trailers is None
                session.send_data(sid, part, last)
                if self.head.grpc:
                    self.grpc_need, self.grpc_prefix = h2heads.grpc_walk(self.grpc_need, self.grpc_prefix, part)
                if last:
                    break
        if passed:
            if self.timeout_idle:
                self.last_write = self.loop.time()
            up = self.up
            if up is not None:
                up.consumed(self.usid, passed)
        if self.resp_ended and not chunks:
            if self.resp_trailers is not None:
                session.send_trailers(sid, self.resp_trailers)
            elif not passed:
                session.send_data(sid, b"", True)
            self._finish()
            return
        conn.want_flush()

    # -- the end of a stream ----------------------------------------------------------------------

    def _finish(self) -> None:
        if self.head is None:
            return
        self.head = None
        self._stop_timer()
        conn = self.conn
        if not self.req_ended:
            # answered before the client finished sending: it may stop (RFC 9113 §8.1)
            conn.session.reset_stream(self.sid, NO_ERROR)
        up = self.up
        self.up = None
        if up is not None:
            if self.req_sent_end:
                up.done(self.usid)
            else:
                up.cancel(self.usid)
        conn.stream_over(self)
        self.policy.on_done(self)
        self.slot = None
        self.response_extra = None

    def _reset(self, code: int) -> None:
        """End the stream abnormally for the client (its response had started)."""
        if self.head is None:
            return
        self._drop_upstream()
        self.conn.session.reset_stream(self.sid, code)
        self.req_ended = True  # the reset ends both directions
        self._finish()

    def _drop_upstream(self) -> None:
        up = self.up
        self.up = None
        if up is not None:
            up.cancel(self.usid)
        self.resp_head = None
        self.resp_chunks.clear()
        self.resp_trailers = None
        self.resp_ended = False

    def client_gone(self) -> None:
        """The client reset the stream or the connection ended: abort what it asked for."""
        if self.head is None:
            return
        self.closed = True
        self._stop_timer()
        up = self.up
        self.up = None
        if up is not None:
            up.cancel(self.usid)
        self.conn.stream_over(self)
        self.policy.on_abort(self)
        self.head = None
        self.slot = None

    # -- timeouts ------------------------------------------------------------------------------

    def _arm(self, when: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_at(when, self._on_timer)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _on_timer(self) -> None:
        self.timer = None
        if self.head is None:
            return
        try:
            now = self.loop.time()
            nxt = self.started_at + self.timeout_total
            expired = now >= nxt
            if self.timeout_start and not self.responded:
                at = self.started_at + self.timeout_start
                expired = expired or now >= at
                nxt = min(nxt, at)
            if self.timeout_idle:
                at = self.last_write + self.timeout_idle
                expired = expired or now >= at
                nxt = min(nxt, at)
            if expired:
                self.policy.on_timeout(self)
            else:
                self._arm(nxt)
            self.conn.want_flush()
        except Exception as exc:
            self.callback_failed(exc)
