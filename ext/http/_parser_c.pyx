"""Compiled twin of ``dataplane.http._parser_py``: see ``parser`` for the contract.

Checks run in the same order as in the pure twin, so both raise the same
``HttpError`` for any input; keep them in step. The head is scanned in place
through a pointer (bytes directly, other buffers through the buffer protocol)
and Python objects are made only for what is handed back. Head parsing and chunked
scanning share the byte tables and buffer access, hence one module.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_Append, PyList_AsTuple
from libc.stdint cimport uint64_t
from libc.string cimport memchr, memcmp, memcpy, memset

from dataplane.http.errors import HttpError

cdef enum:
    _MAX_HEADERS = 100
    _REQUEST = 0
    _RESPONSE = 1
    # byte classes
    _K_TCHAR = 1
    _K_VALUE = 2  # field-value byte: VCHAR, obs-text, SP, HTAB
    _K_TARGET = 4  # request-target byte: 0x21-0x7E
    _K_HOSTNAME = 8  # byte of an absolute-form target's host name: ALPHA DIGIT - . _ ~
    _K_IPLITERAL = 16  # byte inside an absolute-form target's [IP literal]: HEXDIG : .

MAX_HEADERS = _MAX_HEADERS

cdef unsigned char _CLASS[256]
cdef signed char _HEX[256]


cdef void _init_tables() noexcept:
    cdef int c
    cdef const char* extra = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    for c in range(256):
        _CLASS[c] = _K_VALUE if c == 0x09 or 0x20 <= c <= 0x7E or c >= 0x80 else 0
        if 0x21 <= c <= 0x7E:
            _CLASS[c] |= _K_TARGET
        if 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 0x2D or c == 0x2E or c == 0x5F or c == 0x7E:
            _CLASS[c] |= _K_HOSTNAME
        if 48 <= c <= 58 or 65 <= c <= 70 or 97 <= c <= 102 or c == 0x2E:
            _CLASS[c] |= _K_IPLITERAL
        _HEX[c] = -1
    while extra[0]:
        _CLASS[<unsigned char>extra[0]] |= _K_TCHAR
        extra += 1
    for c in range(10):
        _HEX[48 + c] = c
    for c in range(6):
        _HEX[65 + c] = 10 + c
        _HEX[97 + c] = 10 + c


_init_tables()

# shared results for the common cases, instead of a new object per request
cdef bytes _GET = b"GET"
cdef bytes _POST = b"POST"
cdef bytes _SLASH = b"/"
cdef bytes _STAR = b"*"
cdef bytes _EMPTY_BYTES = b""
cdef tuple _NO_TOKENS = ()

# Field names as clients, proxies and apps commonly spell them, handed out
# shared rather than allocated per field (3-15% off the heads of loadtests/bench_parser.py).
cdef tuple _COMMON_NAMES = (
    b"Host", b"User-Agent", b"Accept", b"Accept-Encoding", b"Accept-Language", b"Connection",
    b"Content-Type", b"Content-Length", b"Transfer-Encoding", b"Cookie", b"Referer", b"Authorization",
    b"Cache-Control", b"Pragma", b"Origin", b"Upgrade-Insecure-Requests", b"If-None-Match",
    b"If-Modified-Since", b"Range", b"Expect", b"Upgrade", b"TE", b"DNT", b"Priority",
    b"Forwarded", b"X-Forwarded-For", b"X-Forwarded-Proto", b"X-Forwarded-Host", b"X-Real-IP",
    b"X-Request-Id", b"X-Requested-With", b"traceparent", b"tracestate",
    b"Sec-Fetch-Site", b"Sec-Fetch-Mode", b"Sec-Fetch-Dest", b"Sec-Fetch-User",
    b"sec-ch-ua", b"sec-ch-ua-mobile", b"sec-ch-ua-platform",
    b"K-Proxy-Request", b"K-Original-Host", b"K-Network-Probe", b"K-Network-Hash", b"K-Kubelet-Probe",
    b"Knative-Serving-Revision", b"Knative-Serving-Namespace", b"Knative-Serving-Tag",
    b"Knative-Serving-Default-Route",
    b"host", b"user-agent", b"accept", b"accept-encoding", b"content-type", b"content-length",
    b"x-forwarded-for", b"x-forwarded-proto", b"x-request-id",
    b"Date", b"Server", b"Content-Encoding", b"Vary", b"Set-Cookie", b"ETag", b"Last-Modified",
    b"Location", b"Expires", b"Keep-Alive", b"Access-Control-Allow-Origin",
    b"Strict-Transport-Security", b"X-Content-Type-Options",
)
cdef enum:
    _NAME_SLOTS = 256  # open-addressing table, a power of two well above the names' count
cdef short _NAME_SLOT[256]


cdef inline unsigned int _name_hash(const unsigned char* s, Py_ssize_t n) noexcept:
    return (<unsigned int>n * 7 + s[0] * 31 + s[n >> 1] * 5 + s[n - 1] * 3) & (_NAME_SLOTS - 1)


cdef void _init_names() noexcept:
    cdef Py_ssize_t i
    cdef unsigned int h
    cdef bytes name
    for i in range(_NAME_SLOTS):
        _NAME_SLOT[i] = -1
    for i in range(len(_COMMON_NAMES)):
        name = _COMMON_NAMES[i]
        h = _name_hash(<const unsigned char*>PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name))
        while _NAME_SLOT[h] >= 0:
            h = (h + 1) & (_NAME_SLOTS - 1)
        _NAME_SLOT[h] = <short>i


_init_names()


cdef inline bytes _field_name(const unsigned char* s, Py_ssize_t n):
    """``s[:n]`` as bytes, shared when it is one of the common names."""
    cdef unsigned int h = _name_hash(s, n)
    cdef short i = _NAME_SLOT[h]
    cdef bytes name
    while i >= 0:
        name = <bytes>_COMMON_NAMES[i]
        if PyBytes_GET_SIZE(name) == n and memcmp(PyBytes_AS_STRING(name), s, n) == 0:
            return name
        h = (h + 1) & (_NAME_SLOTS - 1)
        i = _NAME_SLOT[h]
    return PyBytes_FromStringAndSize(<const char*>s, n)


cdef inline unsigned char _lower(unsigned char c) noexcept:
    return c + 32 if 65 <= c <= 90 else c


cdef inline bint _ieq(const unsigned char* s, Py_ssize_t n, const char* lit, Py_ssize_t m) noexcept:
    """ASCII case-insensitive ``s[:n] == lit[:m]``; ``lit`` is lower case."""
    cdef Py_ssize_t i
    if n != m:
        return False
    for i in range(n):
        if _lower(s[i]) != <unsigned char>lit[i]:
            return False
    return True


cdef inline bint _ows(unsigned char c) noexcept:
    return c == 0x20 or c == 0x09


cdef int _fail(int kind, int status, str reason) except -1:
    if kind == _RESPONSE:
        raise HttpError(502, "upstream response: " + reason)
    raise HttpError(status, reason)


cdef int _open(object buf, Py_buffer* view, const unsigned char** p, Py_ssize_t* n) except -1:
    """Point at ``buf``'s bytes; returns 1 when ``view`` must be released."""
    if PyBytes_CheckExact(buf):
        # bytes are immutable: no buffer export needed (saves ~40 ns a call)
        p[0] = <const unsigned char*>PyBytes_AS_STRING(buf)
        n[0] = PyBytes_GET_SIZE(buf)
        return 0
    # an export also stops a bytearray from being resized under us
    PyObject_GetBuffer(buf, view, PyBUF_SIMPLE)
    p[0] = <const unsigned char*>view.buf
    n[0] = view.len
    return 1


cdef Py_ssize_t _find_end(const unsigned char* p, Py_ssize_t n, Py_ssize_t start,
                          Py_ssize_t max_size, int kind) except -2:
    """Index of the CRLFCRLF ending the head, or -1 while it may still come."""
    cdef Py_ssize_t limit = n if n < max_size else (max_size if max_size > 0 else 0)
    cdef Py_ssize_t line = start
    cdef Py_ssize_t i
    cdef const unsigned char* lf
    while line < limit:
        lf = <const unsigned char*>memchr(p + line, 0x0A, limit - line)
        if lf == NULL:
            break
        i = lf - p
        # refused early so a bare-LF client is not left waiting for a CRLFCRLF;
        # at ``start`` the byte before is not part of the head (nor, at 0, of the buffer)
        if i == start or p[i - 1] != 0x0D:
            _fail(kind, 400, "bare LF in head")
        if i - 1 == line and line > start:
            return line - 2
        line = i + 1
    if n > max_size:
        if kind == _RESPONSE:
            raise HttpError(502, "upstream response head too large")
        raise HttpError(431, "request header fields too large")
    return -1


cdef struct _Fields:
    const unsigned char* cl  # first Content-Length value, NULL when absent
    Py_ssize_t cl_len
    long long content_length
    Py_ssize_t te_codings
    bint te_last_chunked
    int hosts
    bint upgrade_header
    bint expect
    # Connection tokens
    bint close
    bint keep_alive
    bint upgrade


cdef class _Head:
    """Attributes common to request and response heads."""

    cdef public int version
    cdef public list headers
    cdef public Py_ssize_t head_len
    cdef public long long content_length
    cdef public bint chunked
    cdef public bint keep_alive
    cdef public tuple connection_tokens

    def __init__(self):
        self.version = 11
        self.headers = []
        self.head_len = 0
        self.content_length = -1
        self.chunked = False
        self.keep_alive = True
        self.connection_tokens = ()


cdef class RequestHead(_Head):
    """A parsed request line and header section; see ``parser`` for each attribute."""

    cdef public bytes method
    cdef public bytes target
    cdef public bytes authority
    cdef public bint upgrade
    cdef public bint expect_continue

    def __init__(self):
        _Head.__init__(self)
        self.method = b""
        self.target = b""
        self.authority = b""
        self.upgrade = False
        self.expect_continue = False

    def __repr__(self):
        return (
            f"<RequestHead {self.method!r} {self.target!r} HTTP/{self.version // 10}.{self.version % 10} "
            f"headers={len(self.headers)} head_len={self.head_len}>"
        )


cdef class ResponseHead(_Head):
    """A parsed status line and header section; see ``parser`` for each attribute."""

    cdef public int status
    cdef public bytes reason

    def __init__(self):
        _Head.__init__(self)
        self.status = 200
        self.reason = b""

    def __repr__(self):
        return (
            f"<ResponseHead HTTP/{self.version // 10}.{self.version % 10} {self.status} {self.reason!r} "
            f"headers={len(self.headers)} head_len={self.head_len}>"
        )


cdef inline bint _valid_value(const unsigned char* s, const unsigned char* e) noexcept:
    """Every byte of ``s[:e - s]`` may appear in a field value."""
    cdef uint64_t w
    # eight bytes at a time (6% off the 12-field head of loadtests/bench_parser.py):
    # no byte below 0x20 and none equal to 0x7F means all eight are valid; a word
    # with HTAB or a bad byte is looked at byte by byte
    while e - s >= 8:
        memcpy(&w, s, 8)
        if (((w - 0x2020202020202020ULL) & ~w) | ((w ^ 0x7F7F7F7F7F7F7F7FULL) - 0x0101010101010101ULL
                & ~(w ^ 0x7F7F7F7F7F7F7F7FULL))) & 0x8080808080808080ULL:
            break
        s += 8
    while s < e:
        if not _CLASS[s[0]] & _K_VALUE:
            return False
        s += 1
    return True


cdef bytes _lower_bytes(const unsigned char* s, Py_ssize_t n):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef unsigned char* d = <unsigned char*>PyBytes_AS_STRING(out)
    cdef Py_ssize_t i
    for i in range(n):
        d[i] = _lower(s[i])
    return out


cdef int _list_items(const unsigned char* s, const unsigned char* e, _Fields* f, list tokens) except -1:
    """Walk a comma list: Transfer-Encoding codings (``tokens`` is None) or Connection tokens."""
    cdef const unsigned char* a
    cdef const unsigned char* b
    cdef Py_ssize_t k
    while True:
        a = s
        while s < e and s[0] != 0x2C:
            s += 1
        b = s
        while a < b and _ows(a[0]):
            a += 1
        while b > a and _ows((b - 1)[0]):
            b -= 1
        k = b - a
        if k:
            if tokens is None:
                f.te_codings += 1
                f.te_last_chunked = _ieq(a, k, b"chunked", 7)
            else:
                PyList_Append(tokens, _lower_bytes(a, k))
                if _ieq(a, k, b"close", 5):
                    f.close = True
                elif _ieq(a, k, b"keep-alive", 10):
                    f.keep_alive = True
                elif _ieq(a, k, b"upgrade", 7):
                    f.upgrade = True
        if s == e:
            return 0
        s += 1


cdef int _special(const unsigned char* n, Py_ssize_t nlen, const unsigned char* v, Py_ssize_t vlen,
                  _Fields* f, list tokens, int kind) except -1:
    """Note what a Content-Length, Transfer-Encoding, Connection, Host, Upgrade or Expect field says."""
    cdef Py_ssize_t i
    cdef long long cl
    cdef Py_ssize_t before
    if nlen == 14 and _ieq(n, nlen, b"content-length", 14):
        if vlen < 1 or vlen > 18:
            return _fail(kind, 400, "bad content-length")
        cl = 0
        for i in range(vlen):
            if not 48 <= v[i] <= 57:
                return _fail(kind, 400, "bad content-length")
            cl = cl * 10 + (v[i] - 48)
        if f.cl == NULL:
            f.cl = v
            f.cl_len = vlen
            f.content_length = cl
        elif vlen != f.cl_len or memcmp(v, f.cl, vlen) != 0:
            return _fail(kind, 400, "conflicting content-length")
        elif kind == _REQUEST:
            # RFC 9110 §8.6: reject or merge; rejecting means nothing ambiguous is ever forwarded
            return _fail(kind, 400, "duplicate content-length")
    elif nlen == 17 and _ieq(n, nlen, b"transfer-encoding", 17):
        before = f.te_codings
        _list_items(v, v + vlen, f, None)
        if f.te_codings == before:
            return _fail(kind, 400, "empty transfer-encoding")
    elif nlen == 10 and _ieq(n, nlen, b"connection", 10):
        _list_items(v, v + vlen, f, tokens)
    elif kind == _REQUEST:
        if nlen == 4 and _ieq(n, nlen, b"host", 4):
            f.hosts += 1
            if f.hosts > 1:
                return _fail(kind, 400, "duplicate host")
        elif nlen == 7 and _ieq(n, nlen, b"upgrade", 7):
            f.upgrade_header = True
        elif nlen == 6 and _ieq(n, nlen, b"expect", 6):
            if _ieq(v, vlen, b"100-continue", 12):
                f.expect = True
    return 0


# lengths of the names _special looks at: host, expect, upgrade, connection, content-length, transfer-encoding
cdef enum:
    _SPECIAL_LENGTHS = (1 << 4) | (1 << 6) | (1 << 7) | (1 << 10) | (1 << 14) | (1 << 17)


cdef int _parse_fields(_Head head, const unsigned char* p, Py_ssize_t pos, Py_ssize_t end,
                       int kind, _Fields* f, Py_ssize_t max_headers) except -1:
    """Parse the field lines in ``p[pos:end]``, each ending in CRLF, into ``head``."""
    cdef list headers = []
    cdef list tokens = None
    cdef Py_ssize_t count = 0
    cdef Py_ssize_t nlen
    cdef const unsigned char* s
    cdef const unsigned char* e
    cdef const unsigned char* colon
    cdef const unsigned char* v
    cdef const unsigned char* ve
    while pos < end:
        s = p + pos
        e = <const unsigned char*>memchr(s, 0x0A, end - pos) - 1
        pos = (e - p) + 2
        count += 1
        if count > max_headers:
            return _fail(kind, 431, "too many header fields")
        if _ows(s[0]):
            return _fail(kind, 400, "obsolete line folding")
        colon = s
        while colon < e and _CLASS[colon[0]] & _K_TCHAR:
            colon += 1
        if colon == s or colon == e or colon[0] != 0x3A:
            return _fail(kind, 400, "bad header name")
        v = colon + 1
        if not _valid_value(v, e):
            return _fail(kind, 400, "bad header value")
        ve = e
        while v < ve and _ows(v[0]):
            v += 1
        while ve > v and _ows((ve - 1)[0]):
            ve -= 1
        nlen = colon - s
        PyList_Append(headers, (_field_name(s, nlen), PyBytes_FromStringAndSize(<const char*>v, ve - v)))
        if nlen < 18 and (1 << nlen) & _SPECIAL_LENGTHS:
            if nlen == 10 and tokens is None:
                tokens = []
            _special(s, nlen, v, ve - v, f, tokens, kind)
    head.headers = headers
    head.connection_tokens = PyList_AsTuple(tokens) if tokens else _NO_TOKENS
    return 0


cdef inline bint _keep_alive(int version, _Fields* f) noexcept:
    if f.close:
        return False
    return version == 11 or f.keep_alive


cdef const unsigned char* _absolute_form(const unsigned char* t, const unsigned char* e) noexcept:
    """End of the authority of the absolute-form target ``t[:e - t]`` (at ``e``, or at its
    ``/`` or ``?``), or NULL when the target is not ``http(s)://authority...`` as the pure
    twin's ``_ABSOLUTE`` pattern says."""
    cdef const unsigned char* q
    cdef int digits
    if e - t < 8 or _lower(t[0]) != 0x68 or _lower(t[1]) != 0x74 or _lower(t[2]) != 0x74 or _lower(t[3]) != 0x70:
        return NULL
    q = t + 4
    if _lower(q[0]) == 0x73:  # https
        q += 1
    if e - q < 4 or q[0] != 0x3A or q[1] != 0x2F or q[2] != 0x2F:
        return NULL
    q += 3
    t = q
    if q[0] == 0x5B:  # [IP literal]
        q += 1
        while q < e and _CLASS[q[0]] & _K_IPLITERAL:
            q += 1
        if q == t + 1 or q == e or q[0] != 0x5D:
            return NULL
        q += 1
    else:
        while q < e and _CLASS[q[0]] & _K_HOSTNAME:
            q += 1
        if q == t:
            return NULL
    if q < e and q[0] == 0x3A:  # port: up to five digits
        q += 1
        digits = 0
        while q < e and 48 <= q[0] <= 57:
            q += 1
            digits += 1
        if digits > 5:
            return NULL
    if q < e and q[0] != 0x2F and q[0] != 0x3F:
        return NULL
    return q


cdef int _set_host(list headers, bytes authority) except -1:
    """RFC 9112 §3.2.2: the target's authority wins over the Host field, which is made to match."""
    cdef Py_ssize_t i
    cdef bytes name
    for i in range(len(headers)):
        name = <bytes>(<tuple>headers[i])[0]
        if _ieq(<const unsigned char*>PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name), b"host", 4):
            headers[i] = (name, authority)
            return 0
    headers.append((b"Host", authority))
    return 0


cdef object _request(const unsigned char* p, Py_ssize_t n, Py_ssize_t max_size, Py_ssize_t max_headers):
    cdef Py_ssize_t start = 0
    cdef Py_ssize_t end
    cdef const unsigned char* s
    cdef const unsigned char* e
    cdef const unsigned char* sp1
    cdef const unsigned char* sp2
    cdef const unsigned char* q
    cdef const unsigned char* auth_end = NULL
    cdef int version
    cdef _Fields f
    cdef RequestHead head
    # RFC 9112 §2.2: empty lines before the request line are ignored
    while start + 1 < n and p[start] == 0x0D and p[start + 1] == 0x0A:
        start += 2
    end = _find_end(p, n, start, max_size, _REQUEST)
    if end < 0:
        return None

    s = p + start
    e = <const unsigned char*>memchr(s, 0x0A, end + 2 - start) - 1
    sp1 = <const unsigned char*>memchr(s, 0x20, e - s)
    if sp1 == NULL:
        raise HttpError(400, "bad request line")
    if sp1 == s:
        raise HttpError(400, "bad request method")
    q = s
    while q < sp1:
        if not _CLASS[q[0]] & _K_TCHAR:
            raise HttpError(400, "bad request method")
        q += 1
    sp2 = <const unsigned char*>memchr(sp1 + 1, 0x20, e - sp1 - 1)
    if sp2 == NULL:
        raise HttpError(400, "bad request line")
    if sp2 == sp1 + 1:
        raise HttpError(400, "bad request target")
    q = sp1 + 1
    while q < sp2:
        if not _CLASS[q[0]] & _K_TARGET:
            raise HttpError(400, "bad request target")
        q += 1
    # origin-form, the usual case, costs one byte compare; CONNECT's authority-form is left as it is
    if (sp1[1] != 0x2F and not (sp2 - sp1 == 2 and sp1[1] == 0x2A)
            and not (sp1 - s == 7 and memcmp(s, b"CONNECT", 7) == 0)):
        auth_end = _absolute_form(sp1 + 1, sp2)
        if auth_end == NULL:
            raise HttpError(400, "bad request target")
    q = sp2 + 1
    if e - q == 8 and memcmp(q, b"HTTP/1.", 7) == 0 and (q[7] == 0x31 or q[7] == 0x30):
        version = 11 if q[7] == 0x31 else 10
    elif (e - q == 8 and memcmp(q, b"HTTP/", 5) == 0 and 48 <= q[5] <= 57 and q[6] == 0x2E
          and 48 <= q[7] <= 57):
        raise HttpError(505, "http version not supported")
    else:
        raise HttpError(400, "bad http version")

    memset(&f, 0, sizeof(f))
    head = RequestHead.__new__(RequestHead)
    _parse_fields(head, p, (e - p) + 2, end + 2, _REQUEST, &f, max_headers)
    if f.hosts == 0 and version == 11:
        raise HttpError(400, "missing host")
    head.chunked = False
    if f.te_codings:
        if f.cl != NULL:
            raise HttpError(400, "content-length with transfer-encoding")
        if version == 10:
            raise HttpError(400, "transfer-encoding in HTTP/1.0")
        if f.te_codings != 1 or not f.te_last_chunked:
            raise HttpError(501, "unsupported transfer-encoding")
        head.chunked = True

    if sp1 - s == 3 and memcmp(s, b"GET", 3) == 0:
        head.method = _GET
    elif sp1 - s == 4 and memcmp(s, b"POST", 4) == 0:
        head.method = _POST
    else:
        head.method = PyBytes_FromStringAndSize(<const char*>s, sp1 - s)
    if auth_end == NULL:
        head.target = PyBytes_FromStringAndSize(<const char*>sp1 + 1, sp2 - sp1 - 1)
        head.authority = _EMPTY_BYTES
    else:
        q = <const unsigned char*>memchr(sp1 + 1, 0x2F, sp2 - sp1 - 1) + 2  # past "scheme://"
        head.authority = PyBytes_FromStringAndSize(<const char*>q, auth_end - q)
        if auth_end == sp2:
            # RFC 9112 §3.2.4: an empty path is "*" for OPTIONS, "/" otherwise
            head.target = _STAR if sp1 - s == 7 and memcmp(s, b"OPTIONS", 7) == 0 else _SLASH
        elif auth_end[0] == 0x3F:  # '?'
            head.target = _SLASH + PyBytes_FromStringAndSize(<const char*>auth_end, sp2 - auth_end)
        else:
            head.target = PyBytes_FromStringAndSize(<const char*>auth_end, sp2 - auth_end)
        _set_host(head.headers, head.authority)
    head.version = version
    head.head_len = end + 4
    head.content_length = f.content_length if f.cl != NULL else -1
    head.keep_alive = _keep_alive(version, &f)
    head.upgrade = f.upgrade_header and f.upgrade
    head.expect_continue = f.expect
    return head


cdef object _response(const unsigned char* p, Py_ssize_t n, Py_ssize_t max_size):
    cdef Py_ssize_t end
    cdef Py_ssize_t length
    cdef const unsigned char* e
    cdef const unsigned char* q
    cdef int version
    cdef bytes reason
    cdef _Fields f
    cdef ResponseHead head
    end = _find_end(p, n, 0, max_size, _RESPONSE)
    if end < 0:
        return None

    e = <const unsigned char*>memchr(p, 0x0A, end + 2) - 1
    length = e - p
    if (length < 12 or memcmp(p, b"HTTP/1.", 7) != 0 or (p[7] != 0x31 and p[7] != 0x30) or p[8] != 0x20
            or not (49 <= p[9] <= 57 and 48 <= p[10] <= 57 and 48 <= p[11] <= 57)):
        return _fail(_RESPONSE, 502, "bad status line")
    version = 11 if p[7] == 0x31 else 10
    if length == 12:
        reason = b""  # many servers omit the SP when the reason is empty
    elif p[12] != 0x20:
        return _fail(_RESPONSE, 502, "bad status line")
    else:
        q = p + 13
        while q < e:
            if not _CLASS[q[0]] & _K_VALUE:
                return _fail(_RESPONSE, 502, "bad status line")
            q += 1
        reason = PyBytes_FromStringAndSize(<const char*>p + 13, length - 13)

    memset(&f, 0, sizeof(f))
    head = ResponseHead.__new__(ResponseHead)
    _parse_fields(head, p, length + 2, end + 2, _RESPONSE, &f, _MAX_HEADERS)
    head.keep_alive = _keep_alive(version, &f)
    head.chunked = False
    head.content_length = f.content_length if f.cl != NULL else -1
    if f.te_codings:
        if version == 10:
            return _fail(_RESPONSE, 502, "transfer-encoding in HTTP/1.0")
        # RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; a coding
        # list not ending in chunked is read until the connection closes
        head.chunked = f.te_last_chunked
        if f.cl != NULL:
            head.content_length = -1
            head.keep_alive = False  # the framing is suspect: do not reuse the connection
    head.status = (p[9] - 48) * 100 + (p[10] - 48) * 10 + (p[11] - 48)
    head.reason = reason
    head.version = version
    head.head_len = end + 4
    return head


def parse_request_head(buf, Py_ssize_t max_size, Py_ssize_t max_headers=_MAX_HEADERS):
    """Parse a request head from the start of ``buf``; ``None`` while incomplete."""
    cdef Py_buffer view
    cdef const unsigned char* p
    cdef Py_ssize_t n
    cdef int release = _open(buf, &view, &p, &n)
    try:
        return _request(p, n, max_size, max_headers)
    finally:
        if release:
            PyBuffer_Release(&view)


def parse_response_head(buf, Py_ssize_t max_size):
    """Parse a response head from the start of ``buf``; ``None`` while incomplete."""
    cdef Py_buffer view
    cdef const unsigned char* p
    cdef Py_ssize_t n
    cdef int release = _open(buf, &view, &p, &n)
    try:
        return _response(p, n, max_size)
    finally:
        if release:
            PyBuffer_Release(&view)


# ChunkedScanner states, as in the pure twin
cdef enum:
    _C_SIZE
    _C_SIZE_MORE
    _C_EXT
    _C_SIZE_LF
    _C_DATA
    _C_DATA_CR
    _C_DATA_LF
    _C_TRAILER
    _C_TR_NAME
    _C_TR_VALUE
    _C_TR_LF
    _C_END_LF


cdef int _chunk_fail(unsigned char c, str reason) except -1:
    if c == 0x0A:
        raise HttpError(400, "bare LF in chunked body")
    raise HttpError(400, reason)


cdef class ChunkedScanner:
    """Find where a chunked body ends without copying it.

    ``feed(buf, start)`` scans ``buf[start:]`` and returns the index just past
    the bytes that belong to the body: ``len(buf)`` while the body goes on, or
    the index after the final CRLF once ``done`` is true. State carries over
    between calls; once ``done``, ``feed`` takes nothing (returns ``start``).
    Call ``reset()`` for the next body, and after an ``HttpError``.
    """

    cdef public bint done
    cdef int _state
    cdef uint64_t _size
    cdef int _digits

    def __init__(self):
        self.reset()

    def reset(self):
        """Start over, for the next chunked body."""
        self.done = False
        self._state = _C_SIZE
        self._size = 0
        self._digits = 0

    def feed(self, buf, Py_ssize_t start):
        """Consume body bytes from ``buf[start:]``; see the class docstring."""
        cdef Py_buffer view
        cdef const unsigned char* p
        cdef Py_ssize_t n
        cdef int release = _open(buf, &view, &p, &n)
        try:
            if start < 0 or start > n:
                raise ValueError(f"start {start} outside buffer of {n} bytes")
            if self.done:
                return start
            return self._scan(p, n, start)
        finally:
            if release:
                PyBuffer_Release(&view)

    cdef Py_ssize_t _scan(self, const unsigned char* p, Py_ssize_t n, Py_ssize_t i) except -1:
        cdef int state = self._state
        cdef uint64_t size = self._size
        cdef int digits = self._digits
        cdef unsigned char c
        cdef int d
        while i < n:
            if state == _C_DATA:
                # chunk data is skipped, never looked at
                if size > <uint64_t>(n - i):
                    size -= <uint64_t>(n - i)
                    i = n
                    break
                i += <Py_ssize_t>size
                size = 0
                state = _C_DATA_CR
                continue
            c = p[i]
            i += 1
            if state == _C_SIZE:
                d = _HEX[c]
                if d < 0:
                    return _chunk_fail(c, "bad chunk size")
                size = <uint64_t>d
                digits = 1
                state = _C_SIZE_MORE
            elif state == _C_SIZE_MORE:
                d = _HEX[c]
                if d >= 0:
                    digits += 1
                    if digits > 16:
                        raise HttpError(400, "bad chunk size")
                    size = size * 16 + <uint64_t>d
                elif c == 0x0D:
                    state = _C_SIZE_LF
                elif c == 0x3B:
                    state = _C_EXT
                else:
                    return _chunk_fail(c, "bad chunk size")
            elif state == _C_EXT:
                if c == 0x0D:
                    state = _C_SIZE_LF
                elif not _CLASS[c] & _K_VALUE:
                    return _chunk_fail(c, "bad chunk extension")
            elif state == _C_SIZE_LF:
                if c != 0x0A:
                    raise HttpError(400, "bad chunk line")
                state = _C_DATA if size else _C_TRAILER
            elif state == _C_DATA_CR:
                if c != 0x0D:
                    raise HttpError(400, "bad chunk terminator")
                state = _C_DATA_LF
            elif state == _C_DATA_LF:
                if c != 0x0A:
                    raise HttpError(400, "bad chunk terminator")
                state = _C_SIZE
            elif state == _C_TRAILER:
                if c == 0x0D:
                    state = _C_END_LF
                elif _CLASS[c] & _K_TCHAR:
                    state = _C_TR_NAME
                elif _ows(c):
                    raise HttpError(400, "obsolete line folding")
                else:
                    return _chunk_fail(c, "bad trailer name")
            elif state == _C_TR_NAME:
                if c == 0x3A:
                    state = _C_TR_VALUE
                elif not _CLASS[c] & _K_TCHAR:
                    return _chunk_fail(c, "bad trailer name")
            elif state == _C_TR_VALUE:
                if c == 0x0D:
                    state = _C_TR_LF
                elif not _CLASS[c] & _K_VALUE:
                    return _chunk_fail(c, "bad trailer value")
            elif state == _C_TR_LF:
                if c != 0x0A:
                    raise HttpError(400, "bad trailer line")
                state = _C_TRAILER
            else:  # _C_END_LF
                if c != 0x0A:
                    raise HttpError(400, "bad trailer line")
                self.done = True
                state = _C_SIZE
                break
        self._state = state
        self._size = size
        self._digits = digits
        return i
