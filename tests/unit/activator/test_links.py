"""The activator's WebSocket to the autoscaler, against real loopback servers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging

import orjson
import pytest
from aiohttp import WSMsgType, web

from dataplane.activator import links
from dataplane.activator.links import AutoscalerLink, check_ws_url
from dataplane.stats.wire import Stat, WireStatMessage, decode_messages


class StatServer:
    """An aiohttp WebSocket server that records frames, as the autoscaler's stat server reads them."""

    def __init__(self, token: str = "", heartbeat: float | None = None):
        self.token = token
        self.heartbeat = heartbeat
        self.frames: list = []
        self.handshakes: list[dict] = []
        self.got = asyncio.Event()

    async def handle(self, request: web.Request):
        self.handshakes.append(dict(request.headers))
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401, text="a stat sender must present the token")
        ws = web.WebSocketResponse(heartbeat=self.heartbeat)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                self.frames.append(msg.data)
                self.got.set()
        return ws

    async def __aenter__(self):
        app = web.Application()
        app.router.add_get("/stats", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/stats"
        return self

    async def __aexit__(self, *exc):
        await self.runner.cleanup()


def message(name: str = "hello-00001", concurrency: float = 2.0) -> WireStatMessage:
    return WireStatMessage("default", name, Stat(pod_name="activator", average_concurrent_requests=concurrency))


async def running(link: AutoscalerLink):
    return asyncio.get_running_loop().create_task(link.run())


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def until(predicate, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_stats_go_as_binary_frames_and_events_as_json_text():
    async with StatServer(token="s3cret") as server:
        link = AutoscalerLink(server.url, "s3cret")
        task = await running(link)
        try:
            link.send([message(concurrency=1.0), message(concurrency=3.0), message("other-00001")])
            await until(lambda: server.frames)
            link.send_events([{"reason": "ColdStart", "revision": "hello-00001"}])
            await until(lambda: len(server.frames) == 2)
        finally:
            await stop(task)
    stats = decode_messages(server.frames[0])
    # one report per revision waits at most: the newest
    assert sorted((m.name, m.stat.average_concurrent_requests) for m in stats) == [("hello-00001", 3.0), ("other-00001", 2.0)]
    assert orjson.loads(server.frames[1]) == {"events": [{"reason": "ColdStart", "revision": "hello-00001"}]}
    assert server.handshakes[0]["Authorization"] == "Bearer s3cret"
    assert "Origin" not in server.handshakes[0]  # a browser's handshake carries one; the stat server refuses those
    assert link.sent == 2


async def test_a_refused_token_is_a_warning_naming_the_status(caplog):
    caplog.set_level(logging.WARNING, "dataplane.activator")
    async with StatServer(token="right") as server:
        link = AutoscalerLink(server.url, "wrong")
        task = await running(link)
        try:
            link.send([message()])
            await until(lambda: any("401" in r.getMessage() for r in caplog.records))
        finally:
            await stop(task)
    assert server.frames == []
    assert "a stat sender must present the token" in caplog.records[0].getMessage()
    assert not link.connected


async def test_the_link_answers_the_servers_pings_and_stays_up():
    async with StatServer(heartbeat=0.1) as server:  # aiohttp closes a socket whose pong is late
        link = AutoscalerLink(server.url)
        task = await running(link)
        try:
            await until(lambda: link.connected)
            await asyncio.sleep(0.5)  # several server pings
            link.send([message()])
            await until(lambda: server.frames)
        finally:
            await stop(task)
    assert len(server.handshakes) == 1  # never had to reconnect


async def test_a_server_that_stops_answering_is_left_and_the_link_reconnects(monkeypatch):
    monkeypatch.setattr(links, "HEARTBEAT", 0.1)
    accepted: list[asyncio.StreamWriter] = []

    async def mute(reader, writer):
        # accepts the handshake, then never reads again: no pong ever comes back
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key"))
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        accepted.append(writer)
        while await reader.read(65536):  # pings are read and never answered
            pass
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = AutoscalerLink(f"ws://127.0.0.1:{port}/stats")
    task = await running(link)
    try:
        await until(lambda: len(accepted) >= 2)  # the first was given up, a second opened
    finally:
        await stop(task)
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_closed_connection_is_noticed_at_once_and_reopened():
    async with StatServer() as server:
        link = AutoscalerLink(server.url)
        task = await running(link)
        try:
            await until(lambda: link.connected)
            for ws_conn in list(server.runner.server.connections):
                ws_conn.transport.close()
            await until(lambda: len(server.handshakes) == 2)
            link.send([message()])
            await until(lambda: server.frames)
        finally:
            await stop(task)


@pytest.mark.parametrize(("url", "message_part"), [("wss://h/stats", "ws://host"), ("http://h/stats", "ws://host"),
                                                   ("ws:///stats", "ws://host"), ("ws://h:70000/x", "out of range")])
def test_only_plain_ws_urls_are_taken(url, message_part):
    with pytest.raises(ValueError, match=message_part):
        check_ws_url(url)
