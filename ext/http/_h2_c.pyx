"""HTTP/2 session on libnghttp2: the compiled twin of ``dataplane.http._h2_py``.

Hand-written rather than compiled from the pure module because the two sit on
different libraries: this one binds libnghttp2 (framing, HPACK, flow control,
stream states in C), the twin drives ``h2``. loadtests/bench_h2session.py
measures the pair; the README's "HTTP/2" section has the figures. The API is
described in ``dataplane.http.h2session``; the bounds both enforce alike are in
``dataplane.http.h2limits``.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

import time

from dataplane.http.h2limits import (
    ENHANCE_YOUR_CALM,
    INTERNAL_ERROR,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    FlowControlError,
    H2Limits,
    H2UsageError,
    ResetBudget,
    goaway_frame,
    response_431,
)


cdef extern from "nghttp2/nghttp2.h":
    ctypedef struct nghttp2_session:
        pass
    ctypedef struct nghttp2_session_callbacks:
        pass
    ctypedef struct nghttp2_option:
        pass
    ctypedef struct nghttp2_frame_hd:
        size_t length
        int32_t stream_id
        uint8_t type
        uint8_t flags
    ctypedef struct nghttp2_headers:
        nghttp2_frame_hd hd
        int cat
    ctypedef struct nghttp2_rst_stream:
        nghttp2_frame_hd hd
        uint32_t error_code
    ctypedef struct nghttp2_settings_entry:
        int32_t settings_id
        uint32_t value
    ctypedef struct nghttp2_settings:
        nghttp2_frame_hd hd
        size_t niv
        nghttp2_settings_entry *iv
    ctypedef struct nghttp2_goaway:
        nghttp2_frame_hd hd
        int32_t last_stream_id
        uint32_t error_code
    ctypedef union nghttp2_frame:
        nghttp2_frame_hd hd
        nghttp2_headers headers
        nghttp2_rst_stream rst_stream
        nghttp2_settings settings
        nghttp2_goaway goaway
    ctypedef struct nghttp2_nv:
        uint8_t *name
        uint8_t *value
        size_t namelen
        size_t valuelen
        uint8_t flags
    ctypedef union nghttp2_data_source:
        int fd
        void *ptr
    ctypedef ssize_t (*nghttp2_data_source_read_callback)(
        nghttp2_session *, int32_t, uint8_t *, size_t, uint32_t *, nghttp2_data_source *, void *)
    ctypedef struct nghttp2_data_provider:
        nghttp2_data_source source
        nghttp2_data_source_read_callback read_callback

    ctypedef int (*nghttp2_on_begin_frame_callback)(nghttp2_session *, const nghttp2_frame_hd *, void *)
    ctypedef int (*nghttp2_on_begin_headers_callback)(nghttp2_session *, const nghttp2_frame *, void *)
    ctypedef int (*nghttp2_on_header_callback)(
        nghttp2_session *, const nghttp2_frame *, const uint8_t *, size_t, const uint8_t *, size_t, uint8_t, void *)
    ctypedef int (*nghttp2_on_frame_recv_callback)(nghttp2_session *, const nghttp2_frame *, void *)
    ctypedef int (*nghttp2_on_invalid_frame_recv_callback)(nghttp2_session *, const nghttp2_frame *, int, void *)
    ctypedef int (*nghttp2_on_data_chunk_recv_callback)(
        nghttp2_session *, uint8_t, int32_t, const uint8_t *, size_t, void *)
    ctypedef int (*nghttp2_on_stream_close_callback)(nghttp2_session *, int32_t, uint32_t, void *)
    ctypedef int (*nghttp2_on_frame_not_send_callback)(nghttp2_session *, const nghttp2_frame *, int, void *)

    enum:
        NGHTTP2_DATA = 0
        NGHTTP2_HEADERS = 1
        NGHTTP2_RST_STREAM = 3
        NGHTTP2_SETTINGS = 4
        NGHTTP2_GOAWAY = 7
        NGHTTP2_WINDOW_UPDATE = 8
        NGHTTP2_CONTINUATION = 9
        NGHTTP2_FLAG_NONE = 0
        NGHTTP2_FLAG_END_STREAM = 1
        NGHTTP2_FLAG_END_HEADERS = 4
        NGHTTP2_FLAG_ACK = 1
        NGHTTP2_HCAT_REQUEST = 0
        NGHTTP2_HCAT_RESPONSE = 1
        NGHTTP2_HCAT_HEADERS = 3
        NGHTTP2_DATA_FLAG_EOF = 1
        NGHTTP2_DATA_FLAG_NO_END_STREAM = 2
        NGHTTP2_NV_FLAG_NONE = 0
        NGHTTP2_ERR_DEFERRED = -508
        NGHTTP2_ERR_CALLBACK_FAILURE = -902
        NGHTTP2_ERR_BAD_CLIENT_MAGIC = -903
        NGHTTP2_ERR_FLOODED = -904
        NGHTTP2_ERR_TOO_MANY_CONTINUATIONS = -905
        NGHTTP2_SETTINGS_HEADER_TABLE_SIZE = 1
        NGHTTP2_SETTINGS_ENABLE_PUSH = 2
        NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS = 3
        NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE = 4
        NGHTTP2_SETTINGS_MAX_FRAME_SIZE = 5
        NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE = 6

    int nghttp2_session_callbacks_new(nghttp2_session_callbacks **)
    void nghttp2_session_callbacks_set_on_begin_frame_callback(nghttp2_session_callbacks *, nghttp2_on_begin_frame_callback)
    void nghttp2_session_callbacks_set_on_begin_headers_callback(
        nghttp2_session_callbacks *, nghttp2_on_begin_headers_callback)
    void nghttp2_session_callbacks_set_on_header_callback(nghttp2_session_callbacks *, nghttp2_on_header_callback)
    void nghttp2_session_callbacks_set_on_frame_recv_callback(nghttp2_session_callbacks *, nghttp2_on_frame_recv_callback)
    void nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
        nghttp2_session_callbacks *, nghttp2_on_invalid_frame_recv_callback)
    void nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        nghttp2_session_callbacks *, nghttp2_on_data_chunk_recv_callback)
    void nghttp2_session_callbacks_set_on_stream_close_callback(
        nghttp2_session_callbacks *, nghttp2_on_stream_close_callback)
    void nghttp2_session_callbacks_set_on_frame_not_send_callback(
        nghttp2_session_callbacks *, nghttp2_on_frame_not_send_callback)

    int nghttp2_option_new(nghttp2_option **)
    void nghttp2_option_del(nghttp2_option *)
    void nghttp2_option_set_no_auto_window_update(nghttp2_option *, int)
    void nghttp2_option_set_max_continuations(nghttp2_option *, size_t)
    void nghttp2_option_set_stream_reset_rate_limit(nghttp2_option *, uint64_t, uint64_t)
    void nghttp2_option_set_no_closed_streams(nghttp2_option *, int)

    int nghttp2_session_server_new2(nghttp2_session **, const nghttp2_session_callbacks *, void *, const nghttp2_option *)
    int nghttp2_session_client_new2(nghttp2_session **, const nghttp2_session_callbacks *, void *, const nghttp2_option *)
    void nghttp2_session_del(nghttp2_session *)
    ssize_t nghttp2_session_mem_recv(nghttp2_session *, const uint8_t *, size_t)
    ssize_t nghttp2_session_mem_send(nghttp2_session *, const uint8_t **)
    int nghttp2_session_want_read(nghttp2_session *)
    int nghttp2_session_want_write(nghttp2_session *)
    int nghttp2_submit_settings(nghttp2_session *, uint8_t, const nghttp2_settings_entry *, size_t)
    int32_t nghttp2_submit_headers(nghttp2_session *, uint8_t, int32_t, const void *, const nghttp2_nv *, size_t, void *)
    int nghttp2_submit_data(nghttp2_session *, uint8_t, int32_t, const nghttp2_data_provider *)
    int nghttp2_submit_trailer(nghttp2_session *, int32_t, const nghttp2_nv *, size_t)
    int nghttp2_submit_rst_stream(nghttp2_session *, uint8_t, int32_t, uint32_t)
    int nghttp2_submit_goaway(nghttp2_session *, uint8_t, int32_t, uint32_t, const uint8_t *, size_t)
    int nghttp2_session_terminate_session(nghttp2_session *, uint32_t)
    int nghttp2_session_consume(nghttp2_session *, int32_t, size_t)
    int nghttp2_session_consume_connection(nghttp2_session *, size_t)
    int nghttp2_session_resume_data(nghttp2_session *, int32_t)
    int32_t nghttp2_session_get_stream_remote_window_size(nghttp2_session *, int32_t)
    int32_t nghttp2_session_get_remote_window_size(nghttp2_session *)
    int32_t nghttp2_session_get_last_proc_stream_id(nghttp2_session *)
    void *nghttp2_session_find_stream(nghttp2_session *, int32_t)
    uint32_t nghttp2_session_get_remote_settings(nghttp2_session *, int)
    int32_t nghttp2_submit_request(nghttp2_session *, const void *, const nghttp2_nv *, size_t,
                                   const nghttp2_data_provider *, void *)


cdef nghttp2_session_callbacks *_callbacks = NULL
cdef object _DEFAULT_LIMITS = H2Limits()

# stream flags
cdef enum:
    LIVE = 1          # the handler knows the stream
    LOCAL_RESET = 2   # reset by the handler or reported already: no on_reset


cdef class _Out:
    """Body bytes handed to send_data and not yet framed by nghttp2."""
    cdef bytearray buf
    cdef bint provider, deferred, end, done
    cdef object trailers

    def __cinit__(self):
        self.buf = bytearray()


cdef nghttp2_nv *_nva(list headers) except NULL:
    cdef Py_ssize_t n = len(headers), i
    cdef nghttp2_nv *nva = <nghttp2_nv *>PyMem_Malloc(sizeof(nghttp2_nv) * (n if n else 1))
    if nva == NULL:
        raise MemoryError()
    cdef bytes name, value
    for i in range(n):
        name, value = headers[i]
        nva[i].name = <uint8_t *>PyBytes_AS_STRING(name)
        nva[i].namelen = PyBytes_GET_SIZE(name)
        nva[i].value = <uint8_t *>PyBytes_AS_STRING(value)
        nva[i].valuelen = PyBytes_GET_SIZE(value)
        nva[i].flags = NGHTTP2_NV_FLAG_NONE
    return nva


cdef class Session:
    """One HTTP/2 connection's state, sans I/O; see ``dataplane.http.h2session``."""

    cdef nghttp2_session *_s
    cdef object _handler, _error, _budget
    cdef readonly object limits
    cdef readonly bint client, established
    cdef bint _closed, _draining
    cdef int _fatal_code
    cdef bytes _tail
    cdef dict _flags, _out
    cdef list _cur, _resets
    cdef int64_t _cur_size, _block, _pending
    cdef int _cont, _pending_streams
    cdef bint _cur_over

    def __cinit__(self, handler, bint client=False, limits=None, clock=time.monotonic):
        cdef nghttp2_option *opt
        self._handler = handler
        self._fatal_code = -1
        self.client = client
        self.limits = limits or _DEFAULT_LIMITS
        self._flags = {}
        self._out = {}
        self._resets = []
        self._tail = b""
        self._budget = None if client else ResetBudget(self.limits.reset_burst, self.limits.reset_rate, clock)
        if nghttp2_option_new(&opt) != 0:
            raise MemoryError()
        # windows reopen only when the handler consumed the bytes: backpressure across the proxy
        nghttp2_option_set_no_auto_window_update(opt, 1)
        # our own bounds (h2limits) fire first, on the session's clock, in both builds alike
        nghttp2_option_set_max_continuations(opt, self.limits.max_continuations + 1)
        nghttp2_option_set_stream_reset_rate_limit(opt, <uint64_t>1 << 62, <uint64_t>1 << 62)
        nghttp2_option_set_no_closed_streams(opt, 1)
        try:
            if client:
                rv = nghttp2_session_client_new2(&self._s, _callbacks, <void *>self, opt)
            else:
                rv = nghttp2_session_server_new2(&self._s, _callbacks, <void *>self, opt)
        finally:
            nghttp2_option_del(opt)
        if rv != 0:
            raise MemoryError()

    def __dealloc__(self):
        if self._s != NULL:
            nghttp2_session_del(self._s)
            self._s = NULL

    # -- setup

    def initiate(self):
        """Queue the connection preface (client) and our SETTINGS."""
        lim = self.limits
        cdef nghttp2_settings_entry iv[6]
        iv[0].settings_id = NGHTTP2_SETTINGS_HEADER_TABLE_SIZE
        iv[0].value = lim.header_table_size
        iv[1].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH
        iv[1].value = 0
        iv[2].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS
        iv[2].value = lim.max_concurrent_streams
        iv[3].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE
        iv[3].value = lim.initial_window_size
        iv[4].settings_id = NGHTTP2_SETTINGS_MAX_FRAME_SIZE
        iv[4].value = lim.max_frame_size
        iv[5].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE
        iv[5].value = lim.max_header_list_size
        self._pending_streams = lim.max_concurrent_streams
        if nghttp2_submit_settings(self._s, NGHTTP2_FLAG_NONE, iv, 6) != 0:
            raise H2UsageError("SETTINGS refused")

    @property
    def closed(self):
        """True once the connection is over: flush ``data_to_send()``, then close the transport."""
        return self._closed or not (nghttp2_session_want_read(self._s) or nghttp2_session_want_write(self._s))

    # -- input

    def receive(self, data):
        """Process bytes from the peer; the handler is called for what they carry."""
        cdef const uint8_t *p
        cdef Py_ssize_t n
        cdef ssize_t rv
        if self._closed:
            return
        if not isinstance(data, bytes):
            data = bytes(data)
        p = <const uint8_t *>PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
        if n == 0:
            return
        rv = nghttp2_session_mem_recv(self._s, p, n)
        if rv < 0:
            if rv == NGHTTP2_ERR_CALLBACK_FAILURE and self._fatal_code >= 0:
                code = self._fatal_code
            elif rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS or rv == NGHTTP2_ERR_FLOODED:
                code = ENHANCE_YOUR_CALM
            elif rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC:
                code = PROTOCOL_ERROR
            else:
                code = INTERNAL_ERROR
            # after a fatal error nghttp2's state cannot write: the GOAWAY is ours
            self._closed = True
            self._tail = goaway_frame(nghttp2_session_get_last_proc_stream_id(self._s), code)
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    cdef int _stash(self, exc) noexcept:
        # a handler's exception ends the connection (INTERNAL_ERROR) and is raised from receive()
        self._error = exc
        self._fatal_code = INTERNAL_ERROR
        return NGHTTP2_ERR_CALLBACK_FAILURE

    cdef int _calm(self) noexcept:
        self._fatal_code = ENHANCE_YOUR_CALM
        return NGHTTP2_ERR_CALLBACK_FAILURE

    cdef int _begin_frame(self, const nghttp2_frame_hd *hd) noexcept:
        if hd.type == NGHTTP2_HEADERS:
            self._cont = 0
            self._block = hd.length
        elif hd.type == NGHTTP2_CONTINUATION:
            self._cont += 1
            self._block += hd.length
            if self._cont > self.limits.max_continuations or self._block > self.limits.max_header_block:
                return self._calm()
        return 0

    cdef int _begin_headers(self, const nghttp2_frame *frame) noexcept:
        cdef int32_t sid = frame.hd.stream_id
        self._cur = []
        self._cur_size = 0
        self._cur_over = False
        if frame.headers.cat == NGHTTP2_HCAT_REQUEST:
            if self._draining or len(self._flags) >= self._pending_streams:
                nghttp2_submit_rst_stream(self._s, NGHTTP2_FLAG_NONE, sid, REFUSED_STREAM)
                self._cur_over = True
            else:
                self._flags[sid] = 0
        return 0

    cdef int _header(self, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen) noexcept:
        self._cur_size += namelen + valuelen + 32
        if self._cur_size > self.limits.header_hard_limit:
            return self._calm()
        if self._cur_size > self.limits.max_header_list_size:
            self._cur_over = True
        if not self._cur_over:
            try:
                self._cur.append((PyBytes_FromStringAndSize(<char *>name, namelen),
                                  PyBytes_FromStringAndSize(<char *>value, valuelen)))
            except BaseException as exc:
                return self._stash(exc)
        return 0

    cdef int _frame_recv(self, const nghttp2_frame *frame) noexcept:
        cdef int32_t sid = frame.hd.stream_id
        cdef uint8_t t = frame.hd.type
        cdef size_t i
        try:
            if t == NGHTTP2_HEADERS:
                self._on_head(frame)
                if frame.hd.flags & NGHTTP2_FLAG_END_STREAM:
                    flags = self._flags.get(sid)
                    if flags is not None and (<int>flags & LIVE) and not (<int>flags & LOCAL_RESET):
                        self._handler.on_end(sid)
            elif t == NGHTTP2_DATA:
                if frame.hd.flags & NGHTTP2_FLAG_END_STREAM:
                    flags = self._flags.get(sid)
                    if flags is not None and (<int>flags & LIVE) and not (<int>flags & LOCAL_RESET):
                        self._handler.on_end(sid)
            elif t == NGHTTP2_RST_STREAM:
                if self._budget is not None and not self._budget.take():
                    nghttp2_session_terminate_session(self._s, ENHANCE_YOUR_CALM)
            elif t == NGHTTP2_WINDOW_UPDATE:
                self._handler.on_window_update(sid)
            elif t == NGHTTP2_SETTINGS:
                if frame.hd.flags & NGHTTP2_FLAG_ACK:
                    self._handler.on_settings_acked()
                else:
                    self.established = True
                    for i in range(frame.settings.niv):
                        if frame.settings.iv[i].settings_id == NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE:
                            self._handler.on_window_update(0)
                            break
            elif t == NGHTTP2_GOAWAY:
                self._handler.on_goaway(frame.goaway.error_code, frame.goaway.last_stream_id)
        except BaseException as exc:
            return self._stash(exc)
        return 0

    cdef _on_head(self, const nghttp2_frame *frame):
        cdef int32_t sid = frame.hd.stream_id
        cdef int cat = frame.headers.cat
        headers = self._cur
        self._cur = None
        flags = self._flags.get(sid)
        if flags is None or (<int>flags & LOCAL_RESET):
            return
        live = <int>flags & LIVE
        trailers = cat == NGHTTP2_HCAT_HEADERS and not (headers and headers[0][0][:1] == b":")
        if self._cur_over:
            if cat == NGHTTP2_HCAT_REQUEST:
                del self._flags[sid]
                self._submit_headers(sid, response_431(), True)
            else:
                self._refuse(sid, PROTOCOL_ERROR)
            return
        if cat == NGHTTP2_HCAT_REQUEST:
            self._flags[sid] = LIVE
            self._handler.on_headers(sid, headers)
        elif not live:
            return
        elif trailers:
            self._handler.on_trailers(sid, headers)
        else:
            self._handler.on_headers(sid, headers)

    cdef _refuse(self, int32_t sid, uint32_t code):
        flags = self._flags.get(sid, 0)
        self._flags[sid] = <int>flags | LOCAL_RESET
        nghttp2_submit_rst_stream(self._s, NGHTTP2_FLAG_NONE, sid, code)
        if <int>flags & LIVE and not (<int>flags & LOCAL_RESET):
            self._handler.on_reset(sid, code)

    cdef int _invalid_frame(self, const nghttp2_frame *frame) noexcept:
        # nghttp2 resets the stream (RFC 9113 §8 messaging checks); tell the handler now, as the twin does
        cdef int32_t sid = frame.hd.stream_id
        flags = self._flags.get(sid)
        if flags is None or (<int>flags & LOCAL_RESET):
            return 0
        self._flags[sid] = <int>flags | LOCAL_RESET
        if <int>flags & LIVE:
            try:
                self._handler.on_reset(sid, PROTOCOL_ERROR)
            except BaseException as exc:
                return self._stash(exc)
        return 0

    cdef int _data_chunk(self, int32_t sid, const uint8_t *data, size_t n) noexcept:
        flags = self._flags.get(sid)
        if flags is None or not (<int>flags & LIVE) or (<int>flags & LOCAL_RESET):
            # nobody will consume these: give the window back at once
            nghttp2_session_consume(self._s, sid, n)
            return 0
        try:
            self._handler.on_data(sid, PyBytes_FromStringAndSize(<char *>data, n))
        except BaseException as exc:
            return self._stash(exc)
        return 0

    cdef int _frame_not_send(self, const nghttp2_frame *frame) noexcept:
        # a request whose HEADERS could not go (a GOAWAY came first): libnghttp2 drops it without a
        # stream close, as the stream was never opened; refused, as the h2 twin reports it
        if frame.hd.type != NGHTTP2_HEADERS or frame.headers.cat != NGHTTP2_HCAT_REQUEST:
            return 0
        return self._stream_close(frame.hd.stream_id, REFUSED_STREAM)

    cdef int _stream_close(self, int32_t sid, uint32_t code) noexcept:
        flags = self._flags.pop(sid, None)
        out = self._out.pop(sid, None)
        if out is not None:
            self._pending -= len((<_Out>out).buf)
        if flags is None or not (<int>flags & LIVE) or (<int>flags & LOCAL_RESET) or code == NO_ERROR:
            return 0
        try:
            self._handler.on_reset(sid, code)
        except BaseException as exc:
            self._error = exc
        return 0

    cdef ssize_t _read(self, int32_t sid, uint8_t *buf, size_t length, uint32_t *data_flags) noexcept:
        out = self._out.get(sid)
        if out is None:
            data_flags[0] |= NGHTTP2_DATA_FLAG_EOF
            return 0
        cdef _Out o = <_Out>out
        cdef Py_ssize_t have = len(o.buf)
        cdef size_t n = length if <size_t>have > length else <size_t>have
        if n:
            memcpy(buf, PyByteArray_AS_STRING(o.buf), n)
            del o.buf[:n]
            self._pending -= n
        if n == <size_t>have and o.end:
            data_flags[0] |= NGHTTP2_DATA_FLAG_EOF
            o.done = True
            if o.trailers is not None:
                data_flags[0] |= NGHTTP2_DATA_FLAG_NO_END_STREAM
                try:
                    self._submit_trailer(sid, o.trailers)
                except BaseException as exc:
                    self._error = exc
            return n
        if n == 0:
            o.deferred = True
            return NGHTTP2_ERR_DEFERRED
        return n

    # -- output

    def data_to_send(self):
        """Bytes to write to the peer now (may be empty)."""
        cdef const uint8_t *p
        cdef ssize_t n
        chunks = []
        if not self._tail or not self._closed:
            while True:
                n = nghttp2_session_mem_send(self._s, &p)
                if n <= 0:
                    break
                chunks.append(PyBytes_FromStringAndSize(<char *>p, n))
            if self._resets:
                # after what was queued before them (see reset_stream)
                resets, self._resets = self._resets, []
                for sid, code in resets:
                    nghttp2_submit_rst_stream(self._s, NGHTTP2_FLAG_NONE, <int32_t>sid, <uint32_t>code)
                while True:
                    n = nghttp2_session_mem_send(self._s, &p)
                    if n <= 0:
                        break
                    chunks.append(PyBytes_FromStringAndSize(<char *>p, n))
        if self._tail:
            chunks.append(self._tail)
            self._tail = b""
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if not chunks:
            return b""
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)

    cdef _submit_headers(self, int32_t sid, list headers, bint end_stream):
        cdef nghttp2_nv *nva = _nva(headers)
        try:
            rv = nghttp2_submit_headers(self._s, NGHTTP2_FLAG_END_STREAM if end_stream else NGHTTP2_FLAG_NONE,
                                        sid, NULL, nva, len(headers), NULL)
        finally:
            PyMem_Free(nva)
        return rv

    cdef _submit_trailer(self, int32_t sid, list headers):
        cdef nghttp2_nv *nva = _nva(headers)
        try:
            nghttp2_submit_trailer(self._s, sid, nva, len(headers))
        finally:
            PyMem_Free(nva)

    def send_request(self, list headers, bint end_stream=False):
        """Open a stream with a request head (client role); returns its id."""
        cdef nghttp2_data_provider prd
        cdef nghttp2_nv *nva
        cdef int32_t sid
        if not self.client:
            raise H2UsageError("send_request on a server session")
        if end_stream:
            sid = self._submit_headers(-1, headers, True)
        else:
            # the body's provider goes with the request: nghttp2 makes the stream only when it writes
            # the HEADERS, and a DATA submitted before that has no stream to go on
            prd.source.ptr = NULL
            prd.read_callback = _read_cb
            nva = _nva(headers)
            try:
                sid = nghttp2_submit_request(self._s, NULL, nva, len(headers), &prd, NULL)
            finally:
                PyMem_Free(nva)
        if sid < 0:
            raise H2UsageError(f"cannot open a stream (nghttp2 error {sid})")
        self._flags[sid] = LIVE
        if not end_stream:
            o = _Out()
            o.provider = True
            self._out[sid] = o
        return sid

    def send_headers(self, int32_t stream_id, list headers, bint end_stream=False):
        """Send a response head (or a 1xx) on a stream the peer opened."""
        flags = self._flags.get(stream_id)
        if flags is None or (<int>flags & LOCAL_RESET):
            return
        self._submit_headers(stream_id, headers, end_stream)

    def send_data(self, int32_t stream_id, data, bint end_stream=False):
        """Send body bytes; at most ``send_window(stream_id)`` of them (FlowControlError beyond)."""
        cdef nghttp2_data_provider prd
        cdef _Out o
        flags = self._flags.get(stream_id)
        if flags is None or (<int>flags & LOCAL_RESET):
            return
        n = len(data)
        if n > self.send_window(stream_id):
            raise FlowControlError(f"{n} bytes over the window of stream {stream_id}")
        out = self._out.get(stream_id)
        if out is None:
            o = _Out()
            self._out[stream_id] = o
        else:
            o = <_Out>out
            if o.end:
                raise H2UsageError(f"stream {stream_id} already ended")
        o.buf += data
        self._pending += n
        o.end = end_stream
        if not o.provider:
            o.provider = True
            prd.source.ptr = NULL
            prd.read_callback = _read_cb
            # END_STREAM goes on the DATA frame the provider marks EOF (without NO_END_STREAM)
            rv = nghttp2_submit_data(self._s, NGHTTP2_FLAG_END_STREAM, stream_id, &prd)
            if rv != 0:
                raise H2UsageError(f"cannot send on stream {stream_id} (nghttp2 error {rv})")
        elif o.deferred:
            o.deferred = False
            nghttp2_session_resume_data(self._s, stream_id)

    def send_trailers(self, int32_t stream_id, list headers):
        """End the stream with a trailer block."""
        cdef _Out o
        flags = self._flags.get(stream_id)
        if flags is None or (<int>flags & LOCAL_RESET):
            return
        out = self._out.get(stream_id)
        if out is None or (<_Out>out).done:
            self._submit_trailer(stream_id, headers)
            return
        o = <_Out>out
        o.trailers = headers
        o.end = True
        if o.deferred:
            o.deferred = False
            nghttp2_session_resume_data(self._s, stream_id)

    def send_window(self, int32_t stream_id):
        """Bytes ``send_data`` may take now on this stream (0 when it is closed)."""
        cdef int64_t s
        if nghttp2_session_find_stream(self._s, stream_id) != NULL:
            s = nghttp2_session_get_stream_remote_window_size(self._s, stream_id)
        elif self.client and stream_id in self._out:
            # a request not written yet: its window will be the peer's initial one
            s = nghttp2_session_get_remote_settings(self._s, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE)
        else:
            return 0
        cdef int64_t c = nghttp2_session_get_remote_window_size(self._s) - self._pending
        out = self._out.get(stream_id)
        if out is not None:
            s -= len((<_Out>out).buf)
        s = s if s < c else c
        return s if s > 0 else 0

    @property
    def peer_max_streams(self):
        """Streams the peer lets us open at once: its SETTINGS_MAX_CONCURRENT_STREAMS (2**31-1
        when its SETTINGS name none; 100 until they arrive, as libnghttp2 assumes)."""
        cdef uint32_t n = nghttp2_session_get_remote_settings(self._s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
        return n if n < 0x7FFFFFFF else 0x7FFFFFFF

    def reset_stream(self, int32_t stream_id, uint32_t error_code):
        """Reset a stream; the handler hears nothing more of it."""
        flags = self._flags.get(stream_id)
        if flags is None:
            return
        self._flags[stream_id] = <int>flags | LOCAL_RESET
        # submitted at the next data_to_send, after the frames queued before it: libnghttp2 drops a
        # stream's unsent HEADERS and DATA once its RST_STREAM is queued, so a complete response
        # followed by NO_ERROR (RFC 9113 §8.1: the client may stop sending) would never leave;
        # h2 (the twin) writes each frame as it is sent, so there the order holds already
        self._resets.append((stream_id, error_code))

    def consumed(self, int32_t stream_id, size_t n):
        """The handler took ``n`` bytes of the stream's data: the peer may send as many more."""
        if n == 0 or self._closed:
            return
        if nghttp2_session_consume(self._s, stream_id, n) != 0:
            nghttp2_session_consume_connection(self._s, n)

    def update_settings(self, max_concurrent_streams=None, initial_window_size=None,
                        max_header_list_size=None, max_frame_size=None):
        """Send new SETTINGS; they apply once the peer acknowledges them."""
        cdef nghttp2_settings_entry iv[4]
        cdef size_t n = 0
        for sid, value in ((NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_concurrent_streams),
                           (NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, initial_window_size),
                           (NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, max_header_list_size),
                           (NGHTTP2_SETTINGS_MAX_FRAME_SIZE, max_frame_size)):
            if value is not None:
                iv[n].settings_id = sid
                iv[n].value = value
                n += 1
        if max_concurrent_streams is not None:
            self._pending_streams = max_concurrent_streams
        if n and nghttp2_submit_settings(self._s, NGHTTP2_FLAG_NONE, iv, n) != 0:
            raise H2UsageError("SETTINGS refused")

    def goaway(self, uint32_t error_code=NO_ERROR):
        """NO_ERROR: no new streams, the open ones finish. Any other code ends the connection."""
        if self._closed:
            return
        if error_code != NO_ERROR:
            nghttp2_session_terminate_session(self._s, error_code)
            self._closed = True
            self._tail = b""
            return
        if not self._draining:
            self._draining = True
            nghttp2_submit_goaway(self._s, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(self._s),
                                  NO_ERROR, NULL, 0)


# -- C callbacks: each hands over to the session in user_data

cdef int _begin_frame_cb(nghttp2_session *s, const nghttp2_frame_hd *hd, void *ud) noexcept:
    return (<Session>ud)._begin_frame(hd)

cdef int _begin_headers_cb(nghttp2_session *s, const nghttp2_frame *frame, void *ud) noexcept:
    return (<Session>ud)._begin_headers(frame)

cdef int _header_cb(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                    const uint8_t *value, size_t valuelen, uint8_t flags, void *ud) noexcept:
    return (<Session>ud)._header(frame, name, namelen, value, valuelen)

cdef int _frame_recv_cb(nghttp2_session *s, const nghttp2_frame *frame, void *ud) noexcept:
    return (<Session>ud)._frame_recv(frame)

cdef int _invalid_frame_cb(nghttp2_session *s, const nghttp2_frame *frame, int err, void *ud) noexcept:
    return (<Session>ud)._invalid_frame(frame)

cdef int _data_chunk_cb(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t n,
                        void *ud) noexcept:
    return (<Session>ud)._data_chunk(sid, data, n)

cdef int _stream_close_cb(nghttp2_session *s, int32_t sid, uint32_t code, void *ud) noexcept:
    return (<Session>ud)._stream_close(sid, code)

cdef int _frame_not_send_cb(nghttp2_session *s, const nghttp2_frame *frame, int error, void *ud) noexcept:
    return (<Session>ud)._frame_not_send(frame)

cdef ssize_t _read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length, uint32_t *data_flags,
                      nghttp2_data_source *source, void *ud) noexcept:
    return (<Session>ud)._read(sid, buf, length, data_flags)


if nghttp2_session_callbacks_new(&_callbacks) != 0:
    raise MemoryError()
nghttp2_session_callbacks_set_on_begin_frame_callback(_callbacks, _begin_frame_cb)
nghttp2_session_callbacks_set_on_begin_headers_callback(_callbacks, _begin_headers_cb)
nghttp2_session_callbacks_set_on_header_callback(_callbacks, _header_cb)
nghttp2_session_callbacks_set_on_frame_recv_callback(_callbacks, _frame_recv_cb)
nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(_callbacks, _invalid_frame_cb)
nghttp2_session_callbacks_set_on_data_chunk_recv_callback(_callbacks, _data_chunk_cb)
nghttp2_session_callbacks_set_on_stream_close_callback(_callbacks, _stream_close_cb)
nghttp2_session_callbacks_set_on_frame_not_send_callback(_callbacks, _frame_not_send_cb)
