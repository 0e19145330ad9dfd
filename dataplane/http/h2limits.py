"""Limits, error codes and errors of the HTTP/2 session, shared by both builds.

A module of its own so that the compiled session (``_h2_c``, on libnghttp2) and
its pure-Python twin (``_h2_py``, on ``h2``) enforce the same bounds with the
same error codes, whatever their library would do by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

# RFC 9113 §7 error codes
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
SETTINGS_TIMEOUT = 0x4
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
CONNECT_ERROR = 0xA
ENHANCE_YOUR_CALM = 0xB
INADEQUATE_SECURITY = 0xC
HTTP_1_1_REQUIRED = 0xD

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 7541 §4.1: each header field counts its name, its value and 32 bytes
FIELD_OVERHEAD = 32


class H2UsageError(Exception):
    """The session was asked for something HTTP/2 does not allow (a local bug, not the peer's)."""


class FlowControlError(H2UsageError):
    """More data than ``send_window(stream_id)`` allows was handed to ``send_data``."""


@dataclass(frozen=True)
class H2Limits:
    """What a session advertises to its peer and what it tolerates from it."""

    max_concurrent_streams: int = 100
    """Streams the peer may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). A stream
    past it before the peer acknowledged our SETTINGS gets RST_STREAM REFUSED_STREAM; after,
    the connection gets GOAWAY PROTOCOL_ERROR (RFC 9113 §5.1.2)."""
    initial_window_size: int = 65535
    """Bytes the peer may send on each stream before we acknowledge consumption."""
    max_frame_size: int = 16384
    """Largest frame payload we accept, in bytes (SETTINGS_MAX_FRAME_SIZE)."""
    max_header_list_size: int = 64 * 1024
    """Largest decoded header list, in bytes counted as RFC 7541 does (name + value + 32 per
    field). A request past it gets a 431 response from the session; a response past it
    resets the stream (PROTOCOL_ERROR); nothing reaches the handler either way."""
    header_bomb_factor: int = 4
    """A header list decoding to more than this many times ``max_header_list_size`` is an
    HPACK bomb: GOAWAY ENHANCE_YOUR_CALM, the connection ends."""
    header_table_size: int = 4096
    """HPACK dynamic table the peer's encoder may use, in bytes; a size update beyond it
    is a COMPRESSION_ERROR."""
    max_continuations: int = 8
    """CONTINUATION frames allowed after one HEADERS; more is GOAWAY ENHANCE_YOUR_CALM
    (CVE-2024-27316)."""
    max_header_block: int = 128 * 1024
    """Encoded bytes of one header block (HEADERS plus its CONTINUATIONs); more is GOAWAY
    ENHANCE_YOUR_CALM."""
    reset_burst: int = 200
    """Stream resets the peer may send in a burst (token bucket); one more is GOAWAY
    ENHANCE_YOUR_CALM (rapid reset, CVE-2023-44487)."""
    reset_rate: float = 33.0
    """Tokens per second the reset budget regains, up to ``reset_burst``."""

    @property
    def header_hard_limit(self) -> int:
        """Decoded header bytes past which a block is an HPACK bomb."""
        return self.max_header_list_size * self.header_bomb_factor


class ResetBudget:
    """Token bucket for peer-sent RST_STREAM frames, on the session's clock.

    nghttp2 keeps a bucket like this on its own monotonic clock; this one takes the
    session's clock so both builds (and the tests' fake clock) count alike.
    """

    __slots__ = ("burst", "rate", "tokens", "stamp", "clock")

    def __init__(self, burst: int, rate: float, clock) -> None:
        self.burst = burst
        self.rate = rate
        self.tokens = float(burst)
        self.clock = clock
        self.stamp = clock()

    def take(self) -> bool:
        """Spend one token; False when the budget is exhausted."""
        now = self.clock()
        elapsed = now - self.stamp
        if elapsed > 0:
            self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
            self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def goaway_frame(last_stream_id: int, error_code: int) -> bytes:
    """A GOAWAY frame, for when the library's own state can no longer write one."""
    return (
        b"\x00\x00\x08\x07\x00\x00\x00\x00\x00"
        + (last_stream_id & 0x7FFFFFFF).to_bytes(4, "big")
        + error_code.to_bytes(4, "big")
    )


def rst_frame(stream_id: int, error_code: int) -> bytes:
    """A RST_STREAM frame, for a stream the library already forgot."""
    return b"\x00\x00\x04\x03\x00" + (stream_id & 0x7FFFFFFF).to_bytes(4, "big") + error_code.to_bytes(4, "big")


def response_431() -> list[tuple[bytes, bytes]]:
    """The header block the session answers an oversized request with."""
    return [(b":status", b"431"), (b"content-length", b"0")]
