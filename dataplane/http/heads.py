"""Rebuild message heads for the hop to the next server (pure-Python engine).

A proxy forwards end-to-end headers and drops hop-by-hop ones (RFC 9110 §7.6.1),
plus any header named by a ``Connection`` token. Chunked bodies are passed
through unchanged, so ``Transfer-Encoding: chunked`` stays in the head. Heads
are returned as ``bytes``: uvloop sends bytes as they are but wraps any other
buffer in a memoryview first. ``ext/http/_heads_c.pyx`` is the compiled twin, whose C
differs (one C buffer per head); the compiled client connection calls it.
"""

from __future__ import annotations

# hop-by-hop headers that never cross the proxy (Transfer-Encoding does: the raw chunked body is forwarded)
HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"upgrade", b"proxy-authenticate", b"proxy-authorization"}
)

STATUS_REASONS = {
    100: b"Continue",
    101: b"Switching Protocols",
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    408: b"Request Timeout",
    413: b"Content Too Large",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    505: b"HTTP Version Not Supported",
}


def collect(headers: list[tuple[bytes, bytes]], wanted: frozenset[bytes]) -> dict[bytes, bytes]:
    """Values of the ``wanted`` (lower-case) headers; repeated ones joined with ``, ``."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        lname = name.lower()
        if lname in wanted:
            prior = found.get(lname)
            found[lname] = value if prior is None else prior + b", " + value
    return found


def request_head(
    head,
    replace: dict[bytes, bytes | None],
    upgrade: bool,
    default_host: bytes,
) -> bytes:
    """The head to send upstream: HTTP/1.1, hop-by-hop headers dropped.

    ``replace`` maps lower-case names to a new value (``None`` drops the header);
    replaced headers are written once, after the kept ones. An HTTP/1.0 request
    without ``Host`` gets ``default_host``, since HTTP/1.1 requires one.
    """
    has_host = b"host" in replace
    out = bytearray(head.method)
    out += b" "
    out += head.target
    out += b" HTTP/1.1\r\n"
    tokens = head.connection_tokens
    for name, value in head.headers:
        lname = name.lower()
        if lname in HOP_BY_HOP or lname in replace or (tokens and lname in tokens):
            if upgrade and lname == b"upgrade":
                out += name + b": " + value + b"\r\n"
            continue
        if lname == b"host":
            has_host = True
        out += name
        out += b": "
        out += value
        out += b"\r\n"
    if not has_host:
        out += b"Host: " + default_host + b"\r\n"
    for lname, value in replace.items():
        if value is not None:
            out += lname
            out += b": "
            out += value
            out += b"\r\n"
    if upgrade:
        out += b"Connection: upgrade\r\n"
    out += b"\r\n"
    return bytes(out)


X_REQUEST_ID = b"X-Request-Id"


def with_request_id(reason: bytes, request_id: bytes) -> bytes:
    """An error body naming the request's id, so that a user can quote it."""
    if not request_id:
        return reason
    return reason + b" (request id " + request_id + b")"


def response_head(head, close: bool, http10_client: bool, dechunk: bool, extra=None, request_id: bytes = b"") -> bytes:
    """The head to send to the client for an upstream response head; ``request_id`` is added
    as ``X-Request-Id`` unless the upstream's response carries one already."""
    out = bytearray(b"HTTP/1.1 " if not http10_client else b"HTTP/1.0 ")
    out += str(head.status).encode()
    out += b" "
    out += head.reason
    out += b"\r\n"
    tokens = head.connection_tokens
    upgrade = head.status == 101
    for name, value in head.headers:
        lname = name.lower()
        if lname in HOP_BY_HOP or (tokens and lname in tokens):
            if upgrade and lname == b"upgrade":
                out += name + b": " + value + b"\r\n"
            continue
        if dechunk and lname == b"transfer-encoding":
            continue
        if request_id and lname == b"x-request-id":
            request_id = b""
        out += name
        out += b": "
        out += value
        out += b"\r\n"
    if extra:
        for name, value in extra:
            out += name + b": " + value + b"\r\n"
    if request_id:
        out += b"X-Request-Id: " + request_id + b"\r\n"
    if upgrade:
        out += b"Connection: upgrade\r\n"
    elif close:
        out += b"Connection: close\r\n"
    elif http10_client:
        out += b"Connection: keep-alive\r\n"
    out += b"\r\n"
    return bytes(out)


TEXT = b"text/plain; charset=utf-8"


def simple_response(
    status: int,
    body: bytes,
    close: bool,
    extra: list[tuple[bytes, bytes]] | None = None,
    head_only: bool = False,
    content_type: bytes = TEXT,
) -> bytes:
    """A complete response generated by the proxy itself (errors, probe answers)."""
    parts = [
        b"HTTP/1.1 %d %s\r\n" % (status, STATUS_REASONS.get(status, b"Unknown")),
        b"Content-Type: " + content_type + b"\r\n",
        b"Content-Length: %d\r\n" % len(body),
    ]
    if extra:
        parts.extend(name + b": " + value + b"\r\n" for name, value in extra)
    if close:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    if not head_only:
        parts.append(body)
    return b"".join(parts)
