"""In-test stand-ins for the control plane: a directory the activator follows, a stat sink."""

from __future__ import annotations

import asyncio
import copy

from aiohttp import WSMsgType, web

from dataplane.stats.wire import decode_messages


async def serve_app(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on a free loopback port; the runner (to clean up) and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


class DirectoryServer:
    """Serves directory snapshots with long-polling, as the local control plane does."""

    def __init__(self) -> None:
        self.doc = {"version": 0, "revisions": [], "routes": []}
        self.changed = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> DirectoryServer:
        app = web.Application()
        app.router.add_get("/directory", self.handle)
        self.runner, self.port = await serve_app(app)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/directory"

    async def handle(self, request: web.Request) -> web.Response:
        known = int(request.query.get("version", "-1"))
        wait = float(request.query.get("wait", "30"))
        if known == self.doc["version"]:
            try:
                await asyncio.wait_for(self.changed.wait(), wait)
            except asyncio.TimeoutError:
                pass
        return web.json_response(self.doc)

    def publish(self, revisions: list, routes: list | None = None, activators: list[str] | None = None) -> None:
        self.doc = {"version": self.doc["version"] + 1, "revisions": copy.deepcopy(revisions), "routes": copy.deepcopy(routes or [])}
        if activators is not None:
            self.doc["activators"] = list(activators)
        self.changed.set()
        self.changed = asyncio.Event()

    async def stop(self) -> None:
        self.changed.set()
        if self.runner is not None:
            await self.runner.cleanup()


class StatSink:
    """The autoscaler's stat server as the activator sees it: a WebSocket taking WireStatMessages."""

    def __init__(self) -> None:
        self.messages = []
        self.arrived = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> StatSink:
        app = web.Application()
        app.router.add_get("/", self.handle)
        self.runner, self.port = await serve_app(app)
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                self.messages.extend(decode_messages(msg.data))
                self.arrived.set()
        return ws

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.shutdown()
            await self.runner.cleanup()
