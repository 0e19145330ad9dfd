"""ChunkedScanner: where a chunked body ends, at any split of the input; both builds."""

from __future__ import annotations

import pytest

from dataplane.http.errors import HttpError
from tests.twins import load, twin_params


@pytest.fixture(params=twin_params("dataplane.http._parser"))
def mod(request):
    return load(request.param)


VALID_BODIES = [
    b"0\r\n\r\n",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"A\r\n0123456789\r\n0\r\n\r\n",
    b"a;name=value;flag\r\n0123456789\r\n0;last\r\n\r\n",
    b'3; ext="quoted \xff text"\t\r\nabc\r\n000\r\n\r\n',
    b"0000000000000003\r\n\r\n\r\r\n0\r\n\r\n",  # 16 digits; data bytes are never looked at
    b"2\r\n\n\r\r\n0\r\nTrailer: value\r\nX-Checksum:\r\n\r\n",
    b"1\r\nx\r\n0\r\nx-sum: \x80 a\tb \r\n\r\n",
]


@pytest.mark.parametrize("body", VALID_BODIES)
def test_whole_body(mod, body):
    scanner = mod.ChunkedScanner()
    assert scanner.feed(body + b"GET / HTTP/1.1\r\n", 0) == len(body)
    assert scanner.done


@pytest.mark.parametrize("body", VALID_BODIES)
def test_every_split_point_gives_the_same_end(mod, body):
    data = body + b"NEXT"
    for k in range(len(data) + 1):
        scanner = mod.ChunkedScanner()
        first = scanner.feed(data[:k], 0)
        if scanner.done:
            assert first == len(body), k
            continue
        assert first == k
        assert scanner.feed(data[k:], 0) + k == len(body), k
        assert scanner.done
        # the same, feeding one buffer from an offset
        scanner.reset()
        assert scanner.feed(data[:k], 0) == k
        assert scanner.feed(data, k) == len(body), k


@pytest.mark.parametrize("body", VALID_BODIES)
def test_one_byte_at_a_time(mod, body):
    scanner = mod.ChunkedScanner()
    for i, byte in enumerate(body):
        assert not scanner.done
        assert scanner.feed(bytearray([byte]), 0) == 1, i
    assert scanner.done


def test_buffer_types_and_offsets(mod):
    body = VALID_BODIES[2]
    for buf in (b"xx" + body, bytearray(b"xx" + body), memoryview(b"xx" + body)):
        scanner = mod.ChunkedScanner()
        assert scanner.feed(buf, 2) == len(body) + 2


def test_large_chunk_is_skipped_by_arithmetic(mod):
    scanner = mod.ChunkedScanner()
    assert scanner.feed(b"FFFFFFFFFFFFFFFF\r\nabc", 0) == 21
    assert scanner.feed(b"x" * 1000, 0) == 1000
    assert not scanner.done
    scanner.reset()
    assert scanner.feed(b"100000\r\n", 0) == 8
    for _ in range(16):
        assert scanner.feed(b"\0" * 65536, 0) == 65536
    assert scanner.feed(b"\r\n0\r\n\r\nrest", 0) == 7
    assert scanner.done


def test_done_scanner_takes_nothing_until_reset(mod):
    scanner = mod.ChunkedScanner()
    assert scanner.feed(b"0\r\n\r\n", 0) == 5
    assert scanner.feed(b"5\r\nhello\r\n", 3) == 3
    scanner.reset()
    assert not scanner.done
    assert scanner.feed(b"5\r\nhello\r\n0\r\n\r\n", 0) == 15
    assert scanner.done


def test_start_outside_the_buffer(mod):
    scanner = mod.ChunkedScanner()
    assert scanner.feed(b"abc", 3) == 3
    with pytest.raises(ValueError):
        scanner.feed(b"abc", 4)
    with pytest.raises(ValueError):
        scanner.feed(b"abc", -1)


BAD_BODIES = [
    (b"g\r\n", "bad chunk size"),
    (b"\r\n", "bad chunk size"),
    (b"-5\r\n", "bad chunk size"),
    (b"+5\r\n", "bad chunk size"),
    (b"0x5\r\n", "bad chunk size"),
    (b"5 \r\n", "bad chunk size"),
    (b" 5\r\n", "bad chunk size"),
    (b"1" * 17 + b"\r\n", "bad chunk size"),
    (b"0" * 17 + b"\r\n", "bad chunk size"),
    (b"5\n", "bare LF in chunked body"),
    (b"\n", "bare LF in chunked body"),
    (b"5;a\nb", "bare LF in chunked body"),
    (b"5\rx", "bad chunk line"),
    (b"5;a=\x01\r\n", "bad chunk extension"),
    (b"5;a=\x7f\r\n", "bad chunk extension"),
    (b"5\r\nhello0\r\n\r\n", "bad chunk terminator"),
    (b"5\r\nhello\r0\r\n\r\n", "bad chunk terminator"),
    (b"5\r\nhello\n0\r\n\r\n", "bad chunk terminator"),
    (b"0\r\n X: y\r\n\r\n", "obsolete line folding"),
    (b"0\r\nX: y\r\n\tz\r\n\r\n", "obsolete line folding"),
    (b"0\r\nX : y\r\n\r\n", "bad trailer name"),
    (b"0\r\n: y\r\n\r\n", "bad trailer name"),
    (b"0\r\nX\r\n\r\n", "bad trailer name"),
    (b"0\r\nX: \x00\r\n\r\n", "bad trailer value"),
    (b"0\r\nX: y\ny\r\n\r\n", "bare LF in chunked body"),
    (b"0\r\nX: y\r\r\n\r\n", "bad trailer line"),
    (b"0\r\n\rX", "bad trailer line"),
    (b"0\r\n\n", "bare LF in chunked body"),
    (b"0\r\nX: y\n\r\n", "bare LF in chunked body"),
]


@pytest.mark.parametrize("body, reason", BAD_BODIES)
def test_invalid_body(mod, body, reason):
    with pytest.raises(HttpError) as info:
        mod.ChunkedScanner().feed(body, 0)
    assert (info.value.status, info.value.reason) == (400, reason)


@pytest.mark.parametrize("body, reason", BAD_BODIES)
def test_invalid_body_one_byte_at_a_time(mod, body, reason):
    scanner = mod.ChunkedScanner()
    with pytest.raises(HttpError) as info:
        for byte in body:
            scanner.feed(bytes([byte]), 0)
    assert info.value.reason == reason
