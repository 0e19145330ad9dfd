"""The activator's link to the autoscaler it reports to.

A WebSocket client on ``wsproto`` (sans-I/O framing) over asyncio streams. aiohttp's
client did the same job, but importing it made the activator, a per-node process
that sends one frame a second, about 13 MB larger (``loadtests/bench_activator.py``
reports the idle RSS).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import orjson
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from dataplane.stats.wire import WireStatMessage, encode_messages

log = logging.getLogger("dataplane.activator")
MAX_BACKOFF = 2.0
MAX_PENDING_EVENTS = 1000
HEARTBEAT = 10.0  # seconds between pings; a ping unanswered by the next one ends the connection
CONNECT_TIMEOUT = 10.0


class LinkRefused(Exception):
    """The stat server answered the handshake with an HTTP status instead of a WebSocket."""

    def __init__(self, status: int, body: bytes):
        super().__init__(f"{status} {body[:200].decode('utf-8', 'replace')}".strip())
        self.status = status


class LinkLost(Exception):
    """The connection ended or stopped answering."""


def check_ws_url(url: str) -> tuple[str, int, str]:
    """``ws://host[:port]/path`` as ``(host, port, target)``; ValueError names what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise ValueError(f"{url!r}: only ws://host[:port]/path URLs are supported")
    port = parts.port or 80  # ValueError for a bad port, with its own message
    return parts.hostname, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class AutoscalerLink:
    """A WebSocket to the autoscaler's stat server carrying protobuf ``WireStatMessages``.

    Events (``ActivatorEvents``) go as a JSON text frame ``{"events": [...]}``; a stat server
    that does not know them reads it as a frame without messages.
    """

    def __init__(self, url: str, token: str = ""):
        self.url = url
        # `dataplane up`'s stat server takes only the activator it started, which holds its token
        self.headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        self.pending: dict[tuple[str, str], WireStatMessage] = {}
        self.events: list[dict] = []
        self.wake = asyncio.Event()
        self.connected = False
        self.sent = 0

    def send(self, messages: list[WireStatMessage]) -> None:
        if not self.url:
            return
        # one report per revision waits at most: each is a whole window's average, so a backlog
        # sent at once would add up to many times the real load
        for message in messages:
            self.pending[(message.namespace, message.name)] = message
        self.wake.set()

    def send_events(self, events: list[dict]) -> None:
        """Queue events for the next frame (see ``dataplane.activator.events``)."""
        if not self.url or not events:
            return
        # a long disconnection keeps the newest ones only: they are for people reading, not for decisions
        self.events = (self.events + events)[-MAX_PENDING_EVENTS:]
        self.wake.set()

    async def run(self) -> None:
        if not self.url:
            return
        backoff = 0.1
        while True:
            try:
                await self._connection()
            except LinkRefused as exc:
                # refused rather than unreachable: retrying will not help until someone fixes the token
                level = logging.WARNING if exc.status in (401, 403) else logging.DEBUG
                log.log(level, "autoscaler %s refused the stat connection: %s", self.url, exc)
            except (OSError, TimeoutError, LinkLost, LocalProtocolError, RemoteProtocolError) as exc:
                log.debug("autoscaler %s: %s", self.url, exc)
            else:
                backoff = 0.1
            finally:
                self.connected = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 1.3, MAX_BACKOFF)

    async def _connection(self) -> None:
        host, port, target = check_ws_url(self.url)
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
        try:
            ws = WSConnection(ConnectionType.CLIENT)
            authority = host if port == 80 else f"{host}:{port}"
            writer.write(ws.send(Request(host=authority, target=target, extra_headers=self.headers)))
            await asyncio.wait_for(_handshake(ws, reader), CONNECT_TIMEOUT)
            self.connected = True
            await self._exchange(ws, reader, writer)
        finally:
            writer.close()

    async def _exchange(self, ws: WSConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        pongs = [0]  # pongs received, counted by the reader
        reading = loop.create_task(_read(ws, reader, writer, pongs, self.wake))
        pings = 0
        try:
            while True:
                if not self.pending and not self.events:
                    self.wake.clear()
                    try:
                        await asyncio.wait_for(self.wake.wait(), HEARTBEAT)
                    except TimeoutError:
                        if pongs[0] < pings:
                            raise LinkLost(f"no pong within {HEARTBEAT:g} s") from None
                        pings += 1
                        writer.write(ws.send(Ping()))
                if reading.done():
                    reading.result()  # raises what ended it
                    raise LinkLost("the stat server closed the connection")
                if self.pending:
                    batch, self.pending = list(self.pending.values()), {}
                    writer.write(ws.send(BytesMessage(data=encode_messages(batch))))
                    self.sent += len(batch)
                if self.events:
                    events, self.events = self.events, []
                    writer.write(ws.send(TextMessage(data=orjson.dumps({"events": events}).decode())))
                await writer.drain()
        finally:
            reading.cancel()

    async def flush(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self.pending or self.events) and self.connected and loop.time() < deadline:
            await asyncio.sleep(0.01)


async def _handshake(ws: WSConnection, reader: asyncio.StreamReader) -> None:
    status, body = 0, b""
    while True:
        data = await reader.read(65536)
        ws.receive_data(data or None)
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                return
            if isinstance(event, RejectConnection):
                status = event.status_code
                if not event.has_body:
                    raise LinkRefused(status, b"")
            elif isinstance(event, RejectData):
                body += event.data
                if event.body_finished:
                    raise LinkRefused(status, body)
        if not data:
            raise LinkLost("connection closed during the WebSocket handshake")


async def _read(ws: WSConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pongs: list, wake: asyncio.Event) -> None:
    """Answer the server's pings and close, count pongs; return when the connection ends."""
    try:
        while True:
            data = await reader.read(65536)
            ws.receive_data(data or None)
            for event in ws.events():
                if isinstance(event, Ping):
                    writer.write(ws.send(event.response()))
                elif isinstance(event, Pong):
                    pongs[0] += 1
                elif isinstance(event, CloseConnection):
                    if ws.state.name == "REMOTE_CLOSING":
                        writer.write(ws.send(event.response()))
                    return
            if not data:
                return
    finally:
        wake.set()  # the sender notices at once, not at its next heartbeat
