# Upstream connections and their pool for the compiled engine (included by _engine_c.pyx).
#
# Twin of ``dataplane.http.upstream``, method for method. The client connection
# calls in here, and these call back into it, at C level: cdef and cpdef methods
# on typed attributes instead of Python attribute lookups.


cdef class UpstreamConnection:
    """One connection to the upstream; owned by at most one client connection at a time."""

    cdef public UpstreamPool pool
    cdef public object transport
    cdef public ClientConnection client  # whose request this connection carries
    cdef bytearray buf  # a response head still incomplete
    cdef public object head
    cdef public int mode
    cdef public long long remaining
    cdef public object scanner
    cdef public bint head_only
    cdef public bint got_bytes  # any byte of the current response arrived
    cdef public bint tunnel
    cdef public bint closed
    cdef public bint reusable

    def __init__(self, UpstreamPool pool):
        self.pool = pool
        self.transport = None
        self.client = None
        self.buf = bytearray()
        self.head = None
        self.mode = _BODY_NONE
        self.remaining = 0
        self.scanner = ChunkedScanner()
        self.head_only = False
        self.got_bytes = False
        self.tunnel = False
        self.closed = False
        self.reusable = True

    # -- driven by the client connection -------------------------------------------------

    cpdef begin(self, ClientConnection client, bint head_only):
        """Start carrying ``client``'s request; ``head_only`` for HEAD (no response body)."""
        self.client = client
        self.head_only = head_only
        self.head = None
        self.got_bytes = False
        if len(self.buf):
            del self.buf[:]
        return None

    cpdef close(self):
        self.reusable = False
        self.client = None
        if self.transport is not None and not self.closed:
            self.transport.close()
        return None

    cpdef abort(self):
        self.reusable = False
        self.client = None
        if self.transport is not None and not self.closed:
            self.transport.abort()
        return None

    # -- asyncio protocol -----------------------------------------------------------------
    # callbacks that reach the client's policy hand what it raises to client.callback_failed

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        cdef ClientConnection client = self.client
        cdef bint holding
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
                if len(self.buf):
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
        cdef ClientConnection client = self.client
        if client is not None and self.head is not None and self.mode == _BODY_UNTIL_CLOSE:
            try:
                self._end_response()
            except Exception as exc:
                client.callback_failed(exc)
        return False

    def connection_lost(self, exc):
        cdef ClientConnection client
        self.closed = True
        self.reusable = False
        self.pool._forget(self)
        client = self.client
        self.client = None
        if client is not None:
            try:
                client.upstream_lost(self, exc)
            except Exception as error:
                client.callback_failed(error)

    def pause_writing(self):
        if self.client is not None:
            self.client._pause_reading(_FOR_UPSTREAM)

    def resume_writing(self):
        if self.client is not None:
            self.client._resume_reading(_FOR_UPSTREAM)

    # -- response parsing -----------------------------------------------------------------

    cdef int _read_head(self, data) except -1:
        cdef ClientConnection client = self.client
        cdef int status
        while True:
            try:
                head = parse_response_head(data, client.max_head_size)
            except HttpError as exc:
                self._fail(exc.reason)
                return 0
            if head is None:
                if data is not self.buf:
                    self.buf += data
                return 0
            rest = data[<Py_ssize_t>head.head_len :]
            status = head.status
            if 100 <= status < 200 and status != 101:
                # interim responses go to the client, then the final one follows
                client.interim_response(head)
                if client is not self.client:
                    return 0
                data = bytes(rest)
                if len(self.buf):
                    del self.buf[:]
                if not data:
                    return 0
                continue
            break
        if len(self.buf):
            del self.buf[:]
        self.head = head
        if status == 101:
            self.tunnel = True
            self.reusable = False
            client.switch_protocols(head, rest)
            return 0
        if self.head_only or status == 204 or status == 304:
            self.mode = _BODY_NONE
        elif head.chunked:
            self.mode = _BODY_CHUNKED
            self.scanner.reset()
        elif head.content_length >= 0:
            self.mode = _BODY_LENGTH
            self.remaining = head.content_length
        else:
            self.mode = _BODY_UNTIL_CLOSE
            self.reusable = False
        if not head.keep_alive:
            self.reusable = False
        client._response_start(head, status, self.mode)
        if self.client is not client:
            return 0
        if self.mode == _BODY_NONE or (self.mode == _BODY_LENGTH and self.remaining == 0):
            if rest:
                self.reusable = False  # bytes beyond the response: the connection is out of step
            self._end_response()
        elif rest:
            self._read_body(bytes(rest))
        return 0

    cdef int _read_body(self, data) except -1:
        cdef Py_ssize_t n, end
        cdef int mode = self.mode
        if mode == _BODY_LENGTH:
            n = len(data)
            if n < self.remaining:
                self.remaining -= n
                self.client.response_body(data)
                return 0
            if n > self.remaining:
                self.reusable = False
                data = data[: <Py_ssize_t>self.remaining]
            self.remaining = 0
            self.client.response_body(data)
            self._end_response()
        elif mode == _BODY_CHUNKED:
            try:
                end = self.scanner.feed(data, 0)
            except HttpError as exc:
                self._fail(f"bad chunked response body: {exc.reason}")
                return 0
            if end < len(data):
                self.reusable = False
                data = data[:end]
            self.client.response_body(data)
            if self.scanner.done and self.client is not None:
                self._end_response()
        elif mode == _BODY_UNTIL_CLOSE:
            self.client.response_body(data)
        else:
            self.reusable = False
        return 0

    cdef int _end_response(self) except -1:
        cdef ClientConnection client = self.client
        if client is not None:
            client.response_end(self)
        return 0

    cdef int _fail(self, str reason) except -1:
        cdef ClientConnection client = self.client
        self.abort()
        if client is not None:
            client.upstream_error(self, reason)
        return 0


cdef class UpstreamPool:
    """Keep-alive connections to one ``host:port``, reused newest first (LIFO keeps few sockets warm).

    At most ``max_connecting`` new connections are being opened at once; more wait in
    order and start as earlier ones complete (see the pure twin).
    ``connect(client)`` is the one method a subclass may replace (tests connect to
    fake transports with it); the engine calls the others at C level.
    """

    cdef public object loop
    cdef public object host
    cdef public object port
    cdef public Py_ssize_t max_idle
    cdef public Py_ssize_t max_connecting
    cdef public list idle
    cdef dict _connecting  # connect in progress -> its client
    cdef public Py_ssize_t connecting
    cdef object _waiting
    cdef public Py_ssize_t connections_opened

    def __init__(self, loop, host, port, Py_ssize_t max_idle=100, Py_ssize_t max_connecting=MAX_CONNECTING):
        self.loop = loop
        self.host = host
        self.port = port
        self.max_idle = max_idle
        self.max_connecting = max(1, max_connecting)
        self.idle = []
        self._connecting = {}
        self.connecting = 0
        self._waiting = deque()
        self.connections_opened = 0

    cdef UpstreamConnection _take(self):
        cdef UpstreamConnection conn
        cdef list idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    def take(self):
        """The most recently used idle connection, or None."""
        return self._take()

    cdef int _give_back(self, UpstreamConnection conn) except -1:
        cdef ClientConnection client
        conn.client = None
        if not conn.reusable or conn.closed:
            conn.close()
            return 0
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
                return 0
        if len(self.idle) < self.max_idle:
            self.idle.append(conn)
        else:
            conn.close()
        return 0

    def give_back(self, UpstreamConnection conn):
        self._give_back(conn)

    cdef int _forget(self, UpstreamConnection conn) except -1:
        # by identity, as list.remove finds it, without raising ValueError when absent
        cdef list idle = self.idle
        cdef Py_ssize_t i
        for i in range(len(idle)):
            if idle[i] is conn:
                del idle[i]
                break
        return 0

    def forget(self, UpstreamConnection conn):
        self._forget(conn)

    def connect(self, client):
        """Open a new connection for ``client``; it gets ``attach`` or ``connect_failed``."""
        if self.connecting >= self.max_connecting:
            self._waiting.append(client)
            return
        self._start(client)

    cdef int _start(self, client) except -1:
        self.connecting += 1
        task = self.loop.create_task(self._connect(client))
        self._connecting[task] = client
        task.add_done_callback(self._connect_done)
        return 0

    def _connect_done(self, task):
        self._connecting.pop(task, None)

    cdef bint _wants(self, ClientConnection client):
        # one that left, was answered or got a connection meanwhile needs none
        return not (client.closed or client.head is None or client.responded or client.upstream is not None or client.target is not self)

    cdef int _connect_ended(self) except -1:
        # a connect succeeded or failed: start the next waiting ones that still want a connection
        self.connecting -= 1
        waiting = self._waiting
        while waiting and self.connecting < self.max_connecting:
            client = waiting.popleft()
            if self._wants(client):
                self._start(client)
        return 0

    async def _connect(self, ClientConnection client):
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

    def close(self):
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

    def _abandon(self, ClientConnection client):
        if self._wants(client):
            try:
                client.connect_failed(self, ConnectionAbortedError(errno.ECONNABORTED, "connection pool closed"))
            except Exception as error:
                client.callback_failed(error)

    @property
    def address(self):
        return f"{self.host}:{self.port}"
