"""Limits and settings of the proxy engine, shared by both builds.

A module of its own so that the compiled engine does not import the pure one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

# request bodies kept for a retry on a fresh connection when a pooled one turns out stale
RETRY_BUFFER_LIMIT = 64 * 1024
# only these may be replayed when a pooled connection turns out closed (RFC 9110 §9.2.2): the
# server may have acted on a POST before closing without an answer
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})

# new upstream connections being opened at once per pool; more wait their turn, in order: a burst
# meeting an empty pool (a pod just ready) sends its first requests after a few connects, not all
MAX_CONNECTING = 8

# pieces written together are joined up to this many bytes: each transport.write is a send()
# with uvloop, and below this size the copy costs less than a second system call
JOIN_LIMIT = 16 * 1024


@dataclass(frozen=True)
class EngineConfig:
    """Limits of the proxy engine."""

    max_head_size: int = 64 * 1024
    """Largest request or response head, in bytes (431 / 502 beyond)."""
    max_headers: int = 100
    """Most field lines in a request head (431 beyond)."""
    header_timeout: float = 60.0
    """Seconds a client may take to send a complete request head (408 after)."""
    keepalive_timeout: float = 75.0
    """Seconds an idle keep-alive client connection is kept open."""
    max_buffered_body: int = 1024 * 1024
    """Bytes of request body held while a request waits; reading pauses beyond."""
    http2: Callable[[asyncio.Transport, bytes], None] | None = None
    """Takes over a connection that opens with HTTP/2's preface: called with the transport
    and the bytes read so far. None: such a connection is refused (505), as before."""
