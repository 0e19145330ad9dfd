"""The autoscaler's stat WebSocket over a loopback socket: who may push, and event frames beside stats."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from dataplane.autoscaler.api import build_app
from tests.unit.autoscaler.test_service_api import frame, info, service_with


async def test_stat_socket_refuses_browsers_and_carries_events_from_activators():
    """A web page can open a WebSocket to loopback; only clients without Origin (activators) may push."""
    service, _ = service_with(info("a"))
    heard: list[list[dict]] = []
    server = TestServer(build_app(service, on_events=heard.append), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(server.make_url("/stats"), headers={"Origin": "http://evil.example"})
            assert refused.value.status == 403
            event = {"type": "shed", "namespace": "default", "name": "a", "requests": 2}
            async with session.ws_connect(server.make_url("/stats")) as ws:
                await ws.send_str(orjson.dumps({"events": [event]}).decode())
                await ws.send_bytes(frame(("default", "a", 1.0)))
                for _ in range(100):
                    if heard and service.stats.received:
                        break
                    await asyncio.sleep(0.01)
        assert heard == [[event]] and service.stats.received == 1
    finally:
        await server.close()
