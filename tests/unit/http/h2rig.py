"""A peer for socket-free HTTP/2 session tests.

The bytes a test sends are written with hyperframe's frame classes, hpack's
encoder or by hand, never with the session under test; what the session writes
back is split into frames by hyperframe.
"""

from __future__ import annotations

import struct

from hpack import Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from dataplane.http.h2limits import PREFACE

REQUEST = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"example.com")]


class Recorder:
    """A session handler that records every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.raise_on: str | None = None

    def _record(self, name, *args):
        self.calls.append((name, *args))
        if name == self.raise_on:
            raise RuntimeError(f"handler failed in {name}")

    def on_headers(self, stream_id, headers):
        self._record("headers", stream_id, list(headers))

    def on_data(self, stream_id, data):
        self._record("data", stream_id, bytes(data))

    def on_trailers(self, stream_id, headers):
        self._record("trailers", stream_id, list(headers))

    def on_end(self, stream_id):
        self._record("end", stream_id)

    def on_reset(self, stream_id, error_code):
        self._record("reset", stream_id, error_code)

    def on_goaway(self, error_code, last_stream_id):
        self._record("goaway", error_code, last_stream_id)

    def on_settings_acked(self):
        self._record("settings_acked")

    def on_window_update(self, stream_id):
        self._record("window_update", stream_id)

    def named(self, name):
        return [c for c in self.calls if c[0] == name]


def frames(data: bytes) -> list[Frame]:
    """Split bytes written by a session into frames."""
    out = []
    view = memoryview(data)
    while view:
        frame, length = Frame.parse_frame_header(view[:9])
        frame.parse_body(view[9 : 9 + length])
        out.append(frame)
        view = view[9 + length :]
    return out


def goaway_code(data: bytes) -> int | None:
    """The error code of the GOAWAY among ``data``'s frames, or None."""
    codes = [f.error_code for f in frames(data) if f.type == 0x7]
    return codes[-1] if codes else None


def rst_codes(data: bytes) -> dict[int, int]:
    return {f.stream_id: f.error_code for f in frames(data) if f.type == 0x3}


def raw(frame_type: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    """A frame written by hand, whatever its payload's length."""
    length = len(payload)
    return struct.pack(">BHBBL", length >> 16, length & 0xFFFF, frame_type, flags, stream_id) + payload


class Peer:
    """The far side of a session: encodes header blocks and writes frames."""

    def __init__(self) -> None:
        self.encoder = Encoder()

    def block(self, headers) -> bytes:
        return self.encoder.encode(headers, huffman=False)

    def headers(self, stream_id, headers, end_stream=True, end_headers=True) -> bytes:
        f = HeadersFrame(stream_id)
        f.data = self.block(headers)
        if end_stream:
            f.flags.add("END_STREAM")
        if end_headers:
            f.flags.add("END_HEADERS")
        return f.serialize()

    @staticmethod
    def data(stream_id, payload, end_stream=False) -> bytes:
        f = DataFrame(stream_id)
        f.data = payload
        if end_stream:
            f.flags.add("END_STREAM")
        return f.serialize()

    @staticmethod
    def continuation(stream_id, payload, end_headers=False) -> bytes:
        f = ContinuationFrame(stream_id)
        f.data = payload
        if end_headers:
            f.flags.add("END_HEADERS")
        return f.serialize()

    @staticmethod
    def rst(stream_id, code=0x8) -> bytes:
        f = RstStreamFrame(stream_id)
        f.error_code = code
        return f.serialize()

    @staticmethod
    def settings(ack=False, **values) -> bytes:
        f = SettingsFrame(0)
        if ack:
            f.flags.add("ACK")
        for key, value in values.items():
            f.settings[getattr(SettingsFrame, key.upper())] = value
        return f.serialize()

    @staticmethod
    def window_update(stream_id, increment) -> bytes:
        f = WindowUpdateFrame(stream_id)
        f.window_increment = increment
        return f.serialize()


def start_server(module, limits=None, clock=None, ack=False):
    """A server session that has read a client's preface; returns (session, handler, peer, output)."""
    handler = Recorder()
    kwargs = {}
    if limits is not None:
        kwargs["limits"] = limits
    if clock is not None:
        kwargs["clock"] = clock
    session = module.Session(handler, **kwargs)
    session.initiate()
    peer = Peer()
    session.receive(PREFACE + Peer.settings() + (Peer.settings(ack=True) if ack else b""))
    out = session.data_to_send()
    return session, handler, peer, out


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
