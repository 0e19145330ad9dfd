"""HTTP/2 heads on the proxy: what the policy reads, what goes upstream, gRPC's error answers."""

from __future__ import annotations

import pytest

from dataplane.http import h2heads

REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":authority", b"app.example"),
    (b":path", b"/svc/Call?x=1"),
    (b"content-type", b"application/grpc+proto"),
    (b"te", b"trailers"),
    (b"grpc-timeout", b"250m"),
    (b"k-original-host", b"inner.example"),
    (b"x-y", b"z"),
]


def test_the_policy_sees_a_head_like_http1s():
    head = h2heads.parse_request(REQUEST)
    assert (head.method, head.target, head.version, head.upgrade) == (b"POST", b"/svc/Call?x=1", 20, False)
    assert head.headers[0] == (b"host", b"app.example")  # :authority offered as Host
    assert head.grpc and head.grpc_timeout == pytest.approx(0.25)
    assert head.content_length == -1  # none given, as an HTTP/1.1 head says


@pytest.mark.parametrize("value, length", [(b"0", 0), (b"1048576", 1 << 20), (b"1" * 19, -1), (b"+5", -1), (b"1 ", -1)])
def test_content_length_is_offered_as_http1s(value, length):
    # what a policy bounds its waiting requests by; the session holds the body to it
    assert h2heads.parse_request([*REQUEST, (b"content-length", value)]).content_length == length


@pytest.mark.parametrize(
    "value, seconds",
    [(b"1S", 1.0), (b"2M", 120.0), (b"1H", 3600.0), (b"500u", 0.0005), (b"99999999n", 0.099999999),
     (b"", 0.0), (b"S", 0.0), (b"123456789S", 0.0), (b"10x", 0.0), (b"-1S", 0.0), (b"1.5S", 0.0)],
)
def test_grpc_timeout_values(value, seconds):
    assert h2heads.grpc_timeout(value) == pytest.approx(seconds)


def test_upstream_head_applies_the_policys_changes_and_drops_what_may_not_cross():
    head = h2heads.parse_request(REQUEST + [(b"te", b"gzip")])
    head.headers.append((b"X-Request-Id", b"abc"))  # ensure_request_id adds it in HTTP/1.1's case
    out = h2heads.h2_request_head(head, {b"k-original-host": None, b"host": b"inner.example", b"x-forwarded-for": b"10.0.0.1"}, b"127.0.0.1:8080")
    assert out[:4] == [(b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"inner.example"), (b":path", b"/svc/Call?x=1")]
    rest = out[4:]
    assert (b"te", b"trailers") in rest and (b"te", b"gzip") not in rest
    assert (b"x-request-id", b"abc") in rest and (b"x-forwarded-for", b"10.0.0.1") in rest
    assert all(name != b"k-original-host" and name != b"host" and name == name.lower() for name, _ in rest)


def test_grpc_error_answer_is_trailers_only_with_the_mapped_status():
    head = h2heads.grpc_error_head(503, b"pending request queue full (request id r-1)", [(b"X-A", b"b")], b"r-1")
    assert head[:3] == [(b":status", b"200"), (b"content-type", b"application/grpc"), (b"grpc-status", b"14")]
    assert (b"grpc-message", b"pending request queue full (request id r-1)") in head
    assert (b"x-a", b"b") in head and (b"x-request-id", b"r-1") in head
    assert dict(h2heads.grpc_error_head(504, b"request timeout", None, b""))[b"grpc-status"] == b"4"
    assert dict(h2heads.grpc_error_head(500, b"internal error", None, b""))[b"grpc-status"] == b"13"


def test_grpc_message_is_percent_encoded_so_no_byte_can_break_the_header():
    assert h2heads.percent_encode(b"plain text") == b"plain text"
    assert h2heads.percent_encode(b"100% \r\nx: y\xc3\xa9") == b"100%25 %0D%0Ax: y%C3%A9"


def test_http1_request_from_an_upstream_head():
    headers = [(b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"h:1"), (b":path", b"/p"),
               (b"te", b"trailers"), (b"content-length", b"3"), (b"x-y", b"z")]
    assert h2heads.http1_request(headers, 3) == b"POST /p HTTP/1.1\r\nhost: h:1\r\nx-y: z\r\ncontent-length: 3\r\n\r\n"
    assert h2heads.http1_request(headers, -1).endswith(b"x-y: z\r\ntransfer-encoding: chunked\r\n\r\n")
    get = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"h"), (b":path", b"/")]
    assert h2heads.http1_request(get, 0) == b"GET / HTTP/1.1\r\nhost: h\r\n\r\n"


def test_grpc_walk_finds_message_boundaries_across_any_split():
    messages = b"".join(b"\x00" + len(m).to_bytes(4, "big") + m for m in (b"", b"abc", b"x" * 70000))
    for cut in (1, 3, 5, 6, 9, 100, 65536):
        need, prefix = 0, b""
        boundaries = []
        for i in range(0, len(messages), cut):
            need, prefix = h2heads.grpc_walk(need, prefix, messages[i : i + cut])
            boundaries.append(not need and not prefix)
        assert boundaries[-1]  # the whole stream ends on a boundary
    assert h2heads.grpc_walk(0, b"", messages[:5]) == (0, b"")  # after the empty message
    assert h2heads.grpc_walk(0, b"", messages[:7]) == (0, b"\x00\x00")  # inside the next prefix
    assert h2heads.grpc_walk(0, b"", messages[:12]) == (1, b"")  # inside "abc"
    assert h2heads.grpc_trailers(504, b"request timeout") == [(b"grpc-status", b"4"), (b"grpc-message", b"request timeout")]
