"""Pure-Python twin of ``dataplane.http._parser_c``: see ``parser`` for the contract.

The compiled twin follows this module check for check and in the same order,
so both raise the same ``HttpError`` for any input; keep them in step. Like the
compiled module it holds both the head parser and the chunked-body scanner.
"""

from __future__ import annotations

import re

from dataplane.http.errors import HttpError

MAX_HEADERS = 100

_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(rb"[%s]+" % _TCHAR)
_NAME_PREFIX = re.compile(rb"[%s]*" % _TCHAR)
# field-value bytes: VCHAR, obs-text, SP, HTAB
_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_FIELD = re.compile(rb"([%s]+):([\t\x20-\x7e\x80-\xff]*)" % _TCHAR)
# A field section is matched as "(CRLF field-line)*" by one call each (a Python
# loop per line costs twice as much): is every line valid, the (name, trimmed
# value) pairs, and the lines _special must see; CRLF first lets `re` skip ahead.
_FIELD_BLOCK = re.compile(rb"(?:\r\n[%s]+:[\t\x20-\x7e\x80-\xff]*)*" % _TCHAR)
_TRIMMED = rb"[ \t]*((?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?)[ \t]*"
_FIELD_LINE = re.compile(rb"\r\n([%s]+):%s" % (_TCHAR, _TRIMMED))
_SPECIAL_LINE = re.compile(
    rb"\r\n(content-length|transfer-encoding|connection|upgrade|expect|host):%s" % _TRIMMED, re.IGNORECASE
)
_TARGET = re.compile(rb"[\x21-\x7e]+")
# absolute-form (RFC 9112 §3.2.2), http and https only: the authority is a DNS-style name or an IP
# literal, optional port, no userinfo; then the path and query, if any
_ABSOLUTE = re.compile(rb"[hH][tT][tT][pP][sS]?://((?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?)([/?][\x21-\x7e]*)?")
_ANY_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
_STATUS = re.compile(rb"[1-9][0-9][0-9]")
_DIGITS = re.compile(rb"[0-9]{1,18}")
_VERSIONS = {b"HTTP/1.1": 11, b"HTTP/1.0": 10}
_OWS = b" \t"

_SPECIAL = frozenset((b"content-length", b"transfer-encoding", b"connection", b"upgrade", b"expect", b"host"))

_REQUEST = 0
_RESPONSE = 1


def _fail(kind: int, status: int, reason: str) -> HttpError:
    if kind == _RESPONSE:
        return HttpError(502, "upstream response: " + reason)
    return HttpError(status, reason)


class RequestHead:
    """A parsed request line and header section; see ``parser`` for each attribute."""

    __slots__ = (
        "method", "target", "authority", "version", "headers", "head_len", "content_length",
        "chunked", "keep_alive", "upgrade", "expect_continue", "connection_tokens",
    )  # fmt: skip

    def __init__(self) -> None:
        self.method = b""
        self.target = b""
        self.authority = b""
        self.version = 11
        self.headers = []
        self.head_len = 0
        self.content_length = -1
        self.chunked = False
        self.keep_alive = True
        self.upgrade = False
        self.expect_continue = False
        self.connection_tokens = ()

    def __repr__(self) -> str:
        return (
            f"<RequestHead {self.method!r} {self.target!r} HTTP/{self.version // 10}.{self.version % 10} "
            f"headers={len(self.headers)} head_len={self.head_len}>"
        )


class ResponseHead:
    """A parsed status line and header section; see ``parser`` for each attribute."""

    __slots__ = (
        "status", "reason", "version", "headers", "head_len", "content_length",
        "chunked", "keep_alive", "connection_tokens",
    )  # fmt: skip

    def __init__(self) -> None:
        self.status = 200
        self.reason = b""
        self.version = 11
        self.headers = []
        self.head_len = 0
        self.content_length = -1
        self.chunked = False
        self.keep_alive = True
        self.connection_tokens = ()

    def __repr__(self) -> str:
        return (
            f"<ResponseHead HTTP/{self.version // 10}.{self.version % 10} {self.status} {self.reason!r} "
            f"headers={len(self.headers)} head_len={self.head_len}>"
        )


def _find_end(buf, start: int, max_size: int, kind: int) -> int:
    """Index of the CRLFCRLF ending the head, or -1 while it may still come."""
    limit = min(len(buf), max(max_size, 0))
    end = buf.find(b"\r\n\r\n", start, limit)
    # every LF before the end must close a CRLF; checked early so a client
    # speaking bare-LF HTTP is refused at once instead of timing out
    region = buf[start : limit if end < 0 else end + 2]
    if region.count(b"\n") != region.count(b"\r\n"):
        raise _fail(kind, 400, "bare LF in head")
    if end < 0 and len(buf) > max_size:
        if kind == _RESPONSE:
            raise HttpError(502, "upstream response head too large")
        raise HttpError(431, "request header fields too large")
    return end


class _Fields:
    """What the special header fields said, gathered line by line."""

    __slots__ = ("content_length", "te_codings", "te_last_chunked", "tokens", "hosts", "upgrade", "expect")

    def __init__(self) -> None:
        self.content_length = None
        self.te_codings = 0
        self.te_last_chunked = False
        self.tokens = []
        self.hosts = 0
        self.upgrade = False
        self.expect = False


def _bad_field(line: bytes, kind: int) -> HttpError:
    if line[0] in (0x20, 0x09):
        return _fail(kind, 400, "obsolete line folding")
    k = _NAME_PREFIX.match(line).end()
    if k == 0 or k == len(line) or line[k] != 0x3A:
        return _fail(kind, 400, "bad header name")
    return _fail(kind, 400, "bad header value")


def _list_items(value: bytes) -> list[bytes]:
    """Lower-cased, OWS-trimmed, non-empty elements of a comma list."""
    items = []
    for item in value.split(b","):
        item = item.strip(_OWS)
        if item:
            items.append(item.lower())
    return items


def _special(lname: bytes, value: bytes, fields: _Fields, kind: int) -> None:
    if lname == b"content-length":
        if _DIGITS.fullmatch(value) is None:
            raise _fail(kind, 400, "bad content-length")
        if fields.content_length is None:
            fields.content_length = value
        elif value != fields.content_length:
            raise _fail(kind, 400, "conflicting content-length")
        elif kind == _REQUEST:
            # RFC 9110 §8.6: reject or merge; rejecting means nothing ambiguous is ever forwarded
            raise _fail(kind, 400, "duplicate content-length")
    elif lname == b"transfer-encoding":
        codings = _list_items(value)
        if not codings:
            raise _fail(kind, 400, "empty transfer-encoding")
        fields.te_codings += len(codings)
        fields.te_last_chunked = codings[-1] == b"chunked"
    elif lname == b"connection":
        fields.tokens.extend(_list_items(value))
    elif kind == _REQUEST:
        if lname == b"host":
            fields.hosts += 1
            if fields.hosts > 1:
                raise _fail(kind, 400, "duplicate host")
        elif lname == b"upgrade":
            fields.upgrade = True
        elif lname == b"expect":
            if value.lower() == b"100-continue":
                fields.expect = True


def _parse_fields(block: bytes, kind: int, max_headers: int) -> tuple[list, _Fields]:
    """The field lines in ``block``, each after a CRLF."""
    fields = _Fields()
    if _FIELD_BLOCK.fullmatch(block) is not None:
        headers = _FIELD_LINE.findall(block)
        if len(headers) <= max_headers:
            for m in _SPECIAL_LINE.finditer(block):
                _special(m[1].lower(), m[2], fields, kind)
            return headers, fields
    # line by line, so the first error in line order is the one raised
    headers = []
    lines = block.split(b"\r\n")
    for i in range(1, len(lines)):
        if i > max_headers:
            raise _fail(kind, 431, "too many header fields")
        line = lines[i]
        m = _FIELD.fullmatch(line)
        if m is None:
            raise _bad_field(line, kind)
        name, value = m.groups()
        value = value.strip(_OWS)
        headers.append((name, value))
        lname = name.lower()
        if lname in _SPECIAL:
            _special(lname, value, fields, kind)
    return headers, fields


def _keep_alive(version: int, tokens: list[bytes]) -> bool:
    if b"close" in tokens:
        return False
    return version == 11 or b"keep-alive" in tokens


def _split_head(buf, start: int, end: int) -> tuple[bytes, bytes]:
    """The first line of the head ending at ``end``, and the CRLF-led field lines after it."""
    eol = buf.find(b"\r\n", start)
    line = buf[start:eol]
    block = buf[eol:end]
    if type(buf) is not bytes:
        return bytes(line), bytes(block)
    return line, block


def _absolute_form(method: bytes, target: bytes) -> tuple[bytes, bytes]:
    """The origin-form target and the authority of an absolute-form ``target``."""
    m = _ABSOLUTE.fullmatch(target)
    if m is None:
        raise HttpError(400, "bad request target")
    authority, rest = m[1], m[2]
    if not rest:
        # RFC 9112 §3.2.4: an empty path is "*" for OPTIONS, "/" otherwise
        return (b"*" if method == b"OPTIONS" else b"/"), authority
    if rest[0] == 0x3F:  # '?'
        return b"/" + rest, authority
    return rest, authority


def _set_host(headers: list, authority: bytes) -> None:
    """RFC 9112 §3.2.2: the target's authority wins over the Host field, which is made to match."""
    for i, (name, _) in enumerate(headers):
        if name.lower() == b"host":
            headers[i] = (name, authority)
            return
    headers.append((b"Host", authority))


def parse_request_head(buf, max_size: int, max_headers: int = MAX_HEADERS):
    """Parse a request head from the start of ``buf``; ``None`` while incomplete."""
    if not isinstance(buf, (bytes, bytearray)):
        buf = bytes(buf)
    start = 0
    n = len(buf)
    # RFC 9112 §2.2: empty lines before the request line are ignored
    while start + 1 < n and buf[start] == 0x0D and buf[start + 1] == 0x0A:
        start += 2
    end = _find_end(buf, start, max_size, _REQUEST)
    if end < 0:
        return None
    line, block = _split_head(buf, start, end)
    sp1 = line.find(b" ")
    if sp1 < 0:
        raise HttpError(400, "bad request line")
    method = line[:sp1]
    if _TOKEN.fullmatch(method) is None:
        raise HttpError(400, "bad request method")
    sp2 = line.find(b" ", sp1 + 1)
    if sp2 < 0:
        raise HttpError(400, "bad request line")
    target = line[sp1 + 1 : sp2]
    if _TARGET.fullmatch(target) is None:
        raise HttpError(400, "bad request target")
    authority = b""
    # origin-form, the usual case, costs one byte compare; CONNECT's authority-form is left as it is
    if target[0] != 0x2F and target != b"*" and method != b"CONNECT":
        target, authority = _absolute_form(method, target)
    proto = line[sp2 + 1 :]
    version = _VERSIONS.get(proto)
    if version is None:
        if _ANY_VERSION.fullmatch(proto) is not None:
            raise HttpError(505, "http version not supported")
        raise HttpError(400, "bad http version")

    headers, fields = _parse_fields(block, _REQUEST, max_headers)
    if fields.hosts == 0 and version == 11:
        raise HttpError(400, "missing host")
    chunked = False
    if fields.te_codings:
        if fields.content_length is not None:
            raise HttpError(400, "content-length with transfer-encoding")
        if version == 10:
            raise HttpError(400, "transfer-encoding in HTTP/1.0")
        if fields.te_codings != 1 or not fields.te_last_chunked:
            raise HttpError(501, "unsupported transfer-encoding")
        chunked = True
    if authority:
        _set_host(headers, authority)

    tokens = fields.tokens
    head = RequestHead.__new__(RequestHead)
    head.method = method
    head.target = target
    head.authority = authority
    head.version = version
    head.headers = headers
    head.head_len = end + 4
    head.content_length = -1 if fields.content_length is None else int(fields.content_length)
    head.chunked = chunked
    head.keep_alive = _keep_alive(version, tokens)
    head.upgrade = fields.upgrade and b"upgrade" in tokens
    head.expect_continue = fields.expect
    head.connection_tokens = tuple(tokens)
    return head


def parse_response_head(buf, max_size: int):
    """Parse a response head from the start of ``buf``; ``None`` while incomplete."""
    if not isinstance(buf, (bytes, bytearray)):
        buf = bytes(buf)
    end = _find_end(buf, 0, max_size, _RESPONSE)
    if end < 0:
        return None
    line, block = _split_head(buf, 0, end)
    version = _VERSIONS.get(line[:8])
    if version is None or len(line) < 12 or line[8] != 0x20 or _STATUS.fullmatch(line, 9, 12) is None:
        raise _fail(_RESPONSE, 502, "bad status line")
    if len(line) == 12:
        reason = b""  # many servers omit the SP when the reason is empty
    elif line[12] != 0x20 or _VALUE.fullmatch(line, 13) is None:
        raise _fail(_RESPONSE, 502, "bad status line")
    else:
        reason = line[13:]

    headers, fields = _parse_fields(block, _RESPONSE, MAX_HEADERS)
    tokens = fields.tokens
    keep_alive = _keep_alive(version, tokens)
    chunked = False
    content_length = -1 if fields.content_length is None else int(fields.content_length)
    if fields.te_codings:
        if version == 10:
            raise _fail(_RESPONSE, 502, "transfer-encoding in HTTP/1.0")
        # RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; a coding
        # list not ending in chunked is read until the connection closes
        chunked = fields.te_last_chunked
        if content_length >= 0:
            content_length = -1
            keep_alive = False  # the framing is suspect: do not reuse the connection

    head = ResponseHead.__new__(ResponseHead)
    head.status = int(line[9:12])
    head.reason = reason
    head.version = version
    head.headers = headers
    head.head_len = end + 4
    head.content_length = content_length
    head.chunked = chunked
    head.keep_alive = keep_alive
    head.connection_tokens = tuple(tokens)
    return head


# ChunkedScanner states: where in the chunked grammar (RFC 9112 §7.1) the next byte falls
(
    _C_SIZE,  # first hex digit of a chunk size
    _C_SIZE_MORE,  # more hex digits, ';' or CR
    _C_EXT,  # chunk extensions, up to CR
    _C_SIZE_LF,  # LF ending the chunk-size line
    _C_DATA,  # chunk data, skipped by arithmetic
    _C_DATA_CR,  # CR after chunk data
    _C_DATA_LF,  # LF after chunk data
    _C_TRAILER,  # start of a trailer line, or CR of the final empty line
    _C_TR_NAME,  # trailer field name, up to ':'
    _C_TR_VALUE,  # trailer field value, up to CR
    _C_TR_LF,  # LF ending a trailer line
    _C_END_LF,  # LF ending the body
) = range(12)

_HEX = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}
_TCHAR_BYTES = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_VALUE_BYTES = frozenset([0x09, *range(0x20, 0x7F), *range(0x80, 0x100)])
# a chunk-size line without extensions, the usual case, matched in one step
_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})\r\n")


def _chunk_error(c: int, reason: str) -> HttpError:
    if c == 0x0A:
        return HttpError(400, "bare LF in chunked body")
    return HttpError(400, reason)


class ChunkedScanner:
    """Find where a chunked body ends without copying it.

    ``feed(buf, start)`` scans ``buf[start:]`` and returns the index just past
    the bytes that belong to the body: ``len(buf)`` while the body goes on, or
    the index after the final CRLF once ``done`` is true. State carries over
    between calls; once ``done``, ``feed`` takes nothing (returns ``start``).
    Call ``reset()`` for the next body, and after an ``HttpError``.
    """

    __slots__ = ("done", "_state", "_size", "_digits")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start over, for the next chunked body."""
        self.done = False
        self._state = _C_SIZE
        self._size = 0
        self._digits = 0

    def feed(self, buf, start: int) -> int:
        """Consume body bytes from ``buf[start:]``; see the class docstring."""
        n = len(buf)
        if start < 0 or start > n:
            raise ValueError(f"start {start} outside buffer of {n} bytes")
        if self.done:
            return start
        state = self._state
        size = self._size
        digits = self._digits
        i = start
        while i < n:
            if state == _C_DATA:
                if size > n - i:
                    size -= n - i
                    i = n
                    break
                i += size
                size = 0
                state = _C_DATA_CR
                continue
            if state == _C_SIZE:
                m = _SIZE_LINE.match(buf, i)
                if m is not None:
                    size = int(m[1], 16)
                    i = m.end()
                    state = _C_DATA if size else _C_TRAILER
                    continue
            c = buf[i]
            i += 1
            if state == _C_SIZE:
                size = _HEX.get(c, -1)
                if size < 0:
                    raise _chunk_error(c, "bad chunk size")
                digits = 1
                state = _C_SIZE_MORE
            elif state == _C_SIZE_MORE:
                d = _HEX.get(c, -1)
                if d >= 0:
                    digits += 1
                    if digits > 16:
                        raise HttpError(400, "bad chunk size")
                    size = size * 16 + d
                elif c == 0x0D:
                    state = _C_SIZE_LF
                elif c == 0x3B:
                    state = _C_EXT
                else:
                    raise _chunk_error(c, "bad chunk size")
            elif state == _C_EXT:
                if c == 0x0D:
                    state = _C_SIZE_LF
                elif c not in _VALUE_BYTES:
                    raise _chunk_error(c, "bad chunk extension")
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
                elif c in _TCHAR_BYTES:
                    state = _C_TR_NAME
                elif c == 0x20 or c == 0x09:
                    raise HttpError(400, "obsolete line folding")
                else:
                    raise _chunk_error(c, "bad trailer name")
            elif state == _C_TR_NAME:
                if c == 0x3A:
                    state = _C_TR_VALUE
                elif c not in _TCHAR_BYTES:
                    raise _chunk_error(c, "bad trailer name")
            elif state == _C_TR_VALUE:
                if c == 0x0D:
                    state = _C_TR_LF
                elif c not in _VALUE_BYTES:
                    raise _chunk_error(c, "bad trailer value")
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
