# The C-level contract of ``dataplane.http._upstream_c``, compiled from ``upstream.py``
# itself: Cython reads this file when ``setup.py`` compiles that .py and gives the
# classes below C storage and C calls. Behaviour lives in the .py only; a new
# attribute or helper there needs its line here. It and ``_downstream_c.pxd``
# cimport each other: the two protocols call each other at C level.

cimport cython

from dataplane.http._downstream_c cimport ClientConnection

# how the body of the response being read is delimited (C integers, not module lookups)
cdef int BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_UNTIL_CLOSE
cdef Py_ssize_t MAX_CONNECTING


cdef class UpstreamConnection:
    cdef public UpstreamPool pool
    cdef public object transport
    cdef public ClientConnection client
    cdef bytearray buf
    cdef public object head
    cdef public int mode
    cdef public long long remaining
    cdef public object scanner
    cdef public bint head_only
    cdef public bint got_bytes
    cdef public bint tunnel
    cdef public bint closed
    cdef public bint reusable

    # called by the client connection, per request
    cpdef begin(self, ClientConnection client, bint head_only)
    cpdef close(self)
    cpdef abort(self)

    # asyncio's callbacks, cpdef for their typed locals
    @cython.locals(client=ClientConnection, holding=bint)
    cpdef data_received(self, data)
    @cython.locals(client=ClientConnection)
    cpdef eof_received(self)
    @cython.locals(client=ClientConnection)
    cpdef connection_lost(self, exc)

    @cython.locals(client=ClientConnection, status=int, head_len=Py_ssize_t)
    cdef _read_head(self, data)
    @cython.locals(mode=int, n=Py_ssize_t, end=Py_ssize_t)
    cdef _read_body(self, data)
    @cython.locals(client=ClientConnection)
    cdef _end_response(self)
    @cython.locals(client=ClientConnection)
    cdef _fail(self, str reason)


cdef class UpstreamPool:
    cdef public object loop
    cdef public object host
    cdef public object port
    cdef public Py_ssize_t max_idle
    cdef public Py_ssize_t max_connecting
    cdef public list idle
    cdef dict _connecting
    cdef public Py_ssize_t connecting
    cdef object _waiting
    cdef public Py_ssize_t connections_opened

    # the client connection calls these at C level; ``connect`` stays a Python method,
    # the one a subclass may replace
    @cython.locals(conn=UpstreamConnection, idle=list)
    cpdef UpstreamConnection take(self)
    @cython.locals(client=ClientConnection)
    cpdef give_back(self, UpstreamConnection conn)
    cpdef forget(self, UpstreamConnection conn)

    cdef _start(self, client)
    cdef bint _wants(self, ClientConnection client)
    cdef _connect_ended(self)
