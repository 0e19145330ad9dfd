"""The autoscaler's HTTP face: stat WebSocket, decisions as JSON, health and Prometheus metrics.

    GET /, /stats                 WebSocket of pushed stats (200 for a plain GET)
    GET /revisions                every revision's latest decision
    GET /revisions/<ns>/<name>    one revision's latest decision; 404 with a reason if not scaled here
    GET /healthz                  200 "ok"
    GET /metrics                  Prometheus text
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from aiohttp import web

from dataplane.autoscaler.metrics import CONTENT_TYPE, render
from dataplane.autoscaler.service import AutoscalerService
from dataplane.autoscaler.statserver import StatServer
from dataplane.dialects import DEFAULT_DIALECT
from dataplane.guard import Guard


def _json(doc, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc), status=status, content_type="application/json")


class AutoscalerApi:
    """Request handlers over one service."""

    def __init__(self, service: AutoscalerService, dialect: Callable[[], str] = lambda: DEFAULT_DIALECT) -> None:
        """``dialect()`` names the metrics dialect at each scrape (the local platform changes it live)."""
        self.service = service
        self.dialect = dialect

    async def revision(self, request: web.Request) -> web.Response:
        """One revision's latest decision."""
        namespace = request.match_info["namespace"]
        name = request.match_info["name"]
        service = self.service
        outcome = service.status(namespace, name)
        if outcome is not None:
            return _json(outcome.to_json())
        reason = service.skipped.get((namespace, name))
        if reason is None:
            reason = "not in the directory" if (namespace, name) not in service.revisions else "no decision yet"
        return _json({"error": f"revision {namespace}/{name}: {reason}"}, status=404)

    async def revisions(self, _request: web.Request) -> web.Response:
        """Every revision's latest decision."""
        return _json({"revisions": [outcome.to_json() for outcome in self.service.statuses()]})

    async def healthz(self, _request: web.Request) -> web.Response:
        """Liveness and readiness."""
        return web.Response(text="ok")

    async def metrics(self, _request: web.Request) -> web.Response:
        """Prometheus exposition, gathered now."""
        return web.Response(body=render(self.service, self.dialect()), headers={"Content-Type": CONTENT_TYPE})


def build_app(
    service: AutoscalerService, guard: Guard | None = None, on_events=None, dialect: Callable[[], str] = lambda: DEFAULT_DIALECT
) -> web.Application:
    """An aiohttp application serving the stat server and the API for ``service``, behind ``guard`` if given
    (mounted under another app, it is that app's guard that applies).

    ``on_events(events)`` hears the events activators send with their stats (see ``StatServer``);
    ``dialect()`` names the metrics dialect of each scrape.
    """
    api = AutoscalerApi(service, dialect)
    stats = StatServer(service, on_events)
    app = web.Application(middlewares=[guard.middleware] if guard is not None else [])
    app.router.add_get("/", stats.handle)
    app.router.add_get("/stats", stats.handle)
    app.router.add_get("/revisions", api.revisions)
    app.router.add_get("/revisions/{namespace}/{name}", api.revision)
    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/metrics", api.metrics)
    app.on_shutdown.append(stats.close_all)
    return app
