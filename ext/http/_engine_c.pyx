"""Compiled twin of ``dataplane.http._engine_py``: see ``engine`` for the contract.

It gathers the compiled engine under the twin's name, as ``_engine_py`` gathers
the pure one: the protocols are ``downstream.py`` and ``upstream.py`` themselves,
compiled through their ``.pxd`` into ``_downstream_c`` and ``_upstream_c``; the
head builders and the dechunker are ``_heads_c``, whose C differs. A .pyx rather
than a .py only for ``release_memory``, which calls glibc's ``malloc_trim`` here
where the pure twin loads ctypes to reach it.
"""

from dataplane.http._downstream_c import ClientConnection
from dataplane.http._heads_c import Dechunker, collect, request_head, response_head, simple_response, with_request_id
from dataplane.http._upstream_c import UpstreamConnection, UpstreamPool
from dataplane.http.heads import HOP_BY_HOP, STATUS_REASONS, TEXT
from dataplane.http.limits import EngineConfig
from dataplane.http.upstream import BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE


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
