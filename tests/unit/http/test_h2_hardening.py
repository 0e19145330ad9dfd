"""Bad HTTP/2 input against both session builds: the right frame and code, nothing to the handler."""

from __future__ import annotations

import pytest
from hpack import Decoder

from dataplane.http.h2limits import (
    COMPRESSION_ERROR,
    ENHANCE_YOUR_CALM,
    FRAME_SIZE_ERROR,
    INTERNAL_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    FlowControlError,
    H2Limits,
)
from tests.twins import load, twin_params
from tests.unit.http.h2rig import REQUEST, FakeClock, Peer, Recorder, frames, goaway_code, raw, rst_codes, start_server


@pytest.fixture(params=twin_params("dataplane.http._h2"))
def twin(request):
    return load(request.param)


# -- malformed frames and connection-level violations: GOAWAY with the RFC 9113 code

MALFORMED = {
    "SETTINGS of 5 bytes": (raw(0x4, 0, 0, b"\x00" * 5), FRAME_SIZE_ERROR),
    "PING of 7 bytes": (raw(0x6, 0, 0, b"\x00" * 7), FRAME_SIZE_ERROR),
    "WINDOW_UPDATE of 3 bytes": (raw(0x8, 0, 0, b"\x00" * 3), FRAME_SIZE_ERROR),
    "frame over SETTINGS_MAX_FRAME_SIZE": (raw(0x0, 0, 1, b"x" * 16385), FRAME_SIZE_ERROR),
    "DATA on stream 0": (raw(0x0, 0, 0, b"x"), PROTOCOL_ERROR),
    "HEADERS on stream 0": (raw(0x1, 0x5, 0, Peer().block(REQUEST)), PROTOCOL_ERROR),
    "RST_STREAM on stream 0": (raw(0x3, 0, 0, b"\x00\x00\x00\x08"), PROTOCOL_ERROR),
    "SETTINGS on stream 1": (raw(0x4, 0, 1, b""), PROTOCOL_ERROR),
    "PING on stream 1": (raw(0x6, 0, 1, b"\x00" * 8), PROTOCOL_ERROR),
    "DATA on an idle stream": (raw(0x0, 0, 1, b"x"), PROTOCOL_ERROR),
    "RST_STREAM on an idle stream": (raw(0x3, 0, 1, b"\x00\x00\x00\x08"), PROTOCOL_ERROR),
    "WINDOW_UPDATE of 0 on the connection": (raw(0x8, 0, 0, b"\x00\x00\x00\x00"), PROTOCOL_ERROR),
    "client HEADERS on an even stream": (Peer().headers(2, REQUEST), PROTOCOL_ERROR),
    "CONTINUATION without HEADERS": (raw(0x9, 0x4, 1, b"\x82"), PROTOCOL_ERROR),
    "HEADERS interrupted by DATA": (
        Peer().headers(1, REQUEST, end_headers=False) + raw(0x0, 0, 1, b"x"),
        PROTOCOL_ERROR,
    ),
    "HPACK index out of range": (raw(0x1, 0x5, 1, b"\xff\x80\x01"), COMPRESSION_ERROR),
    "HPACK table size update over our setting": (raw(0x1, 0x5, 1, b"\x3f\xe1\x7f\x82"), COMPRESSION_ERROR),
    "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1": (raw(0x4, 0, 0, b"\x00\x04\x80\x00\x00\x00"), 0x3),
    "SETTINGS_ENABLE_PUSH of 2": (raw(0x4, 0, 0, b"\x00\x02\x00\x00\x00\x02"), PROTOCOL_ERROR),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_frame_is_goaway_with_its_code(twin, case):
    payload, code = MALFORMED[case]
    session, handler, _, _ = start_server(twin)
    session.receive(payload)
    assert goaway_code(session.data_to_send()) == code
    assert session.closed
    assert handler.named("headers") == [] and handler.named("data") == []


def test_bad_preface_is_goaway_protocol_error(twin):
    rec = Recorder()
    session = twin.Session(rec)
    session.initiate()
    session.receive(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert goaway_code(session.data_to_send()) == PROTOCOL_ERROR
    assert session.closed and rec.calls == []


def test_stalled_preface_waits_and_reports_not_established(twin):
    handler = Recorder()
    session = twin.Session(handler)
    session.initiate()
    first = session.data_to_send()
    assert [f.type for f in frames(first)] == [0x4]  # our SETTINGS, nothing else
    session.receive(b"PRI * HTTP/2.0\r\n")
    assert not session.established and not session.closed
    assert session.data_to_send() == b""
    session.receive(b"\r\nSM\r\n\r\n" + Peer.settings())
    assert session.established and not session.closed


# -- bad header blocks: RST_STREAM PROTOCOL_ERROR, the connection and its other streams go on

BAD_HEADS = {
    "upper-case name": REQUEST + [(b"X-Up", b"1")],
    "no :path": [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a")],
    "no :method": [(b":scheme", b"http"), (b":path", b"/"), (b":authority", b"a")],
    "empty :path": [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b""), (b":authority", b"a")],
    "unknown pseudo-header": REQUEST + [(b":foo", b"1")],
    "response pseudo-header in a request": REQUEST + [(b":status", b"200")],
    "pseudo-header after a regular one": [(b":method", b"GET"), (b"x", b"1"), (b":scheme", b"http"), (b":path", b"/")],
    "duplicate :method": [(b":method", b"GET")] + REQUEST,
    "connection header": REQUEST + [(b"connection", b"keep-alive")],
    "transfer-encoding": REQUEST + [(b"transfer-encoding", b"chunked")],
    "upgrade": REQUEST + [(b"upgrade", b"websocket")],
    "te other than trailers": REQUEST + [(b"te", b"gzip")],
    "value with a leading space": REQUEST + [(b"x", b" v")],
    "value with a LF": REQUEST + [(b"x", b"a\nb")],
    "non-numeric content-length": REQUEST + [(b"content-length", b"12a")],
    "CONNECT with a :path": [(b":method", b"CONNECT"), (b":authority", b"a:1"), (b":path", b"/")],
    # what an HTTP/1.1 hop would read differently (a second request line, a split header)
    ":path with a space": [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/a HTTP/1.1"), (b":authority", b"a")],
    ":path with a tab": [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/a\tb"), (b":authority", b"a")],
    ":method not a token": [(b":method", b"GET /x"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"a")],
    ":authority with a space": [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"a b")],
    ":scheme not a scheme": [(b":method", b"GET"), (b":scheme", b"ht tp"), (b":path", b"/"), (b":authority", b"a")],
    "value with a control byte": REQUEST + [(b"x", b"a\x01b")],
    "value with DEL": REQUEST + [(b"x", b"a\x7fb")],
    "host with a space": REQUEST + [(b"host", b"a b")],
}


@pytest.mark.parametrize("case", list(BAD_HEADS))
def test_bad_request_head_is_rst_protocol_error(twin, case):
    session, handler, peer, _ = start_server(twin)
    session.receive(peer.headers(1, BAD_HEADS[case]))
    out = session.data_to_send()
    assert rst_codes(out) == {1: PROTOCOL_ERROR}
    assert goaway_code(out) is None and not session.closed
    assert handler.named("headers") == []
    # the same connection still serves a good request
    session.receive(peer.headers(3, REQUEST))
    assert handler.named("headers") == [("headers", 3, REQUEST)]


# -- SETTINGS_MAX_CONCURRENT_STREAMS

def test_streams_past_the_limit_are_refused_before_the_ack(twin):
    session, handler, peer, _ = start_server(twin, limits=H2Limits(max_concurrent_streams=2))
    session.receive(peer.headers(1, REQUEST, end_stream=False) + peer.headers(3, REQUEST, end_stream=False))
    session.receive(peer.headers(5, REQUEST, end_stream=False))
    out = session.data_to_send()
    assert rst_codes(out) == {5: REFUSED_STREAM}
    assert [c[1] for c in handler.named("headers")] == [1, 3]
    # a stream that ends frees a place
    session.send_headers(1, [(b":status", b"204")], end_stream=True)
    session.receive(peer.data(1, b"", end_stream=True))
    session.data_to_send()
    session.receive(peer.headers(7, REQUEST, end_stream=False))
    assert [c[1] for c in handler.named("headers")] == [1, 3, 7]


def test_streams_past_the_acknowledged_limit_end_the_connection(twin):
    session, handler, peer, _ = start_server(twin, limits=H2Limits(max_concurrent_streams=2), ack=True)
    session.receive(peer.headers(1, REQUEST, end_stream=False) + peer.headers(3, REQUEST, end_stream=False))
    session.receive(peer.headers(5, REQUEST, end_stream=False))
    assert goaway_code(session.data_to_send()) == PROTOCOL_ERROR
    assert [c[1] for c in handler.named("headers")] == [1, 3]


# -- header list size

def test_request_head_over_the_limit_is_answered_431(twin):
    session, handler, peer, _ = start_server(twin, limits=H2Limits(max_header_list_size=1024))
    session.receive(peer.headers(1, REQUEST + [(b"cookie", b"c" * 2000)]))
    out = session.data_to_send()
    heads = [f for f in frames(out) if f.type == 0x1 and f.stream_id == 1]
    assert len(heads) == 1 and "END_STREAM" in heads[0].flags
    assert (b":status", b"431") in Decoder().decode(heads[0].data, raw=True)
    assert goaway_code(out) is None and not session.closed
    assert handler.named("headers") == []
    session.receive(peer.headers(3, REQUEST))
    assert handler.named("headers") == [("headers", 3, REQUEST)]


def test_hpack_bomb_is_goaway_enhance_your_calm(twin):
    # one 4 KB entry in the dynamic table, then referenced a hundred times: 3 bytes in, 400 KB out
    session, handler, _, _ = start_server(twin, limits=H2Limits(max_header_list_size=8192))
    value = b"v" * 4000
    block = b"\x40\x01x" + b"\x7f\xa1\x1e" + value  # literal, incremental indexing, new name "x"
    block += b"\xbe" * 100  # indexed field 62: the entry just added
    session.receive(raw(0x1, 0x5, 1, bytes(REQUEST_BLOCK) + block))
    assert goaway_code(session.data_to_send()) == ENHANCE_YOUR_CALM
    assert session.closed and handler.named("headers") == []


REQUEST_BLOCK = Peer().block(REQUEST)


# -- CONTINUATION flood (CVE-2024-27316)

def test_continuation_flood_is_goaway_enhance_your_calm(twin):
    session, handler, peer, _ = start_server(twin, limits=H2Limits(max_continuations=8))
    block = peer.block(REQUEST + [(b"x-pad", b"p" * 40)])
    flood = raw(0x1, 0x1, 1, block[:1])  # HEADERS without END_HEADERS
    for i in range(1, 30):
        flood += raw(0x9, 0, 1, block[i : i + 1])
    session.receive(flood)
    assert goaway_code(session.data_to_send()) == ENHANCE_YOUR_CALM
    assert session.closed and handler.named("headers") == []


def test_continuation_bytes_are_bounded(twin):
    session, handler, peer, _ = start_server(twin, limits=H2Limits(max_header_block=4096))
    block = peer.block(REQUEST + [(b"x-pad", b"p" * 6000)])
    flood = raw(0x1, 0x1, 1, block[:2000]) + raw(0x9, 0, 1, block[2000:4000]) + raw(0x9, 0, 1, block[4000:5000])
    session.receive(flood)
    assert goaway_code(session.data_to_send()) == ENHANCE_YOUR_CALM
    assert handler.named("headers") == []


def test_continuations_within_bounds_are_one_head(twin):
    session, handler, peer, _ = start_server(twin)
    block = peer.block(REQUEST)
    session.receive(raw(0x1, 0x1, 1, block[:3]) + raw(0x9, 0, 1, block[3:6]) + raw(0x9, 0x4, 1, block[6:]))
    assert handler.named("headers") == [("headers", 1, REQUEST)]
    assert not session.closed


# -- rapid reset (CVE-2023-44487)

def test_rapid_reset_past_the_budget_is_goaway_enhance_your_calm(twin):
    clock = FakeClock()
    session, handler, peer, _ = start_server(twin, limits=H2Limits(reset_burst=10, reset_rate=1.0), clock=clock)
    burst = b"".join(peer.headers(sid, REQUEST, end_stream=False) + peer.rst(sid) for sid in range(1, 22, 2))
    session.receive(burst)
    assert goaway_code(session.data_to_send()) == ENHANCE_YOUR_CALM
    assert session.closed


def test_resets_within_the_rate_are_served(twin):
    clock = FakeClock()
    session, handler, peer, _ = start_server(twin, limits=H2Limits(reset_burst=10, reset_rate=1.0), clock=clock)
    sid = 1
    for _ in range(4):
        for _ in range(5):
            session.receive(peer.headers(sid, REQUEST, end_stream=False) + peer.rst(sid))
            sid += 2
        clock.now += 5.0  # five tokens back
    assert goaway_code(session.data_to_send()) is None
    assert not session.closed
    assert len(handler.named("reset")) == 20


# -- slow read: a peer that never opens its window gets no more than the window

def test_slow_reader_gets_no_more_than_its_window(twin):
    session, handler, peer, _ = start_server(twin, ack=True)
    session.receive(peer.headers(1, REQUEST))
    session.send_headers(1, [(b":status", b"200")])
    sent = 0
    for _ in range(100):
        room = session.send_window(1)
        if room == 0:
            break
        chunk = min(room, 10000)
        session.send_data(1, b"x" * chunk)
        sent += chunk
    out = session.data_to_send()
    assert sent == 65535
    assert sum(len(f.data) for f in frames(out) if f.type == 0x0) == 65535
    with pytest.raises(FlowControlError):
        session.send_data(1, b"x")
    session.receive(peer.window_update(0, 1000) + peer.window_update(1, 1000))
    assert ("window_update", 1) in handler.calls
    assert session.send_window(1) == 1000


# -- a handler that raises ends the connection, not the process

def test_handler_exception_is_goaway_internal_error_and_raised(twin):
    session, handler, peer, _ = start_server(twin)
    handler.raise_on = "headers"
    with pytest.raises(RuntimeError):
        session.receive(peer.headers(1, REQUEST))
    assert goaway_code(session.data_to_send()) == INTERNAL_ERROR
    assert session.closed
