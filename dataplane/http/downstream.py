# cython: nonecheck=True
"""The downstream side of the proxy engine: one protocol object per client connection.

Everything is driven by callbacks: no Task or Future is created per request. A
policy (queue-proxy or activator) sees each request head in ``on_request`` and
answers it with ``respond`` or sends it on with ``forward``, now or later; see
``dataplane.http.engine`` for the whole contract.

Both builds run this text: the compiled engine is this module compiled as it is
into ``_downstream_c``, with the C types of ``_downstream_c.pxd`` (typed
attributes, C calls to the upstream side and to the head builders of
``_heads_c``). ``nonecheck`` (the line above, read by Cython only) makes a None
where a connection is expected raise AttributeError, as here, instead of
crashing the process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# in the compiled build, calls to these three go to ``_heads_c`` at C level (see the .pxd)
from dataplane.http.dechunk import new_dechunker
from dataplane.http.errors import HttpError
from dataplane.http.heads import TEXT, X_REQUEST_ID, response_head, simple_response, with_request_id
from dataplane.http.limits import IDEMPOTENT, JOIN_LIMIT, RETRY_BUFFER_LIMIT, EngineConfig
from dataplane.http.parser import ChunkedScanner, parse_request_head
from dataplane.http.upstream import BODY_CHUNKED, BODY_UNTIL_CLOSE

if TYPE_CHECKING:  # the compiled build types them through the .pxd, which a runtime import would clash with
    import asyncio

    from dataplane.http import upstream as up

# the first line of HTTP/2's connection preface (RFC 9113 §3.4)
PREFACE_LINE = b"PRI * HTTP/2.0\r\n"

# what the connection's single watchdog timer is waiting for
WAIT_NONE, WAIT_IDLE, WAIT_HEADER, WAIT_REQUEST = 0, 1, 2, 3
# why reading from the client is paused
FOR_UPSTREAM, FOR_BUFFER = 1, 2


def write_joined(write, parts: list, size: int) -> None:
    """Write ``parts`` (``size`` bytes in all) as one piece when small, else one by one."""
    if size <= JOIN_LIMIT:
        write(b"".join(parts))
    else:
        for part in parts:
            write(part)


def total(parts: list) -> int:
    """Bytes in ``parts``."""
    size = 0
    for part in parts:
        size += len(part)
    return size


class ClientConnection:
    """One downstream connection; requests on it are answered strictly in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, policy, config: EngineConfig):
        self.loop = loop
        self.policy = policy
        self.config = config
        self.transport: asyncio.Transport | None = None
        self.peer_ip = b""
        self.closed = False
        # request bytes not yet consumed: bytes as received (no copy) until more must be
        # appended, then a bytearray
        self.buf = b""
        # current request
        self.head = None
        # read from the head once per request, not at each use
        self.version = 11
        self.head_only = False
        self.req_done = True
        self.req_remaining = 0
        self.req_scanner = ChunkedScanner()
        self.req_chunked = False
        self.pending: list = []  # request body waiting for an upstream connection
        self.pending_size = 0
        self.upstream: up.UpstreamConnection | None = None
        self.target: up.UpstreamPool | None = None
        self.upstream_head = b""
        self.sent: list | None = None  # what went upstream, for one retry on a fresh connection
        self.sent_size = 0
        self.retried = False
        self.responded = False  # any response byte went to the client
        self.response_mode = 0
        self.dechunker = None
        self.keep_alive = True
        self.tunnel = False
        self.status = 0
        self.slot = None  # opaque per-request state owned by the policy
        self.response_extra = None  # headers the policy adds to the upstream's response
        self.request_id = b""  # set by the policy: sent back as X-Request-Id, named in error bodies
        self.dispatching = False
        self.again = False
        # reading is paused while either is true
        self.paused_by_upstream = False
        self.paused_by_buffer = False
        self.paused_by_client = False  # our transport's buffer to the client is full
        # writes to the client held while an upstream read is handled, then sent as one (see send)
        self.held: list | None = None
        # watchdog: one timer per connection, re-armed lazily
        self.timer = None
        self.timer_when = 0.0  # timer.when(), asked once per timer instead of once per request
        self.wait = WAIT_NONE
        self.deadline = 0.0
        self.timeout_total = 0.0
        self.timeout_start = 0.0
        self.timeout_idle = 0.0
        self.started_at = 0.0
        self.last_write = 0.0
        # the config's limits, read once
        self.max_head_size = config.max_head_size
        self.max_headers = config.max_headers
        self.max_buffered_body = config.max_buffered_body
        self.header_timeout = config.header_timeout
        self.keepalive_timeout = config.keepalive_timeout

    # -- asyncio.Protocol -----------------------------------------------------------------
    # every callback that can reach policy code catches what it raises: see callback_failed

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer_ip = peer[0].encode()
        try:
            self.policy.connection_made(self)
            self._arm(WAIT_IDLE, self.keepalive_timeout)
        except Exception as exc:
            self.callback_failed(exc)

    def data_received(self, data):
        try:
            self._received(data)
        except Exception as exc:
            self.callback_failed(exc)

    def _received(self, data) -> None:
        if self.tunnel:
            upstream = self.upstream
            if upstream is not None:  # None once the upstream side of the tunnel closed
                upstream.transport.write(data)
            return
        if self.head is not None:
            if not self.req_done:
                data = self._take_body(data)
                if not data:
                    return
            self._append(data)
            if len(self.buf) > self.max_buffered_body:
                self._pause_reading(FOR_BUFFER)
            return
        self._append(data)
        self._next_request()

    def _append(self, data) -> None:
        buf = self.buf
        if not buf:
            # uvloop hands over bytes, which nobody can change: keep them rather than copy
            self.buf = data if type(data) is bytes else bytes(data)
        elif type(buf) is bytes:
            buf = bytearray(buf)
            buf += data
            self.buf = buf
        else:
            buf += data

    def eof_received(self):
        # a client that stops sending is gone (as Go's server sees it): abort what it asked for
        return False

    def connection_lost(self, exc):
        self.closed = True
        self.wait = WAIT_NONE
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        try:
            if self.head is not None:
                upstream = self.upstream
                self.upstream = None
                if upstream is not None:
                    upstream.abort()
                self.policy.on_abort(self)
                self.head = None
            self.policy.connection_lost(self)
        except Exception as error:
            self.callback_failed(error)

    def pause_writing(self):
        self.paused_by_client = True
        upstream = self.upstream
        if upstream is not None and upstream.transport is not None:
            upstream.transport.pause_reading()

    def resume_writing(self):
        self.paused_by_client = False
        upstream = self.upstream
        if upstream is not None and upstream.transport is not None and not upstream.closed:
            upstream.transport.resume_reading()

    # -- requests ------------------------------------------------------------------------

    def _next_request(self) -> None:
        # a loop, not recursion: pipelined requests answered synchronously would nest
        if self.dispatching:
            self.again = True
            return
        self.dispatching = True
        try:
            self.again = True
            while self.again and self.head is None and self.buf and not self.closed:
                self.again = False
                self._start_request()
        finally:
            self.dispatching = False

    def _start_request(self) -> None:
        buf = self.buf
        try:
            head = parse_request_head(buf, self.max_head_size, self.max_headers)
        except HttpError as exc:
            # HTTP/2's preface parses as a request line of version 2.0: looked for only once the
            # parser has refused it, so HTTP/1.1 pays nothing for the detection
            if exc.status == 505 and self.config.http2 is not None and buf.startswith(PREFACE_LINE):
                self._hand_over()
                return
            self._reject(exc.status, exc.reason)
            return
        if head is None:
            if self.wait != WAIT_HEADER:
                self._arm(WAIT_HEADER, self.header_timeout)
            return
        self.wait = WAIT_NONE
        head_len = head.head_len
        rest = None
        if head_len < len(buf):
            rest = buf[head_len:] if type(buf) is bytes else bytes(memoryview(buf)[head_len:])
        self.buf = b""
        self.head = head
        self.request_id = b""
        self.version = head.version
        self.head_only = head.method == b"HEAD"
        self.responded = False
        self.status = 0
        self.keep_alive = head.keep_alive
        self.retried = False
        self.sent = None
        if head.upgrade:
            # the bytes after an upgrade request belong to the tunnel, not to a body
            self.req_done = True
        elif head.chunked:
            self.req_chunked = True
            self.req_scanner.reset()
            self.req_done = False
        elif head.content_length > 0:
            self.req_chunked = False
            self.req_remaining = head.content_length
            self.req_done = False
        else:
            self.req_done = True
        if rest:
            if not self.req_done:
                rest = self._take_body(rest)
            if rest:
                self._append(rest)
        if self.head is head:  # a bad body in the same read has answered it already
            self.policy.on_request(self, head)

    def _hand_over(self) -> None:
        """The client sent HTTP/2's connection preface: the connection belongs to
        ``config.http2`` from here on, with the bytes read so far."""
        data = bytes(self.buf)
        self.buf = b""
        self.closed = True
        self.wait = WAIT_NONE
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.policy.connection_lost(self)
        self.config.http2(self.transport, data)

    def _take_body(self, data):
        """Route request-body bytes upstream (or hold them); return what follows the body."""
        if self.req_chunked:
            try:
                end = self.req_scanner.feed(data, 0)
            except HttpError as exc:
                # answered if nothing was sent yet, else cut; the upstream is dropped either way
                self._reject(exc.status, exc.reason)
                return b""
            if self.req_scanner.done:
                self.req_done = True
            if end < len(data):
                part = data[:end]
                rest = data[end:]
            else:
                part = data
                rest = b""
        else:
            n = len(data)
            if n <= self.req_remaining:
                part = data
                rest = b""
                self.req_remaining -= n
            else:
                part = data[: self.req_remaining]
                rest = data[self.req_remaining :]
                self.req_remaining = 0
            if self.req_remaining == 0:
                self.req_done = True
        if part:
            upstream = self.upstream
            if upstream is not None:
                upstream.transport.write(part)
                if self.sent is not None:
                    self._remember(part)
            elif self.head is not None:
                self.pending.append(bytes(part))
                self.pending_size += len(part)
                if self.pending_size > self.max_buffered_body:
                    self._pause_reading(FOR_BUFFER)
        return rest

    def _remember(self, part) -> None:
        self.sent_size += len(part)
        if self.sent_size > RETRY_BUFFER_LIMIT:
            self.sent = None
        else:
            self.sent.append(bytes(part))

    # -- called by the policy ------------------------------------------------------------

    def set_timeouts(self, total: float, response_start: float = 0.0, idle: float = 0.0) -> None:
        """Limit the current request: total seconds, and (0 = off) seconds to the first
        response byte and between writes. Expiry answers 504, or cuts a started response."""
        now = self.loop.time()
        first = total
        self.started_at = now
        self.last_write = now
        self.timeout_total = total
        self.timeout_start = response_start
        self.timeout_idle = idle
        if response_start and response_start < first:
            first = response_start
        if idle and idle < first:
            first = idle
        self._arm(WAIT_REQUEST, first)

    def forward(self, pool: up.UpstreamPool, upstream_head) -> None:
        """Send the current request to ``pool``'s server with the rebuilt ``upstream_head``."""
        self.target = pool
        self.upstream_head = upstream_head
        conn = pool.take()
        if conn is not None:
            self.attach(conn, True)
        else:
            pool.connect(self)

    def respond(self, status: int, body: bytes, extra=None, content_type: bytes = TEXT) -> None:
        """Answer the current request from the proxy itself."""
        if extra is None:
            extra = self.response_extra
        if self.head is None or self.responded:
            return
        close = not self.keep_alive or not self.req_done
        self.keep_alive = not close
        self.status = status
        self.responded = True
        rid = self.request_id
        if rid:
            extra = [*extra, (X_REQUEST_ID, rid)] if extra else [(X_REQUEST_ID, rid)]
        self.send(simple_response(status, body, close, extra, self.head_only, content_type))
        self._finish()

    def admitted(self) -> None:
        """A breaker handed this waiting request its slot."""
        self.policy.on_admitted(self)

    # -- upstream attachment ---------------------------------------------------------------

    def attach(self, conn: up.UpstreamConnection, reused: bool) -> None:
        if self.closed or self.head is None or self.responded:
            if conn.reusable:
                self.target.give_back(conn)
            else:
                conn.close()
            return
        self.upstream = conn
        conn.begin(self, self.head_only)
        if reused and not self.retried and self.head.method in IDEMPOTENT:
            self.sent = []
            self.sent_size = 0
            self._remember(self.upstream_head)
        pending = self.pending
        if not pending:
            conn.transport.write(self.upstream_head)
            return
        for part in pending:
            if self.sent is not None:
                self._remember(part)
        self.pending = []
        self.pending_size = 0
        write_joined(conn.transport.write, [self.upstream_head, *pending], len(self.upstream_head) + total(pending))
        if self.paused_by_buffer:
            self._resume_reading(FOR_BUFFER)

    def connect_failed(self, pool: up.UpstreamPool, exc: OSError) -> None:
        if self.closed or self.head is None:
            return
        # nothing reached the server: the policy may send the request elsewhere
        self.policy.on_upstream_error(self, f"dial {pool.address}: {exc.strerror or exc}", True)

    def upstream_lost(self, conn: up.UpstreamConnection, exc) -> None:
        if conn is not self.upstream:
            return
        self.upstream = None
        if self.tunnel:
            self._close()
            self._finish()
            return
        if not conn.got_bytes and self.sent is not None and not self.retried:
            # a pooled connection the server had already closed: replay on a fresh one
            self.retried = True
            replay = self.sent
            self.sent = None
            self.pending = replay[1:] + self.pending
            self.pending_size = total(self.pending)
            self.target.connect(self)
            return
        reason = "upstream closed the connection" if exc is None else f"upstream connection error: {exc}"
        self.policy.on_upstream_error(self, reason, False)

    def upstream_error(self, conn: up.UpstreamConnection, reason: str) -> None:
        if conn is self.upstream:
            self.upstream = None
            self.policy.on_upstream_error(self, reason, False)

    def fail(self, status: int, reason: str) -> None:
        """The request cannot be served: answer ``status`` if nothing was sent yet, else cut."""
        upstream = self.upstream
        self.upstream = None
        if upstream is not None:
            upstream.abort()
        self.keep_alive = False  # nor serve pipelined requests on a connection that is cut
        if not self.responded:
            self.respond(status, with_request_id(reason.encode(), self.request_id))
        else:
            self._abort()
            self._finish()

    def callback_failed(self, exc: Exception) -> None:
        """A callback raised (a bug here or in the policy): report it, and rather than
        leave the client without an answer, send 500 if nothing was sent yet, else cut."""
        self.loop.call_exception_handler({"message": "proxy engine callback failed", "exception": exc, "protocol": self})
        if self.closed or self.transport is None:
            self.held = None
            return
        self.keep_alive = False
        self.wait = WAIT_NONE
        upstream = self.upstream
        self.upstream = None
        if upstream is not None:
            upstream.abort()
        try:
            if self.head is not None and not self.responded:
                self.responded = True
                self.status = 500
                rid = self.request_id
                body = with_request_id(b"internal error", rid)
                extra = [(X_REQUEST_ID, rid)] if rid else None
                self.send(simple_response(500, body, True, extra, self.head_only, TEXT))
                self._close()
            else:
                self._abort()
        except Exception:  # the transport itself fails
            self.held = None
            self.transport.abort()

    # -- response, driven by the upstream connection ---------------------------------------------

    def interim_response(self, head) -> None:
        if self.version == 11:
            self.send(b"HTTP/1.1 %d %s\r\n\r\n" % (head.status, head.reason))

    def switch_protocols(self, head, rest) -> None:
        self.tunnel = True
        self.keep_alive = False
        self.status = 101
        self.responded = True
        self.wait = WAIT_NONE
        self.policy.on_response_start(self, 101)
        self.send(response_head(head, False, False, False, None, b""))
        if rest:
            self.send(rest)
        if self.buf:
            self.upstream.transport.write(bytes(self.buf))
            self.buf = b""
        if self.paused_by_buffer:
            self._resume_reading(FOR_BUFFER)

    def response_start(self, head, mode: int) -> None:
        status = head.status
        http10 = self.version == 10
        if mode == BODY_UNTIL_CLOSE or not self.req_done:
            self.keep_alive = False
        dechunk = http10 and mode == BODY_CHUNKED
        if dechunk:
            self.keep_alive = False
            self.dechunker = new_dechunker()
        self.response_mode = mode
        self.status = status
        self.responded = True
        if self.timeout_idle:
            self.last_write = self.loop.time()
        self.policy.on_response_start(self, status)
        self.send(response_head(head, not self.keep_alive, http10, dechunk, self.response_extra, self.request_id))

    def response_body(self, data) -> None:
        if self.timeout_idle:
            self.last_write = self.loop.time()
        if self.dechunker is not None:
            data = self.dechunker.feed(data)
        self.send(data)

    def response_end(self, conn: up.UpstreamConnection) -> None:
        self.upstream = None
        if self.req_done and conn.reusable:
            self.target.give_back(conn)
        else:
            conn.close()
        self._finish()

    # -- end of a request --------------------------------------------------------------------

    def _finish(self) -> None:
        if self.head is None:
            return
        self.head = None
        self.dechunker = None
        if self.pending:  # usually empty: no new list per request
            self.pending = []
        self.pending_size = 0
        self.sent = None
        self.policy.on_done(self)
        self.slot = None
        self.response_extra = None
        if self.tunnel:
            return
        if not self.keep_alive or self.closed:
            self.wait = WAIT_NONE
            if not self.closed:
                self._close()
            return
        if self.paused_by_buffer:
            self._resume_reading(FOR_BUFFER)
        if self.buf:
            self._next_request()
        else:
            self._arm(WAIT_IDLE, self.keepalive_timeout)

    def _reject(self, status: int, reason: str) -> None:
        """Bad input: answer and close; nothing of it goes upstream."""
        self.keep_alive = False
        self.wait = WAIT_NONE
        if self.head is None:
            # the policy hears of it first, and may give the refusal a request id
            self.request_id = b""
            self.policy.on_rejected(self, status)
            rid = self.request_id
            body = with_request_id(reason.encode(), rid)
            self.send(simple_response(status, body, True, [(X_REQUEST_ID, rid)] if rid else None, False, TEXT))
            self._close()
            self.buf = b""
        else:
            self.fail(status, reason)

    # -- writing to the client ---------------------------------------------------------------

    def send(self, data) -> None:
        """Write ``data`` to the client, or hold it while an upstream read is handled."""
        held = self.held
        if held is None:
            self.transport.write(data)
        else:
            held.append(data)

    def hold_writes(self) -> bool:
        """Hold writes until ``flush_writes``: a response head and the body bytes read with
        it leave in one write. False if already holding (the outer holder flushes)."""
        if self.held is not None:
            return False
        self.held = []
        return True

    def flush_writes(self) -> None:
        held = self.held
        self.held = None
        if not held or self.closed:
            return
        if len(held) == 1:
            self.transport.write(held[0])
        else:
            write_joined(self.transport.write, held, total(held))

    def _close(self) -> None:
        self.flush_writes()
        self.transport.close()

    def _abort(self) -> None:
        self.flush_writes()
        self.transport.abort()

    # -- flow control ----------------------------------------------------------------------

    def pause_for_upstream(self) -> None:
        self._pause_reading(FOR_UPSTREAM)

    def resume_for_upstream(self) -> None:
        self._resume_reading(FOR_UPSTREAM)

    def _pause_reading(self, why: int) -> None:
        if why == FOR_UPSTREAM:
            self.paused_by_upstream = True
        else:
            self.paused_by_buffer = True
        if not self.closed:
            self.transport.pause_reading()

    def _resume_reading(self, why: int) -> None:
        if why == FOR_UPSTREAM:
            self.paused_by_upstream = False
        else:
            self.paused_by_buffer = False
        if not (self.paused_by_upstream or self.paused_by_buffer) and not self.closed:
            self.transport.resume_reading()

    # -- the watchdog timer ----------------------------------------------------------------------

    def _arm(self, wait: int, after: float) -> None:
        when = self.loop.time() + after
        self.wait = wait
        self.deadline = when
        timer = self.timer
        if timer is None or self.timer_when > when:
            if timer is not None:
                timer.cancel()
            self._start_timer(when)

    def _start_timer(self, when: float) -> None:
        timer = self.loop.call_at(when, self._on_timer)
        self.timer = timer
        # the handle's own figure: uvloop rounds it to its millisecond clock
        self.timer_when = timer.when()

    def _on_timer(self) -> None:
        try:
            self._timer_fired()
        except Exception as exc:
            self.callback_failed(exc)

    def _timer_fired(self) -> None:
        wait = self.wait
        self.timer = None
        if wait == WAIT_NONE or self.closed:
            return
        now = self.loop.time()
        if wait == WAIT_REQUEST:
            self._check_request_deadlines(now)
            return
        if now < self.deadline:
            self._start_timer(self.deadline)
            return
        self.wait = WAIT_NONE
        if wait == WAIT_IDLE:
            self._close()
        elif wait == WAIT_HEADER:
            self._reject(408, "request header timeout")

    def _check_request_deadlines(self, now: float) -> None:
        nxt = self.started_at + self.timeout_total
        expired = now >= nxt
        if self.timeout_start and not self.responded:
            at = self.started_at + self.timeout_start
            expired = expired or now >= at
            if at < nxt:
                nxt = at
        if self.timeout_idle:
            at = self.last_write + self.timeout_idle
            expired = expired or now >= at
            if at < nxt:
                nxt = at
        if expired:
            self.wait = WAIT_NONE
            self.policy.on_timeout(self)
            return
        self.deadline = nxt
        self._start_timer(nxt)
