# cython: nonecheck=True
"""Compiled twin of ``dataplane.http._engine_py``: see ``engine`` for the contract.

It follows the pure twin (modules ``downstream``, ``upstream``, ``heads``,
``dechunk``) method for method, so that both send the same bytes and make the
same policy calls for the same input (``tests/unit/engine/test_engine_fuzz.py``
checks it): keep them in step. Only the means differ: typed attributes, C calls
between the protocols, heads built in one C buffer, request bytes parsed where
they arrived. ``nonecheck`` is on so that a None where a connection is expected
raises AttributeError, as in the pure twin, instead of crashing the process.

One module, so that the protocols call each other and the head builders at C
level, in three files split as the pure twin is (one file would pass 1,200
lines): the downstream protocol here, the upstream connection and its pool in
``_engine_upstream.pxi``, the head builders and the dechunker in
``_engine_heads.pxi``.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_CheckExact
from cpython.bytes cimport PyBytes_CheckExact, PyBytes_FromStringAndSize

import errno
import socket
from collections import deque

# settings and limits are shared with the pure twin, not copied
from dataplane.http.limits import IDEMPOTENT, JOIN_LIMIT, MAX_CONNECTING, RETRY_BUFFER_LIMIT, EngineConfig
from dataplane.http.errors import HttpError
from dataplane.http.heads import HOP_BY_HOP, STATUS_REASONS, TEXT
from dataplane.http.parser import ChunkedScanner, parse_request_head, parse_response_head

include "_engine_heads.pxi"

cdef enum:
    # what the client connection's single watchdog timer is waiting for
    WAIT_NONE = 0
    WAIT_IDLE = 1
    WAIT_HEADER = 2
    WAIT_REQUEST = 3
    # why reading from the client is paused
    _FOR_UPSTREAM = 1
    _FOR_BUFFER = 2
    # how the body of the response being read is delimited
    _BODY_NONE = 0
    _BODY_LENGTH = 1
    _BODY_CHUNKED = 2
    _BODY_UNTIL_CLOSE = 3

BODY_NONE = _BODY_NONE
BODY_LENGTH = _BODY_LENGTH
BODY_CHUNKED = _BODY_CHUNKED
BODY_UNTIL_CLOSE = _BODY_UNTIL_CLOSE

cdef Py_ssize_t _JOIN_LIMIT = JOIN_LIMIT
cdef Py_ssize_t _RETRY_LIMIT = RETRY_BUFFER_LIMIT
cdef bytes _EMPTY = b""
cdef bytes _HEAD = b"HEAD"


cdef int _write_joined(write, list parts, Py_ssize_t size) except -1:
    """Write ``parts`` as one piece when small (see ``limits.JOIN_LIMIT``), else one by one."""
    if size <= _JOIN_LIMIT:
        write(_EMPTY.join(parts))
    else:
        for part in parts:
            write(part)
    return 0


cdef Py_ssize_t _total(list parts) except -1:
    cdef Py_ssize_t size = 0
    for part in parts:
        size += len(part)
    return size


# the first line of HTTP/2's connection preface (RFC 9113 §3.4)
cdef bytes _PREFACE_LINE = b"PRI * HTTP/2.0\r\n"


cdef class ClientConnection  # declared here, defined below: the upstream side calls it

include "_engine_upstream.pxi"


cdef class ClientConnection:
    """One downstream connection; requests on it are answered strictly in order."""

    cdef public object loop
    cdef public object policy
    cdef public object config
    cdef public object transport
    cdef public bytes peer_ip
    cdef public bint closed
    # request bytes not yet consumed: bytes as received (no copy) until more must be
    # appended, then a bytearray
    cdef object buf
    # current request
    cdef public object head
    # read from the head once per request, not at each use (an attribute lookup each)
    cdef int version
    cdef bint head_only
    cdef public bint req_done
    cdef public long long req_remaining
    cdef public object req_scanner
    cdef public bint req_chunked
    cdef public list pending  # request body waiting for an upstream connection
    cdef public Py_ssize_t pending_size
    cdef public UpstreamConnection upstream
    cdef public UpstreamPool target
    cdef public object upstream_head
    cdef public list sent  # what went upstream, for one retry on a fresh connection
    cdef public Py_ssize_t sent_size
    cdef public bint retried
    cdef public bint responded  # any response byte went to the client
    cdef public int response_mode
    cdef public Dechunker dechunker
    cdef public bint keep_alive
    cdef public bint tunnel
    cdef public int status
    cdef public object slot  # opaque per-request state owned by the policy
    cdef public object response_extra  # headers the policy adds to the upstream's response
    cdef public bytes request_id  # set by the policy: sent back as X-Request-Id, named in error bodies
    cdef bint dispatching
    cdef bint again
    # reading is paused while either is true
    cdef public bint paused_by_upstream
    cdef public bint paused_by_buffer
    cdef public bint paused_by_client  # our transport's buffer to the client is full
    cdef public list held  # writes held while an upstream read is handled (see send)
    # watchdog: one timer per connection, re-armed lazily
    cdef object timer
    cdef double timer_when  # timer.when(), asked once per timer instead of once per request
    cdef public int wait
    cdef public double deadline
    cdef public double timeout_total
    cdef public double timeout_start
    cdef public double timeout_idle
    cdef public double started_at
    cdef public double last_write
    # the config's limits, read once
    cdef readonly Py_ssize_t max_head_size
    cdef Py_ssize_t max_headers
    cdef Py_ssize_t max_buffered_body
    cdef double header_timeout
    cdef double keepalive_timeout

    def __init__(self, loop, policy, config):
        self.loop = loop
        self.policy = policy
        self.config = config
        self.transport = None
        self.peer_ip = b""
        self.closed = False
        self.buf = _EMPTY
        self.head = None
        self.version = 11
        self.head_only = False
        self.req_done = True
        self.req_remaining = 0
        self.req_scanner = ChunkedScanner()
        self.req_chunked = False
        self.pending = []
        self.pending_size = 0
        self.upstream = None
        self.target = None
        self.upstream_head = b""
        self.sent = None
        self.sent_size = 0
        self.retried = False
        self.responded = False
        self.response_mode = 0
        self.dechunker = None
        self.keep_alive = True
        self.tunnel = False
        self.status = 0
        self.slot = None
        self.response_extra = None
        self.request_id = _EMPTY
        self.dispatching = False
        self.again = False
        self.paused_by_upstream = False
        self.paused_by_buffer = False
        self.paused_by_client = False
        self.held = None
        self.timer = None
        self.timer_when = 0.0
        self.wait = WAIT_NONE
        self.deadline = 0.0
        self.timeout_total = 0.0
        self.timeout_start = 0.0
        self.timeout_idle = 0.0
        self.started_at = 0.0
        self.last_write = 0.0
        self.max_head_size = config.max_head_size
        self.max_headers = config.max_headers
        self.max_buffered_body = config.max_buffered_body
        self.header_timeout = config.header_timeout
        self.keepalive_timeout = config.keepalive_timeout

    # -- asyncio protocol -----------------------------------------------------------------
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

    cdef int _received(self, data) except -1:
        cdef UpstreamConnection upstream
        if self.tunnel:
            upstream = self.upstream
            if upstream is not None:  # None once the upstream side of the tunnel closed
                upstream.transport.write(data)
            return 0
        if self.head is not None:
            if not self.req_done:
                data = self._take_body(data)
                if not data:
                    return 0
            self._append(data)
            if len(self.buf) > self.max_buffered_body:
                self._pause_reading(_FOR_BUFFER)
            return 0
        self._append(data)
        self._next_request()
        return 0

    cdef int _append(self, data) except -1:
        buf = self.buf
        if not len(buf):
            # uvloop hands over bytes, which nobody can change: keep them rather than copy
            self.buf = data if PyBytes_CheckExact(data) else bytes(data)
        elif PyBytes_CheckExact(buf):
            buf = bytearray(buf)
            buf += data
            self.buf = buf
        else:
            buf += data
        return 0

    def eof_received(self):
        # a client that stops sending is gone (as Go's server sees it): abort what it asked for
        return False

    def connection_lost(self, exc):
        cdef UpstreamConnection upstream
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

    cdef int _next_request(self) except -1:
        # a loop, not recursion: pipelined requests answered synchronously would nest
        if self.dispatching:
            self.again = True
            return 0
        self.dispatching = True
        try:
            self.again = True
            while self.again and self.head is None and len(self.buf) and not self.closed:
                self.again = False
                self._start_request()
        finally:
            self.dispatching = False
        return 0

    cdef int _hand_over(self) except -1:
        """The client sent HTTP/2's connection preface: the connection belongs to
        ``config.http2`` from here on, with the bytes read so far."""
        data = bytes(self.buf)
        self.buf = _EMPTY
        self.closed = True
        self.wait = WAIT_NONE
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.policy.connection_lost(self)
        self.config.http2(self.transport, data)
        return 0

    cdef int _start_request(self) except -1:
        cdef Py_ssize_t head_len, n
        buf = self.buf
        try:
            head = parse_request_head(buf, self.max_head_size, self.max_headers)
        except HttpError as exc:
            # HTTP/2's preface parses as a request line of version 2.0: looked for only once the
            # parser has refused it, so HTTP/1.1 pays nothing for the detection
            if exc.status == 505 and self.config.http2 is not None and buf.startswith(_PREFACE_LINE):
                self._hand_over()
                return 0
            self._reject(exc.status, exc.reason)
            return 0
        if head is None:
            if self.wait != WAIT_HEADER:
                self._arm(WAIT_HEADER, self.header_timeout)
            return 0
        self.wait = WAIT_NONE
        head_len = head.head_len
        n = len(buf)
        rest = None
        if head_len < n:
            if PyByteArray_CheckExact(buf):
                # one copy where bytes(buf[head_len:]) makes two
                rest = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(buf) + head_len, n - head_len)
            else:
                rest = buf[head_len:]
        self.buf = _EMPTY
        self.head = head
        self.request_id = _EMPTY
        self.version = head.version
        self.head_only = head.method == _HEAD
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
        return 0

    cdef object _take_body(self, data):
        """Route request-body bytes upstream (or hold them); return what follows the body."""
        cdef Py_ssize_t n, end
        cdef UpstreamConnection upstream
        if self.req_chunked:
            try:
                end = self.req_scanner.feed(data, 0)
            except HttpError as exc:
                # answered if nothing was sent yet, else cut; the upstream is dropped either way
                self._reject(exc.status, exc.reason)
                return _EMPTY
            if self.req_scanner.done:
                self.req_done = True
            if end < len(data):
                part = data[:end]
                rest = data[end:]
            else:
                part = data
                rest = _EMPTY
        else:
            n = len(data)
            if n <= self.req_remaining:
                part = data
                rest = _EMPTY
                self.req_remaining -= n
            else:
                part = data[: <Py_ssize_t>self.req_remaining]
                rest = data[<Py_ssize_t>self.req_remaining :]
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
                    self._pause_reading(_FOR_BUFFER)
        return rest

    cdef int _remember(self, part) except -1:
        self.sent_size += len(part)
        if self.sent_size > _RETRY_LIMIT:
            self.sent = None
        else:
            self.sent.append(bytes(part))
        return 0

    # -- called by the policy ------------------------------------------------------------

    cpdef set_timeouts(self, double total, double response_start=0.0, double idle=0.0):
        """Limit the current request: total seconds, and (0 = off) seconds to the first
        response byte and between writes. Expiry answers 504, or cuts a started response."""
        cdef double now = self.loop.time()
        cdef double first = total
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
        return None

    cpdef forward(self, UpstreamPool pool, upstream_head):
        """Send the current request to ``pool``'s server with the rebuilt ``upstream_head``."""
        cdef UpstreamConnection conn
        self.target = pool
        self.upstream_head = upstream_head
        conn = pool._take()
        if conn is not None:
            self.attach(conn, True)
        else:
            pool.connect(self)
        return None

    cpdef respond(self, int status, body, extra=None, content_type=TEXT):
        """Answer the current request from the proxy itself."""
        cdef bint close
        head = self.head
        if extra is None:
            extra = self.response_extra
        if head is None or self.responded:
            return None
        close = not self.keep_alive or not self.req_done
        self.keep_alive = not close
        self.status = status
        self.responded = True
        rid = self.request_id
        if rid:
            extra = [*extra, (_X_REQUEST_ID, rid)] if extra else [(_X_REQUEST_ID, rid)]
        self.send(_simple_response_bytes(status, body, close, extra, self.head_only, content_type))
        self._finish()
        return None

    cpdef admitted(self):
        """A breaker handed this waiting request its slot."""
        self.policy.on_admitted(self)
        return None

    # -- upstream attachment ---------------------------------------------------------------

    cpdef attach(self, UpstreamConnection conn, bint reused):
        cdef list pending
        if self.closed or self.head is None or self.responded:
            if conn.reusable:
                self.target._give_back(conn)
            else:
                conn.close()
            return None
        self.upstream = conn
        conn.begin(self, self.head_only)
        if reused and not self.retried and self.head.method in IDEMPOTENT:
            self.sent = []
            self.sent_size = 0
            self._remember(self.upstream_head)
        pending = self.pending
        if not pending:
            conn.transport.write(self.upstream_head)
            return None
        for part in pending:
            if self.sent is not None:
                self._remember(part)
        self.pending = []
        self.pending_size = 0
        _write_joined(conn.transport.write, [self.upstream_head] + pending, len(self.upstream_head) + _total(pending))
        if self.paused_by_buffer:
            self._resume_reading(_FOR_BUFFER)
        return None

    cpdef connect_failed(self, pool, exc):
        if self.closed or self.head is None:
            return None
        # nothing reached the server: the policy may send the request elsewhere
        self.policy.on_upstream_error(self, f"dial {pool.address}: {exc.strerror or exc}", True)
        return None

    cpdef upstream_lost(self, UpstreamConnection conn, exc):
        cdef list replay
        if conn is not self.upstream:
            return None
        self.upstream = None
        if self.tunnel:
            self._close()
            self._finish()
            return None
        if not conn.got_bytes and self.sent is not None and not self.retried:
            # a pooled connection the server had already closed: replay on a fresh one
            self.retried = True
            replay = self.sent
            self.sent = None
            self.pending = replay[1:] + self.pending
            self.pending_size = _total(self.pending)
            self.target.connect(self)
            return None
        reason = "upstream closed the connection" if exc is None else f"upstream connection error: {exc}"
        self.policy.on_upstream_error(self, reason, False)
        return None

    cpdef upstream_error(self, UpstreamConnection conn, reason):
        if conn is self.upstream:
            self.upstream = None
            self.policy.on_upstream_error(self, reason, False)
        return None

    cpdef fail(self, int status, reason):
        """The request cannot be served: answer ``status`` if nothing was sent yet, else cut."""
        cdef UpstreamConnection upstream = self.upstream
        self.upstream = None
        if upstream is not None:
            upstream.abort()
        self.keep_alive = False  # nor serve pipelined requests on a connection that is cut
        if not self.responded:
            self.respond(status, _with_request_id(reason.encode(), self.request_id))
        else:
            self._abort()
            self._finish()
        return None

    cpdef callback_failed(self, exc):
        """A callback raised (a bug here or in the policy): report it, and rather than
        leave the client without an answer, send 500 if nothing was sent yet, else cut."""
        cdef UpstreamConnection upstream
        self.loop.call_exception_handler({"message": "proxy engine callback failed", "exception": exc, "protocol": self})
        if self.closed or self.transport is None:
            self.held = None
            return None
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
                self.send(_simple_response_bytes(500, _with_request_id(b"internal error", rid), True,
                                                 [(_X_REQUEST_ID, rid)] if rid else None, self.head_only, TEXT))
                self._close()
            else:
                self._abort()
        except Exception:  # the transport itself fails
            self.held = None
            self.transport.abort()
        return None

    # -- response, driven by the upstream connection ---------------------------------------------

    cpdef interim_response(self, head):
        if self.version == 11:
            self.send(b"HTTP/1.1 %d %s\r\n\r\n" % (head.status, head.reason))
        return None

    cpdef switch_protocols(self, head, rest):
        self.tunnel = True
        self.keep_alive = False
        self.status = 101
        self.responded = True
        self.wait = WAIT_NONE
        self.policy.on_response_start(self, 101)
        self.send(_response_head_bytes(head, 101, False, False, False, None, None))
        if rest:
            self.send(rest)
        if len(self.buf):
            self.upstream.transport.write(bytes(self.buf))
            self.buf = _EMPTY
        if self.paused_by_buffer:
            self._resume_reading(_FOR_BUFFER)
        return None

    def response_start(self, head, int mode):
        self._response_start(head, head.status, mode)

    cdef int _response_start(self, head, int status, int mode) except -1:
        cdef bint http10 = self.version == 10
        cdef bint dechunk
        if mode == _BODY_UNTIL_CLOSE or not self.req_done:
            self.keep_alive = False
        dechunk = http10 and mode == _BODY_CHUNKED
        if dechunk:
            self.keep_alive = False
            self.dechunker = Dechunker()
        self.response_mode = mode
        self.status = status
        self.responded = True
        if self.timeout_idle:
            self.last_write = self.loop.time()
        self.policy.on_response_start(self, status)
        self.send(_response_head_bytes(head, status, not self.keep_alive, http10, dechunk, self.response_extra,
                                       self.request_id))
        return 0

    cpdef response_body(self, data):
        if self.timeout_idle:
            self.last_write = self.loop.time()
        if self.dechunker is not None:
            data = self.dechunker.feed(data)
        self.send(data)
        return None

    cpdef response_end(self, UpstreamConnection conn):
        self.upstream = None
        if self.req_done and conn.reusable:
            self.target._give_back(conn)
        else:
            conn.close()
        self._finish()
        return None

    # -- end of a request --------------------------------------------------------------------

    cdef int _finish(self) except -1:
        if self.head is None:
            return 0
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
            return 0
        if not self.keep_alive or self.closed:
            self.wait = WAIT_NONE
            if not self.closed:
                self._close()
            return 0
        if self.paused_by_buffer:
            self._resume_reading(_FOR_BUFFER)
        if len(self.buf):
            self._next_request()
        else:
            self._arm(WAIT_IDLE, self.keepalive_timeout)
        return 0

    cdef int _reject(self, int status, reason) except -1:
        """Bad input: answer and close; nothing of it goes upstream."""
        self.keep_alive = False
        self.wait = WAIT_NONE
        if self.head is None:
            # the policy hears of it first, and may give the refusal a request id
            self.request_id = _EMPTY
            self.policy.on_rejected(self, status)
            rid = self.request_id
            self.send(_simple_response_bytes(status, _with_request_id(reason.encode(), rid), True,
                                             [(_X_REQUEST_ID, rid)] if rid else None, False, TEXT))
            self._close()
            self.buf = _EMPTY
        else:
            self.fail(status, reason)
        return 0

    # -- writing to the client ---------------------------------------------------------------

    cpdef send(self, data):
        """Write ``data`` to the client, or hold it while an upstream read is handled."""
        cdef list held = self.held
        if held is None:
            self.transport.write(data)
        else:
            held.append(data)
        return None

    cpdef bint hold_writes(self) except -1:
        """Hold writes until ``flush_writes``: a response head and the body bytes read with
        it leave in one write. False if already holding (the outer holder flushes)."""
        if self.held is not None:
            return False
        self.held = []
        return True

    cpdef flush_writes(self):
        cdef list held = self.held
        self.held = None
        if not held or self.closed:
            return None
        if len(held) == 1:
            self.transport.write(held[0])
        else:
            _write_joined(self.transport.write, held, _total(held))
        return None

    cdef int _close(self) except -1:
        self.flush_writes()
        self.transport.close()
        return 0

    cdef int _abort(self) except -1:
        self.flush_writes()
        self.transport.abort()
        return 0

    # -- flow control ----------------------------------------------------------------------

    def pause_for_upstream(self):
        self._pause_reading(_FOR_UPSTREAM)

    def resume_for_upstream(self):
        self._resume_reading(_FOR_UPSTREAM)

    cdef int _pause_reading(self, int why) except -1:
        if why == _FOR_UPSTREAM:
            self.paused_by_upstream = True
        else:
            self.paused_by_buffer = True
        if not self.closed:
            self.transport.pause_reading()
        return 0

    cdef int _resume_reading(self, int why) except -1:
        if why == _FOR_UPSTREAM:
            self.paused_by_upstream = False
        else:
            self.paused_by_buffer = False
        if not (self.paused_by_upstream or self.paused_by_buffer) and not self.closed:
            self.transport.resume_reading()
        return 0

    # -- the watchdog timer ----------------------------------------------------------------------

    cdef int _arm(self, int wait, double after) except -1:
        cdef double when = self.loop.time() + after
        self.wait = wait
        self.deadline = when
        timer = self.timer
        if timer is None or self.timer_when > when:
            if timer is not None:
                timer.cancel()
            self._start_timer(when)
        return 0

    cdef int _start_timer(self, double when) except -1:
        timer = self.loop.call_at(when, self._on_timer)
        self.timer = timer
        # the handle's own figure, as the pure twin compares: uvloop rounds it to its millisecond clock
        self.timer_when = timer.when()
        return 0

    def _on_timer(self):
        try:
            self._timer_fired()
        except Exception as exc:
            self.callback_failed(exc)

    cdef int _timer_fired(self) except -1:
        cdef int wait = self.wait
        cdef double now
        self.timer = None
        if wait == WAIT_NONE or self.closed:
            return 0
        now = self.loop.time()
        if wait == WAIT_REQUEST:
            self._check_request_deadlines(now)
            return 0
        if now < self.deadline:
            self._start_timer(self.deadline)
            return 0
        self.wait = WAIT_NONE
        if wait == WAIT_IDLE:
            self._close()
        elif wait == WAIT_HEADER:
            self._reject(408, "request header timeout")
        return 0

    cdef int _check_request_deadlines(self, double now) except -1:
        cdef double at
        cdef double nxt = self.started_at + self.timeout_total
        cdef bint expired = now >= nxt
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
            return 0
        self.deadline = nxt
        self._start_timer(nxt)
        return 0


cdef extern from *:
    """
    #if defined(__GLIBC__)
    #include <malloc.h>
    static int dp_malloc_trim(void) { return malloc_trim(0); }
    #else
    static int dp_malloc_trim(void) { return 0; }
    #endif
    """
    int dp_malloc_trim() nogil


def release_memory():
    """True when glibc handed free heap pages back; False when it had none or has no such call."""
    return dp_malloc_trim() == 1
