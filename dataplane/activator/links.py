"""The activator's link to the autoscaler it reports to."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import orjson

from dataplane.stats.wire import WireStatMessage, encode_messages

log = logging.getLogger("dataplane.activator")
MAX_BACKOFF = 2.0
MAX_PENDING_EVENTS = 1000


class AutoscalerLink:
    """A WebSocket to the autoscaler's stat server carrying protobuf ``WireStatMessages``.

    Events (``ActivatorEvents``) go as a JSON text frame ``{"events": [...]}``; a stat server
    that does not know them reads it as a frame without messages.
    """

    def __init__(self, url: str, token: str = ""):
        self.url = url
        # `dataplane up`'s stat server takes only the activator it started, which holds its token
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
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
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.ws_connect(self.url, heartbeat=10.0, headers=self.headers) as ws:
                        self.connected = True
                        backoff = 0.1
                        while True:
                            if not self.pending and not self.events:
                                self.wake.clear()
                                await self.wake.wait()
                            if self.pending:
                                batch, self.pending = list(self.pending.values()), {}
                                await ws.send_bytes(encode_messages(batch))
                                self.sent += len(batch)
                            if self.events:
                                events, self.events = self.events, []
                                await ws.send_str(orjson.dumps({"events": events}).decode())
                except aiohttp.WSServerHandshakeError as exc:
                    # refused rather than unreachable: retrying will not help until someone fixes the token
                    level = logging.WARNING if exc.status in (401, 403) else logging.DEBUG
                    log.log(level, "autoscaler %s refused the stat connection: %s %s", self.url, exc.status, exc.message)
                except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
                    log.debug("autoscaler %s: %s", self.url, exc)
                finally:
                    self.connected = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 1.3, MAX_BACKOFF)

    async def flush(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self.pending or self.events) and self.connected and loop.time() < deadline:
            await asyncio.sleep(0.01)
