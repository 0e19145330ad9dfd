"""Request heads: every strictness rule, valid and invalid, on both builds."""

from __future__ import annotations

import pytest

from dataplane.http.errors import HttpError
from tests.twins import load, twin_params

MAX = 8192


@pytest.fixture(params=twin_params("dataplane.http._parser"))
def mod(request):
    return load(request.param)


def req(*fields: bytes, line: bytes = b"GET / HTTP/1.1", host: bool = True) -> bytes:
    """A request head; ``Host: a`` first unless ``host`` is false."""
    lines = [line, *([b"Host: a"] if host else []), *fields]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def fails(mod, data: bytes, status: int, reason: str, max_size: int = MAX) -> None:
    with pytest.raises(HttpError) as info:
        mod.parse_request_head(data, max_size)
    assert (info.value.status, info.value.reason) == (status, reason)


# -- valid heads ----------------------------------------------------------------------------


def test_minimal_http11_request(mod):
    data = b"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
    head = mod.parse_request_head(data, MAX)
    assert head.method == b"GET"
    assert head.target == b"/index.html?q=1"
    assert head.version == 11
    assert head.headers == [(b"Host", b"example.com")]
    assert head.head_len == len(data)
    assert head.content_length == -1
    assert (head.chunked, head.keep_alive, head.upgrade, head.expect_continue) == (False, True, False, False)
    assert head.connection_tokens == ()


def test_bytes_after_the_head_are_not_consumed(mod):
    data = req(b"Content-Length: 3")
    head = mod.parse_request_head(data + b"abcGET / HTTP/1.1\r\n", MAX)
    assert head.head_len == len(data)
    assert head.content_length == 3


def test_leading_empty_lines_are_skipped_and_counted(mod):
    data = b"\r\n\r\n" + req()
    head = mod.parse_request_head(data, MAX)
    assert head.method == b"GET"
    assert head.head_len == len(data)


@pytest.mark.parametrize(
    "buffer_type", [bytes, bytearray, memoryview], ids=["bytes", "bytearray", "memoryview"]
)
def test_any_contiguous_buffer_gives_bytes_back(mod, buffer_type):
    head = mod.parse_request_head(buffer_type(req(b"X-A: b", line=b"PUT /p HTTP/1.1")), MAX)
    assert type(head.method) is bytes and type(head.target) is bytes
    assert head.headers == [(b"Host", b"a"), (b"X-A", b"b")]
    assert all(type(n) is bytes and type(v) is bytes for n, v in head.headers)


@pytest.mark.parametrize(
    "field, value",
    [
        (b"X:  \t a b \t ", b"a b"),
        (b"X:", b""),
        (b"X: \t ", b""),
        (b"X:a", b"a"),
        (b"X: \x80\xff obs-text", b"\x80\xff obs-text"),
        (b"X: a\tb", b"a\tb"),
        (b"X: !\"#~", b'!"#~'),
    ],
)
def test_field_values_are_trimmed_of_ows_only(mod, field, value):
    head = mod.parse_request_head(req(field), MAX)
    assert head.headers[1] == (b"X", value)


def test_field_names_keep_case_and_accept_every_tchar(mod):
    name = b"!#$%&'*+-.^_`|~09azAZ"
    head = mod.parse_request_head(req(name + b": v", b"x-LoWeR: w"), MAX)
    assert head.headers == [(b"Host", b"a"), (name, b"v"), (b"x-LoWeR", b"w")]


@pytest.mark.parametrize("method", [b"GET", b"POST", b"M-SEARCH", b"PROPFIND", b"get", b"X!#$%&'*+-.^_`|~"])
def test_method_is_any_token(mod, method):
    assert mod.parse_request_head(req(line=method + b" / HTTP/1.1"), MAX).method == method


@pytest.mark.parametrize("target", [b"*", b"/", b"/" + bytes(range(0x21, 0x7F))])
def test_origin_form_target_is_any_visible_ascii(mod, target):
    head = mod.parse_request_head(req(line=b"OPTIONS " + target + b" HTTP/1.1"), MAX)
    assert (head.target, head.authority, head.headers) == (target, b"", [(b"Host", b"a")])


@pytest.mark.parametrize(
    "method, target, origin, authority",
    [
        (b"GET", b"http://h/p?q#f", b"/p?q#f", b"h"),
        (b"GET", b"HTTPS://B.example.com:8443/x/y", b"/x/y", b"B.example.com:8443"),
        (b"GET", b"http://b.example.com", b"/", b"b.example.com"),
        (b"GET", b"http://b.example.com?q=1", b"/?q=1", b"b.example.com"),
        (b"OPTIONS", b"http://b.example.com", b"*", b"b.example.com"),
        (b"OPTIONS", b"http://b.example.com/", b"/", b"b.example.com"),
        (b"GET", b"http://[fd00::1]:80/", b"/", b"[fd00::1]:80"),
        (b"GET", b"http://10.0.0.1:/", b"/", b"10.0.0.1:"),
        (b"GET", b"http://a_b-c~d.e/", b"/", b"a_b-c~d.e"),
    ],
)
def test_absolute_form_target_becomes_origin_form_and_its_authority_the_host(mod, method, target, origin, authority):
    # RFC 9112 §3.2.2: the target's authority wins over the Host field
    head = mod.parse_request_head(req(b"X: 1", line=method + b" " + target + b" HTTP/1.1"), MAX)
    assert (head.target, head.authority, head.headers) == (origin, authority, [(b"Host", authority), (b"X", b"1")])


def test_absolute_form_gives_an_http10_request_its_host(mod):
    head = mod.parse_request_head(req(b"X: 1", line=b"GET http://b.example.com/p HTTP/1.0", host=False), MAX)
    assert (head.target, head.headers) == (b"/p", [(b"X", b"1"), (b"Host", b"b.example.com")])


def test_connect_authority_form_is_left_alone(mod):
    head = mod.parse_request_head(req(line=b"CONNECT b.example.com:443 HTTP/1.1"), MAX)
    assert (head.target, head.authority) == (b"b.example.com:443", b"")


@pytest.mark.parametrize(
    "target",
    [
        b"ftp://b.example.com/", b"file:///etc/passwd", b"mailto:x@y", b"http:/b.example.com/", b"http//b/",
        b"http://", b"http:///p", b"http://user@b.example.com/", b"http://b.example.com:123456/",
        b"http://b.example.com:8o/", b"http://[fd00::1/", b"http://[]/", b"http://b%2f.example.com/",
        b"http://b.example.com#f", b"https:", b"b.example.com:80", b"p", b"?q", b"**",
    ],
)  # fmt: skip
def test_other_targets_are_400(mod, target):
    fails(mod, req(line=b"GET " + target + b" HTTP/1.1"), 400, "bad request target")


@pytest.mark.parametrize(
    "line, fields, keep_alive, tokens",
    [
        (b"GET / HTTP/1.1", [], True, ()),
        (b"GET / HTTP/1.1", [b"Connection: close"], False, (b"close",)),
        (b"GET / HTTP/1.1", [b"Connection: Keep-Alive"], True, (b"keep-alive",)),
        (b"GET / HTTP/1.0", [], False, ()),
        (b"GET / HTTP/1.0", [b"Connection: keep-alive"], True, (b"keep-alive",)),
        (b"GET / HTTP/1.0", [b"Connection: keep-alive, close"], False, (b"keep-alive", b"close")),
        (b"GET / HTTP/1.1", [b"Connection: ,X-Foo ,, CLOSE\t", b"Connection: te"], False, (b"x-foo", b"close", b"te")),
        (b"GET / HTTP/1.1", [b"Connection:"], True, ()),
    ],
)
def test_keep_alive_and_connection_tokens(mod, line, fields, keep_alive, tokens):
    head = mod.parse_request_head(req(*fields, line=line), MAX)
    assert head.keep_alive is keep_alive
    assert head.connection_tokens == tokens


@pytest.mark.parametrize(
    "fields, upgrade",
    [
        ([b"Connection: Upgrade", b"Upgrade: websocket"], True),
        ([b"upgrade: h2c", b"connection: keep-alive, upgrade"], True),
        ([b"Connection: upgrade"], False),
        ([b"Upgrade: websocket"], False),
        ([b"Connection: upgraded", b"Upgrade: websocket"], False),
    ],
)
def test_upgrade_needs_the_token_and_the_header(mod, fields, upgrade):
    assert mod.parse_request_head(req(*fields), MAX).upgrade is upgrade


@pytest.mark.parametrize(
    "field, expect",
    [
        (b"Expect: 100-continue", True),
        (b"expect: 100-CONTINUE ", True),
        (b"Expect: 200-ok", False),
        (b"Expected: 100-continue", False),
    ],
)
def test_expect_continue(mod, field, expect):
    assert mod.parse_request_head(req(field), MAX).expect_continue is expect


@pytest.mark.parametrize(
    "fields, length",
    [
        ([b"Content-Length: 0"], 0),
        ([b"content-length:42"], 42),
        ([b"Content-Length: 007"], 7),
        ([b"Content-Length: " + b"9" * 18], 10**18 - 1),
    ],
)
def test_content_length(mod, fields, length):
    head = mod.parse_request_head(req(*fields), MAX)
    assert (head.content_length, head.chunked) == (length, False)


@pytest.mark.parametrize(
    "fields",
    [
        [b"Transfer-Encoding: chunked"],
        [b"transfer-encoding: Chunked"],
        [b"Transfer-Encoding: \tCHUNKED "],
        # RFC 9110 §5.6.1: empty list elements are ignored
        [b"Transfer-Encoding: , chunked ,"],
    ],
)
def test_chunked_request(mod, fields):
    head = mod.parse_request_head(req(*fields, line=b"POST /up HTTP/1.1"), MAX)
    assert (head.chunked, head.content_length) == (True, -1)


def test_http10_needs_no_host(mod):
    head = mod.parse_request_head(req(host=False, line=b"GET / HTTP/1.0"), MAX)
    assert (head.version, head.headers) == (10, [])


def test_empty_host_is_allowed(mod):
    assert mod.parse_request_head(req(b"Host:", host=False), MAX).headers == [(b"Host", b"")]


def test_one_hundred_fields_are_allowed(mod):
    fields = [b"X-%d: v" % i for i in range(99)]
    assert len(mod.parse_request_head(req(*fields), MAX).headers) == 100


def test_head_of_exactly_max_size(mod):
    data = req()
    assert mod.parse_request_head(data, len(data)).head_len == len(data)
    fails(mod, data, 431, "request header fields too large", max_size=len(data) - 1)


# -- byte classes ---------------------------------------------------------------------------

TCHAR = set(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
VALUE = {0x09, *range(0x20, 0x7F), *range(0x80, 0x100)}


def verdict(mod, data: bytes):
    try:
        return mod.parse_request_head(data, MAX)
    except HttpError as exc:
        return exc.reason


def test_every_byte_in_a_field_value_at_every_offset(mod):
    # long values are checked eight bytes at a time in the compiled build: try each word lane
    for byte in range(256):
        for pos in range(20):
            value = bytearray(b"v" * 20)
            value[pos] = byte
            result = verdict(mod, req(b"X: " + value))
            if byte in VALUE:
                assert result.headers[1] == (b"X", bytes(value).strip(b" \t")), (byte, pos)
            else:
                assert result == ("bare LF in head" if byte == 0x0A else "bad header value"), (byte, pos)


def test_every_byte_in_a_field_name(mod):
    for byte in range(256):
        result = verdict(mod, req(b"X" + bytes([byte]) + b"Y: v"))
        if byte in TCHAR:
            assert result.headers[1][0] == b"X" + bytes([byte]) + b"Y", byte
        elif byte != 0x3A:
            assert result == ("bare LF in head" if byte == 0x0A else "bad header name"), byte


def test_every_byte_in_the_method_and_target(mod):
    for byte in range(256):
        method = verdict(mod, req(line=b"G" + bytes([byte]) + b"T / HTTP/1.1"))
        target = verdict(mod, req(line=b"GET /" + bytes([byte]) + b" HTTP/1.1"))
        if byte == 0x0A:
            assert method == target == "bare LF in head"
            continue
        if byte in TCHAR:
            assert method.method == b"G" + bytes([byte]) + b"T", byte
        elif byte != 0x20:
            assert method == "bad request method", byte
        if 0x21 <= byte <= 0x7E:
            assert target.target == b"/" + bytes([byte]), byte
        elif byte != 0x20:
            assert target == "bad request target", byte


# -- invalid heads --------------------------------------------------------------------------

BAD_REQUESTS = [
    # line endings
    (b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF in head"),
    (b"GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "bare LF in head"),
    (b"GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bare LF in head"),
    (b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare LF in head"),
    (b"\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare LF in head"),
    (req(b"X: a\rb"), 400, "bad header value"),
    (req(b"X: a\r"), 400, "bad header value"),
    (b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad request target"),
    (b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad request method"),
    # request line
    (req(line=b" / HTTP/1.1"), 400, "bad request method"),
    (req(line=b"G@T / HTTP/1.1"), 400, "bad request method"),
    (req(line=b"GET\t/ HTTP/1.1"), 400, "bad request method"),
    (req(line=b"GET"), 400, "bad request line"),
    (req(line=b"GET /"), 400, "bad request line"),
    (req(line=b"GET  / HTTP/1.1"), 400, "bad request target"),
    (req(line=b"GET /\x7f HTTP/1.1"), 400, "bad request target"),
    (req(line=b"GET /\x80 HTTP/1.1"), 400, "bad request target"),
    (req(line=b"GET /\x00 HTTP/1.1"), 400, "bad request target"),
    (req(line=b"GET /  HTTP/1.1"), 400, "bad http version"),
    (req(line=b"GET / HTTP/1.1 "), 400, "bad http version"),
    (req(line=b"GET / http/1.1"), 400, "bad http version"),
    (req(line=b"GET / HTTP/1.10"), 400, "bad http version"),
    (req(line=b"GET / HTTP/1"), 400, "bad http version"),
    (req(line=b"GET / HTTP/a.b"), 400, "bad http version"),
    (req(line=b"GET / HTTP/2.0"), 505, "http version not supported"),
    (req(line=b"GET / HTTP/1.2"), 505, "http version not supported"),
    (req(line=b"GET / HTTP/0.9"), 505, "http version not supported"),
    # field lines
    (req(b"X: a", b" folded"), 400, "obsolete line folding"),
    (req(b"X: a", b"\tfolded"), 400, "obsolete line folding"),
    (b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "obsolete line folding"),
    (req(b"X : a"), 400, "bad header name"),
    (req(b"X\t: a"), 400, "bad header name"),
    (req(b": a"), 400, "bad header name"),
    (req(b"X"), 400, "bad header name"),
    (req(b"X@Y: a"), 400, "bad header name"),
    (req(b"\xc3\x9c: a"), 400, "bad header name"),
    (req(b"X: a\x00b"), 400, "bad header value"),
    (req(b"X: a\x7fb"), 400, "bad header value"),
    (req(b"X: a\x01"), 400, "bad header value"),
    (req(b"X: \x1f"), 400, "bad header value"),
    # Content-Length
    (req(b"Content-Length:"), 400, "bad content-length"),
    (req(b"Content-Length: -1"), 400, "bad content-length"),
    (req(b"Content-Length: +1"), 400, "bad content-length"),
    (req(b"Content-Length: 1 2"), 400, "bad content-length"),
    (req(b"Content-Length: 0x10"), 400, "bad content-length"),
    (req(b"Content-Length: 5, 5"), 400, "bad content-length"),
    (req(b"Content-Length: 5,"), 400, "bad content-length"),
    (req(b"Content-Length: " + b"1" * 19), 400, "bad content-length"),
    (req(b"Content-Length: \xd9\xa1"), 400, "bad content-length"),
    (req(b"Content-Length: 5", b"Content-Length: 6"), 400, "conflicting content-length"),
    (req(b"Content-Length: 5", b"content-length: 05"), 400, "conflicting content-length"),
    # identical duplicates are refused rather than merged: the proxy never forwards two
    (req(b"Content-Length: 5", b"CONTENT-LENGTH: 5"), 400, "duplicate content-length"),
    # Transfer-Encoding
    (req(b"Transfer-Encoding: chunked", b"Content-Length: 5"), 400, "content-length with transfer-encoding"),
    (req(b"Content-Length: 0", b"Transfer-Encoding: chunked"), 400, "content-length with transfer-encoding"),
    (req(b"Transfer-Encoding: chunked", line=b"POST / HTTP/1.0"), 400, "transfer-encoding in HTTP/1.0"),
    (req(b"Transfer-Encoding:"), 400, "empty transfer-encoding"),
    (req(b"Transfer-Encoding: , \t,"), 400, "empty transfer-encoding"),
    (req(b"Transfer-Encoding: chunked", b"Transfer-Encoding:"), 400, "empty transfer-encoding"),
    (req(b"Transfer-Encoding: gzip"), 501, "unsupported transfer-encoding"),
    (req(b"Transfer-Encoding: identity"), 501, "unsupported transfer-encoding"),
    (req(b"Transfer-Encoding: gzip, chunked"), 501, "unsupported transfer-encoding"),
    (req(b"Transfer-Encoding: chunked, chunked"), 501, "unsupported transfer-encoding"),
    (req(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"), 501, "unsupported transfer-encoding"),
    (req(b"Transfer-Encoding: chunked;q=1"), 501, "unsupported transfer-encoding"),
    (req(b"Transfer-Encoding: chunked x"), 501, "unsupported transfer-encoding"),
    (req(b"Transfer-Encoding: \xe2\x80\x8bchunked"), 501, "unsupported transfer-encoding"),
    # Host
    (req(host=False), 400, "missing host"),
    (req(b"Host: b"), 400, "duplicate host"),
    (req(b"HOST: a"), 400, "duplicate host"),
    # RFC 9112 §3.2: more than one Host is refused in any request, HTTP/1.0 included
    (req(b"Host: b", line=b"GET / HTTP/1.0"), 400, "duplicate host"),
    # size and count
    (req(*[b"X-%d: v" % i for i in range(100)]), 431, "too many header fields"),
]


@pytest.mark.parametrize("data, status, reason", BAD_REQUESTS)
def test_invalid_request(mod, data, status, reason):
    fails(mod, data, status, reason)


def test_first_error_in_line_order_wins(mod):
    fails(mod, req(b"X : a", *[b"X-%d: v" % i for i in range(100)]), 400, "bad header name")
    fails(mod, req(*[b"X-%d: v" % i for i in range(100)], b"X : a"), 431, "too many header fields")
    fails(mod, req(b"Content-Length: x", b"Y : a"), 400, "bad content-length")
    fails(mod, req(line=b"G@T / HTTP/1.1") + b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bad request method")


def test_head_longer_than_max_size(mod):
    data = req(b"X: " + b"v" * 200)
    fails(mod, data, 431, "request header fields too large", max_size=100)
    fails(mod, data[:150], 431, "request header fields too large", max_size=100)
    assert mod.parse_request_head(data[:100], 100) is None


def test_leading_empty_lines_count_toward_max_size(mod):
    data = b"\r\n" * 50 + req()
    fails(mod, data, 431, "request header fields too large", max_size=len(data) - 1)
    fails(mod, b"\r\n" * 60, 431, "request header fields too large", max_size=100)
    assert mod.parse_request_head(b"\r\n" * 50, 100) is None


# -- incremental input ----------------------------------------------------------------------

VALID_REQUESTS = [
    req(),
    b"\r\n" + req(b"Content-Length: 3"),
    req(b"Transfer-Encoding: chunked", b"X:  v  ", line=b"POST /a?b HTTP/1.1"),
    req(b"Connection: upgrade", b"Upgrade: websocket", b"Expect: 100-continue"),
    req(host=False, line=b"GET / HTTP/1.0"),
]


def attrs(head) -> tuple:
    return (
        head.method, head.target, head.version, head.headers, head.head_len, head.content_length,
        head.chunked, head.keep_alive, head.upgrade, head.expect_continue, head.connection_tokens,
    )


@pytest.mark.parametrize("data", VALID_REQUESTS)
def test_fed_one_byte_at_a_time(mod, data):
    whole = attrs(mod.parse_request_head(data, MAX))
    buf = bytearray()
    for i, byte in enumerate(data):
        buf.append(byte)
        head = mod.parse_request_head(buf, MAX)
        if i + 1 < len(data):
            assert head is None, i
        else:
            assert attrs(head) == whole


def test_bare_lf_is_refused_as_soon_as_it_arrives(mod):
    data = b"GET / HTTP/1.1\r\nHost: a\nX: b"
    assert mod.parse_request_head(data[:23], MAX) is None
    fails(mod, data[:24], 400, "bare LF in head")
    assert mod.parse_request_head(b"GET / HTTP/1.1\r", MAX) is None


def test_incomplete_head_is_not_validated_yet(mod):
    # only bare LF is checked early: everything else waits for the whole head
    assert mod.parse_request_head(b"G@T / HTTP/1.1\r\nHost: a\r\n", MAX) is None


def test_default_heads(mod):
    head = mod.RequestHead()
    assert (head.method, head.headers, head.content_length, head.connection_tokens) == (b"", [], -1, ())
    assert repr(mod.parse_request_head(req(), MAX)) == "<RequestHead b'GET' b'/' HTTP/1.1 headers=1 head_len=27>"


def test_http_error_carries_status_and_reason():
    exc = HttpError(431, "request header fields too large")
    assert (exc.status, exc.reason) == (431, "request header fields too large")
    assert str(exc) == "request header fields too large"
    assert repr(exc) == "HttpError(431, 'request header fields too large')"
