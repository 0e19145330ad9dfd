"""The stat server: activators push ``WireStatMessages`` over a WebSocket (Knative's port 8080).

Binary frames carry the protobuf; text frames carry the same messages in
proto3 JSON (``{"messages": [{"namespace", "name", "stat": {...}}]}``) for
tooling, or ``{"events": [...]}`` (the activator's cold starts and shed
requests), handed to ``on_events`` if set and otherwise ignored. A plain GET
(a probe) answers 200; a WebSocket handshake with an Origin (a browser) 403.
Stats are recorded as they arrive, at the service's clock: a sender's clock
could place them in buckets the windows have already passed.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from dataplane.autoscaler.service import AutoscalerService
from dataplane.stats.wire import Stat, WireStatMessage, decode_messages

log = logging.getLogger("dataplane.autoscaler")


def decode_json_messages(data: str | bytes) -> list[WireStatMessage]:
    """Decode proto3 JSON ``WireStatMessages``; ``ValueError`` names what is wrong."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"WireStatMessages: invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("WireStatMessages: must be a JSON object")
    items = doc.get("messages")
    if items is None:  # proto3 JSON: null or absent means empty
        items = []
    if not isinstance(items, list):
        raise ValueError("WireStatMessages.messages: must be a list")
    messages = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"WireStatMessages.messages[{i}]: must be an object")
        namespace = item.get("namespace") or ""
        name = item.get("name") or ""
        if not isinstance(namespace, str) or not isinstance(name, str):
            raise ValueError(f"WireStatMessages.messages[{i}]: namespace and name must be strings")
        raw = item.get("stat")
        if raw is not None and not isinstance(raw, dict):
            raise ValueError(f"WireStatMessages.messages[{i}].stat: must be an object")
        # Stat owns the proto3 JSON rules for its fields; hand it its object back.
        stat = None if raw is None else Stat.from_json(orjson.dumps(raw))
        messages.append(WireStatMessage(namespace, name, stat))
    return messages


MAX_EVENTS_PER_FRAME = 1000


def decode_events(doc: object) -> list[dict]:
    """The well-formed events of a decoded text frame: objects with string ``type``, ``namespace`` and ``name``."""
    items = doc.get("events") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return []
    return [
        e
        for e in items[:MAX_EVENTS_PER_FRAME]
        if isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ("type", "namespace", "name"))
    ]


class StatServer:
    """WebSocket handler feeding pushed stats into an ``AutoscalerService``."""

    def __init__(self, service: AutoscalerService, on_events: Callable[[list[dict]], None] | None = None) -> None:
        self.service = service
        self.on_events = on_events
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET ``/`` or ``/stats``: a WebSocket of stats, or 200 for a probe."""
        ws = web.WebSocketResponse(heartbeat=30.0)
        if not ws.can_prepare(request).ok:
            return web.Response(text="ok")
        if "Origin" in request.headers:
            # browsers always send Origin on a WebSocket handshake and activators never do: a web page
            # open on this machine must not push load (or event lines) into the autoscaler
            return web.Response(status=403, text="stat pushes are not accepted from browsers (Origin header present)")
        await ws.prepare(request)
        self._sockets.add(ws)
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                self.receive(msg.data, binary=True)
            elif msg.type == WSMsgType.TEXT:
                self.receive(msg.data, binary=False)
        return ws

    def receive(self, data: bytes | str, binary: bool) -> int:
        """Record one frame's messages; the number recorded (0 for an undecodable frame)."""
        if not binary and self.on_events is not None and '"events"' in data:
            try:
                events = decode_events(orjson.loads(data))
            except orjson.JSONDecodeError:
                events = []
            if events:
                self.on_events(events)
        try:
            messages = decode_messages(data) if binary else decode_json_messages(data)
        except ValueError as exc:
            self.service.stats.rejected_frames += 1
            log.debug("stat frame rejected: %s", exc)
            return 0
        # A sender that fell behind delivers its backlog in one frame: each report there averages a
        # whole window, so only the newest per revision and sender counts (adding them multiplied the load).
        latest: dict[tuple[str, str, str], WireStatMessage] = {}
        for message in messages:
            if message.stat is not None:
                latest[(message.namespace, message.name, message.stat.pod_name)] = message
        recorded = 0
        for message in latest.values():
            if self.service.record_pushed(message.namespace, message.name, message.stat):
                recorded += 1
        return recorded

    async def close_all(self, _app: web.Application | None = None) -> None:
        """Close open stat sockets (on shutdown: they would otherwise hold the server open)."""
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"autoscaler shutting down")
