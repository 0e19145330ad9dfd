# C-level contract of ``dataplane.http._heads_c`` (ext/http/_heads_c.pyx), for cimport:
# the compiled client connection (``_downstream_c``) calls these at C level where
# the pure ``downstream`` calls ``heads`` and ``dechunk``.

# a message being written: on the C stack up to _STACK bytes, then on the heap
cdef struct _Out:
    char* data
    Py_ssize_t size
    Py_ssize_t cap
    bint heap


cpdef bytes with_request_id(bytes reason, bytes request_id)
cpdef bytes response_head(head, bint close, bint http10_client, bint dechunk, extra=*, bytes request_id=*)
cpdef bytes simple_response(int status, body, bint close, extra=*, bint head_only=*, content_type=*)


cdef class Dechunker:
    cdef public int state
    cdef public unsigned long long left
    cdef bytearray line

    cpdef bytes feed(self, data)
    cdef int _feed(self, _Out* o, const char* p, Py_ssize_t n) except -1
    cdef int _line(self) except -1


cpdef Dechunker new_dechunker()
