"""The gRPC health check against real servers: grpcio with grpcio's health servicer, an HTTP/1.1
app, and nothing at all; each on both HTTP/2 sessions, in one process."""

from __future__ import annotations

import asyncio
import socket
import sys

import grpc
import pytest

from dataplane.http.grpcprobe import grpc_health
from dataplane.ports import free_port
from tests.support import ROOT, Proc, start_testapp
from tests.twins import load, twin_params


@pytest.fixture(params=twin_params("dataplane.http._h2"))
def session_class(request):
    return load(request.param).Session


@pytest.fixture(scope="module")
def grpc_app():
    port = free_port()
    app = Proc([sys.executable, str(ROOT / "tests" / "apps" / "grpcapp.py"), str(port)], port=port)
    try:
        yield port
    finally:
        app.stop()


def set_health(port: int, service: str, status: str) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        channel.unary_unary("/test.Echo/SetHealth")(f"{service}={status}".encode(), timeout=5)


@pytest.mark.parametrize("service", ["", "test.Echo"])
async def test_serving_and_not_serving(grpc_app, session_class, service):
    try:
        result = await grpc_health("127.0.0.1", grpc_app, service, 2.0, session_class=session_class)
        assert (result.serving, result.detail) == (True, "SERVING")
        await asyncio.to_thread(set_health, grpc_app, service, "NOT_SERVING")
        result = await grpc_health("127.0.0.1", grpc_app, service, 2.0, session_class=session_class)
        assert (result.serving, result.detail) == (False, "NOT_SERVING")
    finally:
        await asyncio.to_thread(set_health, grpc_app, service, "SERVING")


async def test_an_unknown_service_is_not_found(grpc_app, session_class):
    result = await grpc_health("127.0.0.1", grpc_app, "no.such.Service", 2.0, session_class=session_class)
    assert (result.serving, result.detail) == (False, "grpc-status 5")


async def test_an_http1_server_is_not_ready(session_class):
    app = await asyncio.to_thread(start_testapp)
    try:
        result = await grpc_health("127.0.0.1", app.port, "", 2.0, session_class=session_class)
    finally:
        app.stop()
    assert result.serving is False
    assert "before the answer" in result.detail or "not an h2c server" in result.detail


async def test_nothing_listening_is_refused_fast(session_class):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ConnectionRefusedError):
            await grpc_health("127.0.0.1", sock.getsockname()[1], "", 5.0, session_class=session_class)
        assert loop.time() - started < 0.5
