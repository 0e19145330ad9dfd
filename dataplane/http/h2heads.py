"""HTTP/2 request and response heads on the proxy: what the policy reads, what goes on.

An HTTP/2 request reaches the policy as an ``H2Head``, which offers what the
HTTP/1.1 engine's head does (``method``, ``target``, ``headers``, ``upgrade``...;
``version`` is 20); ``h2_request_head`` then applies the policy's header changes
as ``request_head`` does for HTTP/1.1, giving a header list for an h2c upstream,
which ``http1_request`` turns into HTTP/1.1 for an app that speaks only that.
gRPC's mapping of the proxy's own errors (a 200 with ``grpc-status``) and its
``grpc-timeout`` header live here too.
"""

from __future__ import annotations

from dataplane.http.heads import HOP_BY_HOP, TEXT

# RFC 9113 §8.2.2: connection-specific fields never cross an HTTP/2 hop (``te`` only as "trailers")
CONNECTION_SPECIFIC = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"})
GRPC = b"application/grpc"
GRPC_TIMEOUT_UNITS = {b"H": 3600.0, b"M": 60.0, b"S": 1.0, b"m": 1e-3, b"u": 1e-6, b"n": 1e-9}

# gRPC status codes the proxy answers with (grpc/doc/statuscodes.md), by the HTTP status it would
# give an HTTP client; the rest are INTERNAL (grpc/doc/http-grpc-status-mapping.md)
DEADLINE_EXCEEDED = 4
UNAVAILABLE = 14
GRPC_STATUS = {
    504: DEADLINE_EXCEEDED,
    503: UNAVAILABLE,
    502: UNAVAILABLE,
    429: UNAVAILABLE,
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 12,  # UNIMPLEMENTED
}
INTERNAL = 13
# grpc-message is percent-encoded: everything but printable ASCII and '%' itself
_PLAIN = frozenset(range(0x20, 0x7F)) - {0x25}


class H2Head:
    """An HTTP/2 request head, as the policy sees a request head."""

    __slots__ = ("method", "target", "scheme", "authority", "headers", "grpc", "grpc_timeout", "end_stream", "content_length")

    version = 20
    upgrade = False
    keep_alive = True
    connection_tokens = None

    def __init__(self, method: bytes, target: bytes, scheme: bytes, authority: bytes | None, headers: list) -> None:
        self.method = method
        self.target = target
        self.scheme = scheme
        self.authority = authority
        self.headers = headers  # regular fields only; :authority is offered as host
        self.grpc = False
        self.grpc_timeout = 0.0  # seconds; 0 = none
        self.end_stream = False  # the request has no body
        self.content_length = -1  # as the head of an HTTP/1.1 request: -1 when not given


def parse_request(headers: list) -> H2Head:
    """The head of a request the session has already checked (RFC 9113 §8.3)."""
    method = target = scheme = b""
    authority = None
    regular = []
    grpc = False
    timeout = 0.0
    length = -1
    for name, value in headers:
        if name[:1] == b":":
            if name == b":method":
                method = value
            elif name == b":path":
                target = value
            elif name == b":scheme":
                scheme = value
            elif name == b":authority":
                authority = value
            continue
        if name == b"content-type" and value.startswith(GRPC):
            grpc = True
        elif name == b"grpc-timeout":
            timeout = grpc_timeout(value)
        elif name == b"content-length" and value.isdigit() and len(value) < 19:
            # both sessions hold the body to it (RFC 9113 §8.1.1); a policy bounds what waits by it
            length = int(value)
        elif name == b"host":
            if authority is None:
                authority = value
            continue
        regular.append((name, value))
    if authority is not None:
        regular.insert(0, (b"host", authority))
    head = H2Head(method, target or b"*", scheme, authority, regular)
    head.grpc = grpc
    head.grpc_timeout = timeout
    head.content_length = length
    return head


def grpc_timeout(value: bytes) -> float:
    """Seconds in a ``grpc-timeout`` value (at most 8 digits and a unit); 0 when malformed."""
    digits, unit = value[:-1], value[-1:]
    scale = GRPC_TIMEOUT_UNITS.get(unit)
    if scale is None or not digits or len(digits) > 8 or not digits.isdigit():
        return 0.0
    return int(digits) * scale


def h2_request_head(head: H2Head, replace: dict, default_host: bytes) -> list:
    """The header list to send upstream over HTTP/2: ``replace`` as ``request_head`` takes it
    (lower-case name to a new value, None drops), connection-specific fields dropped."""
    host = replace.get(b"host", head.authority) or default_host
    out = [(b":method", head.method), (b":scheme", head.scheme or b"http"), (b":authority", host), (b":path", head.target)]
    for name, value in head.headers:
        name = name.lower()  # a policy may have added one in HTTP/1.1's case
        if name in replace or name == b"host" or name in CONNECTION_SPECIFIC:
            continue
        if name == b"te" and value != b"trailers":
            continue
        out.append((name, value))
    for name, value in replace.items():
        if value is not None and name != b"host":
            out.append((name, value))
    return out


def http1_request(headers: list, body_length: int) -> bytes:
    """An HTTP/1.1 request head from an upstream header list; ``body_length`` -1 sends the body
    chunked, 0 sends none."""
    method = path = authority = b""
    out = bytearray()
    for name, value in headers:
        if name[:1] == b":":
            if name == b":method":
                method = value
            elif name == b":path":
                path = value
            elif name == b":authority":
                authority = value
            continue
        if name in HOP_BY_HOP or name == b"content-length" or name == b"host":
            continue
        out += name + b": " + value + b"\r\n"
    head = bytearray(method + b" " + path + b" HTTP/1.1\r\nhost: " + authority + b"\r\n")
    head += out
    if body_length < 0:
        head += b"transfer-encoding: chunked\r\n"
    elif body_length > 0 or method in (b"POST", b"PUT", b"PATCH"):
        head += b"content-length: %d\r\n" % body_length
    head += b"\r\n"
    return bytes(head)


def h2_response_head(status: int, headers: list, extra, request_id: bytes) -> list:
    """The response head for the client: connection-specific fields dropped, the policy's
    ``extra`` added, and ``x-request-id`` unless the upstream sent one."""
    out = [(b":status", b"%d" % status)]
    has_id = False
    for name, value in headers:
        if name[:1] == b":":
            continue
        name = name.lower()
        if name in CONNECTION_SPECIFIC or name == b"te":
            continue
        if name == b"x-request-id":
            has_id = True
        out.append((name, value))
    if extra:
        for name, value in extra:
            out.append((name.lower(), value))
    if request_id and not has_id:
        out.append((b"x-request-id", request_id))
    return out


def simple_head(status: int, length: int, content_type: bytes, extra, request_id: bytes) -> list:
    """The head of a response made by the proxy itself."""
    out = [(b":status", b"%d" % status), (b"content-type", content_type or TEXT), (b"content-length", b"%d" % length)]
    if extra:
        for name, value in extra:
            out.append((name.lower(), value))
    if request_id:
        out.append((b"x-request-id", request_id))
    return out


def grpc_error_head(status: int, message: bytes, extra, request_id: bytes) -> list:
    """gRPC's trailers-only answer for an HTTP error ``status`` of the proxy's own."""
    out = [
        (b":status", b"200"),
        (b"content-type", GRPC),
        (b"grpc-status", b"%d" % GRPC_STATUS.get(status, INTERNAL)),
        (b"grpc-message", percent_encode(message)),
    ]
    if extra:
        for name, value in extra:
            out.append((name.lower(), value))
    if request_id:
        out.append((b"x-request-id", request_id))
    return out


def grpc_trailers(status: int, message: bytes) -> list:
    """Trailers ending a gRPC call whose response had started, for the proxy's HTTP error ``status``."""
    return [(b"grpc-status", b"%d" % GRPC_STATUS.get(status, INTERNAL)), (b"grpc-message", percent_encode(message))]


def grpc_walk(need: int, prefix: bytes, data) -> tuple[int, bytes]:
    """Follow gRPC's length-prefixed messages (1 flag byte, 4 length bytes, the message) over
    ``data``: the bytes the current message still needs and the part of a 5-byte prefix read
    so far; both are empty exactly at a message boundary."""
    i, n = 0, len(data)
    while i < n:
        if need:
            step = min(need, n - i)
            need -= step
            i += step
            continue
        take = min(5 - len(prefix), n - i)
        prefix += bytes(data[i : i + take])
        i += take
        if len(prefix) == 5:
            need = int.from_bytes(prefix[1:], "big")
            prefix = b""
    return need, prefix


def percent_encode(message: bytes) -> bytes:
    """``grpc-message`` encoding: bytes outside printable ASCII, and '%', as %XX."""
    if all(b in _PLAIN for b in message):
        return message
    return b"".join(bytes((b,)) if b in _PLAIN else b"%%%02X" % b for b in message)


def http1_response_head(head) -> list:
    """An HTTP/1.1 response head from the parser, as an HTTP/2 header list (names lower-cased,
    hop-by-hop and the head's own ``Connection`` tokens dropped)."""
    out = [(b":status", b"%d" % head.status)]
    tokens = getattr(head, "connection_tokens", None)
    for name, value in head.headers:
        name = name.lower()
        if name in HOP_BY_HOP or name in CONNECTION_SPECIFIC or (tokens and name in tokens):
            continue
        out.append((name, value))
    return out
