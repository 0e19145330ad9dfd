"""The readiness probe's quick loopback check: a refused connect is known before the call returns."""

from __future__ import annotations

import asyncio
import socket

import pytest

from dataplane.http import probe
from dataplane.http.probe import connect_now
from dataplane.queueproxy.probespec import ProbeSpec
from dataplane.queueproxy.readiness import Refused, attempt, is_loopback


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock
    sock.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # bound, never listening: connects are refused


@pytest.mark.parametrize(("host", "expected"), [("127.0.0.1", True), ("127.3.4.5", True), ("::1", True), ("localhost", False), ("10.0.0.1", False), ("app", False)])
def test_only_loopback_literals_take_the_quick_check(host, expected):
    assert is_loopback(host) is expected


def test_connect_now_tells_listening_from_refused(listener):
    port = listener.getsockname()[1]
    assert connect_now("127.0.0.1", port) is True
    assert connect_now("127.0.0.1", closed_port()) is False


async def test_tcp_probe_passes_on_the_quick_connect(listener):
    assert await attempt(ProbeSpec(kind="tcp", port=listener.getsockname()[1]), 1.0) is True


async def test_refused_is_raised_for_every_kind_when_nothing_listens():
    port = closed_port()
    for kind in ("tcp", "http", "grpc"):
        with pytest.raises(Refused):
            await attempt(ProbeSpec(kind=kind, port=port), 1.0)


async def test_grpc_probe_asks_the_health_service_after_the_quick_connect(listener):
    # the port accepts, but nothing answers the health call: an open port is not a serving app
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await attempt(ProbeSpec(kind="grpc", port=listener.getsockname()[1]), 0.2) is False
    assert loop.time() - started < 1.0


async def test_http_probe_still_asks_the_app_after_the_quick_connect():
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n" if b"GET /bad " in head else b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    async def quick(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await serve(reader, writer)
        except asyncio.IncompleteReadError:  # the quick connect sends nothing
            writer.close()

    server = await asyncio.start_server(quick, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await attempt(ProbeSpec(kind="http", port=port, path="/ok"), 1.0) is True
        assert await attempt(ProbeSpec(kind="http", port=port, path="/bad"), 1.0) is False
    finally:
        server.close()
        await server.wait_closed()


def test_a_socket_connected_to_itself_is_not_a_listening_app(monkeypatch):
    class Unlucky(socket.socket):
        def connect(self, address):
            self.bind(address)  # the kernel's unlucky pick: the probed port as the source port
            super().connect(address)  # simultaneous open: connected, to itself

    port = closed_port()
    monkeypatch.setattr(probe.socket, "socket", Unlucky)
    assert connect_now("127.0.0.1", port) is False
