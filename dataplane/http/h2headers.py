"""HTTP/2 header-block checks of the pure-Python session, as libnghttp2 makes them.

libnghttp2 (the compiled session) checks every received header block against RFC 9113
§8 and resets the stream with PROTOCOL_ERROR when one fails; ``h2`` would end the whole
connection instead. The pure twin turns ``h2``'s checks off and calls these, so both
builds refuse the same blocks the same way.
"""

from __future__ import annotations

import re

from dataplane.http.h2limits import FIELD_OVERHEAD

# RFC 9110 token characters, lower case only (RFC 9113 §8.2.1)
_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+\Z")
# no control byte but HTAB anywhere (nghttp2_check_header_value_rfc9113: RFC 9110 §5.5 field
# content), no leading or trailing whitespace (RFC 9113 §8.2.1)
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]|\A[ \t]|[ \t]\Z")
# nghttp2's checks of the request pseudo-headers (nghttp2_check_method, _path, _authority, _scheme):
# what a request line written from them must not misread
_METHOD = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_PATH = re.compile(rb"[\x21-\x7e\x80-\xff]+\Z")
_AUTHORITY = re.compile(rb"[A-Za-z0-9\-._~!$&'()*+,;=:%@\[\]]*\Z")
_SCHEME = re.compile(rb"[A-Za-z][A-Za-z0-9+\-.]*\Z")
_PSEUDO_CHECK = {b":method": _METHOD, b":path": _PATH, b":authority": _AUTHORITY, b":scheme": _SCHEME}
_CONNECTION_SPECIFIC = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"})
_REQUEST_PSEUDO = frozenset({b":method", b":scheme", b":path", b":authority"})
_DIGITS = re.compile(rb"[0-9]+\Z")


def size(headers) -> int:
    """The header list's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it."""
    total = 0
    for name, value in headers:
        total += len(name) + len(value) + FIELD_OVERHEAD
    return total


def _regular_ok(name: bytes, value: bytes) -> bool:
    if not _NAME.match(name) or _BAD_VALUE.search(value):
        return False
    if name in _CONNECTION_SPECIFIC:
        return False
    if name == b"te" and value != b"trailers":
        return False
    if name == b"content-length" and not _DIGITS.match(value):
        return False
    return True


def request_ok(headers) -> bool:
    """A request head nghttp2 would pass on."""
    seen: dict[bytes, bytes] = {}
    regular = False
    for name, value in headers:
        if name[:1] == b":":
            if regular or name not in _REQUEST_PSEUDO or name in seen:
                return False
            if name != b":authority" and not value:
                return False
            if _BAD_VALUE.search(value) or not _PSEUDO_CHECK[name].match(value):
                return False
            seen[name] = value
        else:
            regular = True
            if not _regular_ok(name, value) or (name == b"host" and not _AUTHORITY.match(value)):
                return False
    method = seen.get(b":method")
    if method is None:
        return False
    if method == b"CONNECT":
        return b":authority" in seen and b":path" not in seen and b":scheme" not in seen
    return b":scheme" in seen and b":path" in seen


def response_ok(headers) -> bool:
    """A response head (final or 1xx) nghttp2 would pass on."""
    status = None
    regular = False
    for name, value in headers:
        if name[:1] == b":":
            if regular or name != b":status" or status is not None:
                return False
            status = value
        else:
            regular = True
            if not _regular_ok(name, value):
                return False
    return status is not None and len(status) == 3 and _DIGITS.match(status) is not None


def trailers_ok(headers) -> bool:
    """A trailer block nghttp2 would pass on: no pseudo-header fields."""
    for name, value in headers:
        if name[:1] == b":" or not _regular_ok(name, value):
            return False
    return True


def content_length(headers) -> int:
    """The head's content-length: -1 without one, -2 when two disagree."""
    length = -1
    for name, value in headers:
        if name == b"content-length":
            if length >= 0 and int(value) != length:
                return -2
            length = int(value)
    return length
