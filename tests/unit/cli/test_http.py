"""The blocking control API client: error bodies, odd answers, server URL resolution."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from dataplane.cli.http import ApiError, Client, Unreachable, path, server_url


@pytest.fixture
async def odd_server():
    async def text_error(_request):
        return web.Response(status=500, text="upstream exploded")

    async def empty_error(_request):
        return web.Response(status=503)

    async def not_json(_request):
        return web.Response(text="<html>")

    async def details(_request):
        return web.json_response({"error": "bad", "details": ["first", {"path": "spec", "message": "wrong"}]}, status=422)

    app = web.Application()
    app.router.add_get("/v1/text", text_error)
    app.router.add_get("/v1/empty", empty_error)
    app.router.add_get("/v1/html", not_json)
    app.router.add_get("/v1/details", details)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield Client(f"http://{host}:{port}")
    await runner.cleanup()


@pytest.mark.parametrize(("target", "status", "message", "details"), [
    ("/v1/text", 500, "upstream exploded", []),
    ("/v1/empty", 503, "the server responded with 503 Service Unavailable", []),
    ("/v1/html", 200, "the server sent a response that is not JSON (6 bytes)", []),
    ("/v1/details", 422, "bad", ["first", {"path": "spec", "message": "wrong"}]),
])
async def test_errors(odd_server, target, status, message, details):
    with pytest.raises(ApiError) as caught:
        await asyncio.to_thread(odd_server.get, target)
    assert (caught.value.status, caught.value.message, caught.value.details) == (status, message, details)


def test_server_url(monkeypatch):
    monkeypatch.delenv("DATAPLANE_SERVER", raising=False)
    assert server_url(None) == "http://127.0.0.1:8081"
    monkeypatch.setenv("DATAPLANE_SERVER", "10.0.0.1:9000")
    assert server_url(None) == "http://10.0.0.1:9000"
    assert server_url("https://cp.example") == "https://cp.example"


def test_invalid_url():
    with pytest.raises(Unreachable, match="invalid server URL"):
        Client("ftp://x")


def test_path_escapes_segments():
    assert path("pods", "default", "a b/c", "log") == "/v1/pods/default/a%20b%2Fc/log"
