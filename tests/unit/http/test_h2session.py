"""The HTTP/2 session API on both builds: streams, bodies, trailers, flow control, both roles."""

from __future__ import annotations

import pytest
from hpack import Decoder

from dataplane._twins import extensions_disabled
from dataplane.http.h2limits import NO_ERROR, PROTOCOL_ERROR, REFUSED_STREAM, H2Limits
from tests.twins import load, twin_params
from tests.unit.http.h2rig import REQUEST, Peer, Recorder, frames, goaway_code, rst_codes, start_server


@pytest.fixture(params=twin_params("dataplane.http._h2"))
def twin(request):
    return load(request.param)


def pair(client_mod, server_mod, limits=None):
    """A client and a server session wired back to back (bytes carried by the test)."""
    ch, sh = Recorder(), Recorder()
    client = client_mod.Session(ch, client=True, **({"limits": limits} if limits else {}))
    server = server_mod.Session(sh, **({"limits": limits} if limits else {}))
    client.initiate()
    server.initiate()
    return client, ch, server, sh


def pump(a, b):
    """Carry bytes both ways until neither side has anything to say."""
    for _ in range(50):
        x = a.data_to_send()
        if x:
            b.receive(x)
        y = b.data_to_send()
        if y:
            a.receive(y)
        if not x and not y:
            return
    raise AssertionError("sessions kept talking")


def test_request_body_and_response_with_trailers(twin):
    session, handler, peer, _ = start_server(twin)
    session.receive(peer.headers(1, [*REQUEST[:1], *REQUEST[1:], (b"content-length", b"5")], end_stream=False))
    session.receive(peer.data(1, b"hello", end_stream=True))
    assert handler.calls[-3:] == [
        ("headers", 1, [*REQUEST, (b"content-length", b"5")]),
        ("data", 1, b"hello"),
        ("end", 1),
    ]
    session.send_headers(1, [(b":status", b"200")])
    session.send_data(1, b"world")
    session.send_trailers(1, [(b"grpc-status", b"0")])
    out = frames(session.data_to_send())
    dec = Decoder()
    kinds = [(f.type, f.stream_id) for f in out if f.stream_id == 1]
    assert kinds == [(0x1, 1), (0x0, 1), (0x1, 1)]
    assert dec.decode(out[-2].data if out[-2].type == 0x1 else out[-3].data, raw=True) == [(b":status", b"200")]
    assert b"".join(f.data for f in out if f.type == 0x0) == b"world"
    assert "END_STREAM" in out[-1].flags and dec.decode(out[-1].data, raw=True) == [(b"grpc-status", b"0")]


BODY_LENGTH = {
    "more than content-length": ([b"hello!"], True),
    "less than content-length": ([b"hel"], True),
}


@pytest.mark.parametrize("case", list(BODY_LENGTH))
def test_body_not_matching_content_length_is_a_stream_error(twin, case):
    chunks, _ = BODY_LENGTH[case]
    session, handler, peer, _ = start_server(twin)
    session.receive(peer.headers(1, REQUEST + [(b"content-length", b"5")], end_stream=False))
    for chunk in chunks:
        session.receive(peer.data(1, chunk, end_stream=True))
    out = session.data_to_send()
    assert rst_codes(out) == {1: PROTOCOL_ERROR} and goaway_code(out) is None
    assert ("end", 1) not in handler.calls
    assert handler.named("reset") == [("reset", 1, PROTOCOL_ERROR)]


def test_window_reopens_only_when_consumed(twin):
    session, handler, peer, _ = start_server(twin, ack=True)
    session.receive(peer.headers(1, REQUEST, end_stream=False))
    session.data_to_send()
    body = b"b" * 16384
    for _ in range(3):
        session.receive(peer.data(1, body))
    assert [f for f in frames(session.data_to_send()) if f.type == 0x8] == []
    session.consumed(1, 3 * 16384)
    updates = {f.stream_id: f.window_increment for f in frames(session.data_to_send()) if f.type == 0x8}
    assert updates == {0: 3 * 16384, 1: 3 * 16384}


def test_data_of_a_refused_stream_does_not_shrink_the_window(twin):
    # the handler never sees a 431'd stream's body, so the session gives its window back itself
    session, handler, peer, _ = start_server(twin, limits=H2Limits(max_header_list_size=256), ack=True)
    session.receive(peer.headers(1, REQUEST + [(b"x", b"y" * 400)], end_stream=False))
    session.data_to_send()
    for _ in range(8):  # twice both windows: a FLOW_CONTROL_ERROR if they were not given back
        session.receive(peer.data(1, b"z" * 16000))
        out = session.data_to_send()
        assert goaway_code(out) is None and rst_codes(out) == {}
    assert not session.closed
    assert handler.named("data") == []


def test_peer_reset_reaches_the_handler(twin):
    session, handler, peer, _ = start_server(twin)
    session.receive(peer.headers(1, REQUEST, end_stream=False) + peer.rst(1, 0x8))
    assert handler.calls[-1] == ("reset", 1, 0x8)
    session.send_headers(1, [(b":status", b"200")])  # too late: nothing is sent, nothing raised
    assert [f for f in frames(session.data_to_send()) if f.stream_id == 1] == []


def test_own_reset_is_not_reported_back(twin):
    session, handler, peer, _ = start_server(twin)
    session.receive(peer.headers(1, REQUEST, end_stream=False))
    session.reset_stream(1, 0x8)
    assert rst_codes(session.data_to_send()) == {1: 0x8}
    session.receive(peer.data(1, b"late", end_stream=True))
    assert handler.named("reset") == [] and handler.named("data") == []


@pytest.mark.parametrize("body", [b"", b"busy"])
def test_a_complete_response_then_a_reset_goes_out_in_that_order(twin, body):
    # the server answers before the request ended, then asks the client to stop sending (RFC 9113 §8.1)
    session, _, peer, _ = start_server(twin)
    session.receive(peer.headers(1, REQUEST, end_stream=False) + peer.data(1, b"part", end_stream=False))
    session.data_to_send()
    session.send_headers(1, [(b":status", b"503")], end_stream=not body)
    if body:
        session.send_data(1, body, end_stream=True)
    session.reset_stream(1, NO_ERROR)
    out = [f for f in frames(session.data_to_send()) if f.stream_id == 1]
    assert [type(f).__name__ for f in out] == ["HeadersFrame", *(["DataFrame"] if body else []), "RstStreamFrame"]
    assert "END_STREAM" in out[-2].flags and out[-1].error_code == NO_ERROR
    assert b"".join(f.data for f in out if type(f).__name__ == "DataFrame") == body


def test_graceful_goaway_lets_open_streams_finish(twin):
    session, handler, peer, _ = start_server(twin)
    session.receive(peer.headers(1, REQUEST, end_stream=True))
    session.goaway()
    out = frames(session.data_to_send())
    goaways = [f for f in out if f.type == 0x7]
    assert [(f.error_code, f.last_stream_id) for f in goaways] == [(NO_ERROR, 1)]
    session.send_headers(1, [(b":status", b"204")], end_stream=True)
    heads = [f for f in frames(session.data_to_send()) if f.type == 0x1]
    assert heads and heads[0].stream_id == 1


def test_update_settings_are_acknowledged(twin):
    session, handler, peer, _ = start_server(twin, ack=True)
    assert handler.named("settings_acked") == [("settings_acked",)]
    session.update_settings(max_concurrent_streams=5, initial_window_size=1 << 20)
    sent = [f for f in frames(session.data_to_send()) if f.type == 0x4 and "ACK" not in f.flags]
    assert sent and sent[-1].settings == {0x3: 5, 0x4: 1 << 20}
    session.receive(peer.settings(ack=True))
    assert len(handler.named("settings_acked")) == 2


def test_goaway_from_the_peer_reaches_the_handler(twin):
    session, handler, _, _ = start_server(twin)
    session.receive(b"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    assert handler.named("goaway") == [("goaway", NO_ERROR, 0)]


# -- client role, and each build against the other

def _cross():
    mods = ["dataplane.http._h2_py"]
    if not extensions_disabled():
        mods.append("dataplane.http._h2_c")
    return [pytest.param(c, s, id=f"{c[-4:]}-to-{s[-4:]}") for c in mods for s in mods]


@pytest.mark.parametrize(("client_name", "server_name"), _cross())
def test_client_and_server_sessions_talk(client_name, server_name):
    client, ch, server, sh = pair(load(client_name), load(server_name))
    pump(client, server)
    sid = client.send_request([*REQUEST[:1], (b":scheme", b"http"), (b":path", b"/up"), (b":authority", b"a")])
    client.send_data(sid, b"ping", end_stream=True)
    pump(client, server)
    assert sh.named("headers")[0][1] == sid and sh.named("data") == [("data", sid, b"ping")]
    server.consumed(sid, 4)
    body = b"r" * 100_000  # more than one window: sent as the client consumes
    server.send_headers(sid, [(b":status", b"200"), (b"content-length", b"100000")])
    left = body
    acked = 0
    for _ in range(100):
        room = server.send_window(sid)
        if room:
            server.send_data(sid, left[:room], end_stream=len(left) <= room)
            left = left[room:]
        pump(client, server)
        received = sum(len(c[2]) for c in ch.named("data"))
        client.consumed(sid, received - acked)  # the consumer took every byte it was given
        acked = received
        if not left:
            break
    pump(client, server)
    assert ch.named("headers")[0] == ("headers", sid, [(b":status", b"200"), (b"content-length", b"100000")])
    assert b"".join(c[2] for c in ch.named("data")) == body
    assert ch.calls[-1] == ("end", sid)


@pytest.mark.parametrize(("client_name", "server_name"), _cross())
def test_oversized_response_head_resets_the_client_stream(client_name, server_name):
    client, ch, server, sh = pair(load(client_name), load(server_name))
    client = load(client_name).Session(ch, client=True, limits=H2Limits(max_header_list_size=512))
    client.initiate()
    pump(client, server)
    sid = client.send_request(REQUEST, end_stream=True)
    pump(client, server)
    server.send_headers(sid, [(b":status", b"200"), (b"x-big", b"b" * 1000)], end_stream=True)
    client.receive(server.data_to_send())
    assert ch.named("headers") == []
    assert ch.named("reset") == [("reset", sid, PROTOCOL_ERROR)]
    assert rst_codes(client.data_to_send()) == {sid: PROTOCOL_ERROR}


def test_after_a_graceful_goaway_new_streams_are_not_served_and_the_session_closes_when_done(twin):
    session, handler, peer, _ = start_server(twin, ack=True)
    session.receive(peer.headers(1, REQUEST, end_stream=True))
    session.goaway()
    session.data_to_send()
    session.receive(peer.headers(3, REQUEST, end_stream=True))
    assert [c[1] for c in handler.named("headers")] == [1]
    assert not session.closed
    session.send_headers(1, [(b":status", b"204")], end_stream=True)
    session.data_to_send()
    assert session.closed


def test_goaway_from_the_peer_lets_the_open_stream_finish(twin):
    session, handler, peer, _ = start_server(twin, ack=True)
    session.receive(peer.headers(1, REQUEST, end_stream=True))
    session.receive(b"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    assert handler.calls[-1] == ("goaway", NO_ERROR, 0)
    assert not session.closed
    session.send_headers(1, [(b":status", b"200")])
    session.send_data(1, b"done", end_stream=True)
    out = frames(session.data_to_send())
    assert [(f.type, f.stream_id) for f in out] == [(0x1, 1), (0x0, 1)] and "END_STREAM" in out[-1].flags
    assert session.closed


def test_a_client_learns_how_many_streams_the_server_takes(twin):
    client = twin.Session(Recorder(), client=True)
    client.initiate()
    assert client.peer_max_streams == 100  # not heard from yet: libnghttp2's assumption, in both builds
    server = twin.Session(Recorder(), limits=H2Limits(max_concurrent_streams=3))
    server.initiate()
    pump(client, server)
    assert client.peer_max_streams == 3
    # SETTINGS that name no limit: unlimited (RFC 9113 §6.5.2)
    other = twin.Session(Recorder(), client=True)
    other.initiate()
    other.receive(Peer.settings())
    assert other.peer_max_streams == 2**31 - 1


@pytest.mark.parametrize("sent", [True, False], ids=["in-flight", "not-written-yet"])
@pytest.mark.parametrize(("client_name", "server_name"), _cross())
def test_streams_past_a_goaway_are_refused_to_the_client(client_name, server_name, sent):
    # a request that crossed the server's GOAWAY (or was still to be written when it came) was never seen
    # by the server: the client hears REFUSED_STREAM (RFC 9113 §6.8), so a proxy may send it elsewhere
    # rather than wait for an answer that will never come
    client, ch, server, sh = pair(load(client_name), load(server_name))
    pump(client, server)
    first = client.send_request(REQUEST, end_stream=True)
    pump(client, server)
    server.goaway()
    goaway = server.data_to_send()
    second = client.send_request(REQUEST, end_stream=True)
    crossing = client.data_to_send() if sent else b""
    client.receive(goaway)  # it names the first stream as the last one served
    assert ch.named("goaway") == [("goaway", NO_ERROR, first)]
    later = client.data_to_send()  # libnghttp2 drops a HEADERS not written yet only here
    assert ch.named("reset") == [("reset", second, REFUSED_STREAM)]
    server.receive(crossing + later)
    assert [c[1] for c in sh.named("headers")] == [first]
    server.send_headers(first, [(b":status", b"204")], end_stream=True)
    pump(client, server)
    assert ch.named("headers")[-1][1] == first and ("end", first) in ch.calls
    assert ch.named("reset") == [("reset", second, REFUSED_STREAM)]  # told once
