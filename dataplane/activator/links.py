"""The activator's link to the autoscaler it reports to."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from dataplane.stats.wire import WireStatMessage, encode_messages

log = logging.getLogger("dataplane.activator")
MAX_BACKOFF = 2.0


class AutoscalerLink:
    """A WebSocket to the autoscaler's stat server carrying protobuf ``WireStatMessages``."""

    def __init__(self, url: str, max_pending: int = 1000):
        self.url = url
        self.pending: list[WireStatMessage] = []
        self.max_pending = max_pending
        self.wake = asyncio.Event()
        self.connected = False
        self.sent = 0

    def send(self, messages: list[WireStatMessage]) -> None:
        if not self.url:
            return
        self.pending.extend(messages)
        if len(self.pending) > self.max_pending:  # keep the newest: older stats are stale anyway
            del self.pending[: len(self.pending) - self.max_pending]
        self.wake.set()

    async def run(self) -> None:
        if not self.url:
            return
        backoff = 0.1
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.ws_connect(self.url, heartbeat=10.0) as ws:
                        self.connected = True
                        backoff = 0.1
                        while True:
                            if not self.pending:
                                self.wake.clear()
                                await self.wake.wait()
                            batch, self.pending = self.pending, []
                            await ws.send_bytes(encode_messages(batch))
                            self.sent += len(batch)
                except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
                    log.debug("autoscaler %s: %s", self.url, exc)
                finally:
                    self.connected = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 1.3, MAX_BACKOFF)

    async def flush(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.pending and self.connected and loop.time() < deadline:
            await asyncio.sleep(0.01)
