"""Listening sockets for the engine, and graceful shutdown of their connections."""

from __future__ import annotations

import asyncio
import socket

from dataplane.http.engine import ClientConnection, EngineConfig


class ConnectionSet:
    """The live client connections of a server, so shutdown can close idle ones."""

    def __init__(self) -> None:
        self.live: set = set()  # ClientConnection, or H2ServerConnection once a client spoke HTTP/2
        self._empty: asyncio.Event | None = None

    def add(self, conn: ClientConnection) -> None:
        self.live.add(conn)

    def discard(self, conn: ClientConnection) -> None:
        self.live.discard(conn)
        if not self.live and self._empty is not None:
            self._empty.set()

    def close_idle(self) -> None:
        """Close connections between requests; busy ones close after their response.
        HTTP/2 connections get GOAWAY and close once their open streams are answered."""
        for conn in list(self.live):
            drain = getattr(conn, "drain", None)
            if drain is not None:
                drain()
                continue
            conn.keep_alive = False
            if conn.head is None and conn.transport is not None:
                conn.transport.close()

    def drain_http2(self) -> None:
        """GOAWAY on every HTTP/2 connection now: clients open no new streams on them."""
        for conn in list(self.live):
            drain = getattr(conn, "drain", None)
            if drain is not None:
                drain()

    async def wait_empty(self) -> None:
        if not self.live:
            return
        self._empty = asyncio.Event()
        await self._empty.wait()


def http2_on_demand(loop: asyncio.AbstractEventLoop, policy, config: EngineConfig):
    """What ``EngineConfig.http2`` takes, loading the HTTP/2 protocol (``h2downstream``) at the first
    connection that opens with the preface: a process only ever spoken to in HTTP/1.1 never carries
    the session (about 1.3 MB resident)."""
    handler = None

    def take_over(transport: asyncio.Transport, data: bytes) -> None:
        nonlocal handler
        if handler is None:
            from dataplane.http.h2downstream import http2_handler

            handler = http2_handler(loop, policy, config)
        handler(transport, data)

    return take_over


async def listen(
    loop: asyncio.AbstractEventLoop,
    policy,
    host: str,
    port: int,
    config: EngineConfig = EngineConfig(),
    backlog: int = 2048,
) -> asyncio.AbstractServer:
    """Serve ``policy`` on ``host:port`` with the engine's client protocol."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return await loop.create_server(lambda: ClientConnection(loop, policy, config), sock=sock, backlog=backlog)
