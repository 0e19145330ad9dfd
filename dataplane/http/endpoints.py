"""A policy that answers requests in-process: admin, stats and metrics endpoints.

Small servers that are not on the request path still use the engine, so the
sidecar needs no second HTTP stack (and its memory).
"""

from __future__ import annotations

from collections.abc import Callable

from dataplane.http.server import ConnectionSet

# a handler gets the connection and the request head, and must answer with conn.respond(...)
Handler = Callable[[object, object], None]


class LocalEndpoints:
    """Route by path (query ignored) to handlers; unknown paths get 404."""

    def __init__(self, routes: dict[bytes, Handler], fallback: Handler | None = None):
        self.routes = routes
        self.fallback = fallback
        self.connections = ConnectionSet()

    def connection_made(self, conn) -> None:
        self.connections.add(conn)

    def connection_lost(self, conn) -> None:
        self.connections.discard(conn)

    def on_request(self, conn, head) -> None:
        path = head.target.split(b"?", 1)[0]
        handler = self.routes.get(path, self.fallback)
        if handler is None:
            conn.respond(404, b"not found: " + path)
            return
        handler(conn, head)

    def on_admitted(self, conn) -> None:  # never queues
        pass

    def on_response_start(self, conn, status: int) -> None:
        pass

    def on_done(self, conn) -> None:
        pass

    def on_abort(self, conn) -> None:
        pass

    def on_rejected(self, conn, status: int) -> None:
        pass

    def on_upstream_error(self, conn, reason: str, retryable: bool) -> None:
        conn.fail(502, reason)

    def on_timeout(self, conn) -> None:
        conn.fail(504, "request timeout")
