"""A small HTTP/1.1 GET for the control links of per-pod and per-node processes.

The activator and the autoscaler long-poll the directory for snapshots. aiohttp's
client would do, but importing it costs such a process about 13 MB of its 25, for
one request every 30 seconds; this reads the answer with the engine's own strict
response parser instead. One connection per call, ``Connection: close``: a long
poll holds it for its whole wait, so keep-alive would save nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

from dataplane.http.dechunk import Dechunker
from dataplane.http.errors import HttpError
from dataplane.http.parser import ChunkedScanner, parse_response_head

MAX_HEAD = 65536
MAX_BODY = 64 << 20  # a directory snapshot of every revision and pod; far above any real one


class FetchError(Exception):
    """The request could not be made or its answer could not be read (never an HTTP status)."""


@dataclass(frozen=True)
class Reply:
    """What came back: the status, the header lines (as received) and the whole body."""

    status: int
    headers: list
    body: bytes


def split_url(url: str) -> tuple[str, int, bytes]:
    """``http://host[:port]/path?query`` as ``(host, port, target)``; only plain http is spoken."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise FetchError(f"{url!r}: only http://host[:port]/path URLs are supported")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise FetchError(f"{url!r}: {exc}") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, target.encode()


async def fetch(url: str, timeout: float, headers: tuple[tuple[bytes, bytes], ...] = ()) -> Reply:
    """GET ``url`` and read the whole answer within ``timeout`` seconds.

    Raises ``FetchError`` for a refused or cut connection, a malformed answer or a
    body over ``MAX_BODY``; ``TimeoutError`` when the time runs out."""
    host, port, target = split_url(url)
    async with asyncio.timeout(timeout):
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            raise FetchError(f"{host}:{port}: {exc.strerror or exc}") from None
        try:
            authority = host if port == 80 else f"{host}:{port}"
            head = [b"GET ", target, b" HTTP/1.1\r\nHost: ", authority.encode(), b"\r\nConnection: close\r\n"]
            for name, value in headers:
                head += [name, b": ", value, b"\r\n"]
            head.append(b"\r\n")
            writer.write(b"".join(head))
            return await _read_reply(reader)
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise FetchError(f"{host}:{port}: {exc}") from None
        finally:
            writer.close()


async def _read_reply(reader: asyncio.StreamReader) -> Reply:
    buf = bytearray()
    while True:
        try:
            head = parse_response_head(buf, MAX_HEAD) if buf else None
        except HttpError as exc:
            raise FetchError(f"bad response: {exc.reason}") from None
        if head is not None:
            if not 100 <= head.status < 200:
                break
            del buf[: head.head_len]  # an interim answer: the real one follows
            continue
        chunk = await reader.read(65536)
        if not chunk:
            raise FetchError("connection closed before a complete response head")
        buf += chunk
    rest = bytes(buf[head.head_len :])
    if head.chunked:
        return Reply(head.status, head.headers, await _read_chunked(reader, rest))
    if head.content_length >= 0:
        if head.content_length > MAX_BODY:
            raise FetchError(f"response body of {head.content_length} bytes is over {MAX_BODY}")
        need = head.content_length - len(rest)
        body = rest[: head.content_length] if need <= 0 else rest + await reader.readexactly(need)
        return Reply(head.status, head.headers, body)
    body = bytearray(rest)
    while True:
        if len(body) > MAX_BODY:
            raise FetchError(f"response body over {MAX_BODY} bytes")
        chunk = await reader.read(65536)
        if not chunk:
            break
        body += chunk
    return Reply(head.status, head.headers, bytes(body))


async def _read_chunked(reader: asyncio.StreamReader, data: bytes) -> bytes:
    # the strict scanner finds the end (and refuses bad framing); the body is decoded once whole
    scanner = ChunkedScanner()
    raw = bytearray()
    while True:
        start = len(raw)
        raw += data
        try:
            end = scanner.feed(raw, start)
        except HttpError as exc:
            raise FetchError(f"bad chunked body: {exc.reason}") from None
        if scanner.done:
            return Dechunker().feed(bytes(raw[:end]))
        if len(raw) > MAX_BODY:
            raise FetchError(f"response body over {MAX_BODY} bytes")
        data = await reader.read(65536)
        if not data:
            raise FetchError("connection closed inside a chunked body")
