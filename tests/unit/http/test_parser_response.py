"""Response heads from the upstream app: framing as the headers say, errors as 502; both builds."""

from __future__ import annotations

import pytest

from dataplane.http.errors import HttpError
from tests.twins import load, twin_params

MAX = 8192


@pytest.fixture(params=twin_params("dataplane.http._parser"))
def mod(request):
    return load(request.param)


def resp(*fields: bytes, line: bytes = b"HTTP/1.1 200 OK") -> bytes:
    return b"\r\n".join([line, *fields]) + b"\r\n\r\n"


def attrs(head) -> tuple:
    return (
        head.status, head.reason, head.version, head.headers, head.head_len,
        head.content_length, head.chunked, head.keep_alive, head.connection_tokens,
    )


def test_plain_response(mod):
    data = resp(b"Content-Length: 5", b"Content-Type:  text/plain ")
    head = mod.parse_response_head(data + b"hello", MAX)
    assert attrs(head) == (
        200, b"OK", 11, [(b"Content-Length", b"5"), (b"Content-Type", b"text/plain")], len(data), 5, False, True, (),
    )


@pytest.mark.parametrize(
    "line, status, reason, version",
    [
        (b"HTTP/1.1 204", 204, b"", 11),  # no SP before an empty reason: common in practice
        (b"HTTP/1.1 200 ", 200, b"", 11),
        (b"HTTP/1.0 404 Not  Found\t", 404, b"Not  Found\t", 10),
        (b"HTTP/1.1 999 \x80\xff", 999, b"\x80\xff", 11),
        (b"HTTP/1.1 101 Switching Protocols", 101, b"Switching Protocols", 11),
    ],
)
def test_status_line(mod, line, status, reason, version):
    head = mod.parse_response_head(resp(line=line), MAX)
    assert (head.status, head.reason, head.version) == (status, reason, version)


@pytest.mark.parametrize(
    "line, fields, chunked, length, keep_alive",
    [
        (b"HTTP/1.1 200 OK", [], False, -1, True),
        (b"HTTP/1.1 200 OK", [b"Transfer-Encoding: chunked"], True, -1, True),
        (b"HTTP/1.1 200 OK", [b"Transfer-Encoding: gzip, Chunked"], True, -1, True),
        (b"HTTP/1.1 200 OK", [b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked"], True, -1, True),
        # a coding list not ending in chunked: the body runs to the close
        (b"HTTP/1.1 200 OK", [b"Transfer-Encoding: gzip"], False, -1, True),
        (b"HTTP/1.1 200 OK", [b"Transfer-Encoding: chunked, gzip"], False, -1, True),
        # RFC 9112 §6.3: Transfer-Encoding wins over Content-Length, and the connection is not reused
        (b"HTTP/1.1 200 OK", [b"Content-Length: 10", b"Transfer-Encoding: chunked"], True, -1, False),
        (b"HTTP/1.1 200 OK", [b"Transfer-Encoding: gzip", b"Content-Length: 10"], False, -1, False),
        (b"HTTP/1.1 200 OK", [b"Content-Length: 7", b"content-length: 7"], False, 7, True),
        (b"HTTP/1.1 200 OK", [b"Connection: close"], False, -1, False),
        (b"HTTP/1.0 200 OK", [], False, -1, False),
        (b"HTTP/1.0 200 OK", [b"Connection: keep-alive"], False, -1, True),
    ],
)
def test_framing_as_the_headers_say(mod, line, fields, chunked, length, keep_alive):
    head = mod.parse_response_head(resp(*fields, line=line), MAX)
    assert (head.chunked, head.content_length, head.keep_alive) == (chunked, length, keep_alive)


def test_request_only_rules_do_not_apply(mod):
    head = mod.parse_response_head(resp(b"Host: a", b"Host: b", b"Expect: x", line=b"HTTP/1.1 101 Switching"), MAX)
    assert head.status == 101
    head = mod.parse_response_head(resp(b"Connection: Upgrade", b"Upgrade: websocket"), MAX)
    assert head.connection_tokens == (b"upgrade",)


def upstream(reason: str) -> str:
    return "upstream response: " + reason


BAD_RESPONSES = [
    (resp(line=b"HTTP/1.1 200OK"), upstream("bad status line")),
    (resp(line=b"HTTP/1.1 20 OK"), upstream("bad status line")),
    (resp(line=b"HTTP/1.1 2000 OK"), upstream("bad status line")),
    (resp(line=b"HTTP/1.1 099 OK"), upstream("bad status line")),
    (resp(line=b"HTTP/1.1 2x0 OK"), upstream("bad status line")),
    (resp(line=b"HTTP/1.1  200 OK"), upstream("bad status line")),
    (resp(line=b"HTTP/2.0 200 OK"), upstream("bad status line")),
    (resp(line=b"http/1.1 200 OK"), upstream("bad status line")),
    (resp(line=b"ICY 200 OK"), upstream("bad status line")),
    (resp(line=b"HTTP/1.1"), upstream("bad status line")),
    (resp(line=b"HTTP/1.1 200 O\x01K"), upstream("bad status line")),
    (resp(line=b"HTTP/1.1 200 O\rK"), upstream("bad status line")),
    (b"\r\n" + resp(), upstream("bad status line")),
    (b"HTTP/1.1 200 OK\nX: a\r\n\r\n", upstream("bare LF in head")),
    (resp(b"X: a", b" b"), upstream("obsolete line folding")),
    (resp(b"X : a"), upstream("bad header name")),
    (resp(b"X: \x00"), upstream("bad header value")),
    (resp(b"Content-Length: 1e3"), upstream("bad content-length")),
    (resp(b"Content-Length: 1", b"Content-Length: 2"), upstream("conflicting content-length")),
    (resp(b"Transfer-Encoding: "), upstream("empty transfer-encoding")),
    (resp(b"Transfer-Encoding: chunked", line=b"HTTP/1.0 200 OK"), upstream("transfer-encoding in HTTP/1.0")),
    (resp(*[b"X-%d: v" % i for i in range(101)]), upstream("too many header fields")),
]


@pytest.mark.parametrize("data, reason", BAD_RESPONSES)
def test_invalid_response_is_502(mod, data, reason):
    with pytest.raises(HttpError) as info:
        mod.parse_response_head(data, MAX)
    assert (info.value.status, info.value.reason) == (502, reason)


def test_response_head_too_large(mod):
    data = resp(b"X: " + b"v" * 200)
    for buf in (data, data[:150]):
        with pytest.raises(HttpError) as info:
            mod.parse_response_head(buf, 100)
        assert (info.value.status, info.value.reason) == (502, "upstream response head too large")
    assert mod.parse_response_head(data[:100], 100) is None
    assert mod.parse_response_head(data, len(data)).head_len == len(data)


VALID_RESPONSES = [
    resp(b"Content-Length: 0"),
    resp(line=b"HTTP/1.1 304"),
    resp(b"Transfer-Encoding: chunked", b"Connection: close", line=b"HTTP/1.1 500 Internal Server Error"),
]


@pytest.mark.parametrize("data", VALID_RESPONSES)
def test_fed_one_byte_at_a_time(mod, data):
    whole = attrs(mod.parse_response_head(data, MAX))
    for i in range(len(data)):
        assert mod.parse_response_head(bytearray(data[:i]), MAX) is None, i
    assert attrs(mod.parse_response_head(bytearray(data), MAX)) == whole


def test_default_head(mod):
    head = mod.ResponseHead()
    assert (head.status, head.reason, head.headers, head.content_length) == (200, b"", [], -1)
    assert repr(mod.parse_response_head(resp(), MAX)) == "<ResponseHead HTTP/1.1 200 b'OK' headers=0 head_len=19>"
