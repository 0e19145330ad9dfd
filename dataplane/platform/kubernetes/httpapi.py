"""The controller's HTTP face: the directory the activator and autoscaler follow, the autoscaler's decisions, probes.

GET  /directory?version=N&wait=S   long-poll for a snapshot newer than N
POST /scale                        one autoscaler decision (RevisionScale JSON)
GET  /healthz                      200 while the process runs
GET  /readyz                       200 once the caches are synced (every replica, leader or not)
GET  /metrics                      Prometheus text (leader, synced, process)
"""

from __future__ import annotations

import orjson
from aiohttp import web

from dataplane.platform.kubernetes.client import ApiError
from dataplane.platform.kubernetes.decisions import DecisionError
from dataplane.platform.kubernetes.metrics import CONTENT_TYPE, exposition, registry_for

MAX_WAIT = 60.0


def _error(status: int, message: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": message}), content_type="application/json")


class ControllerApi:
    """Handlers over a ``ControllerPlane``; its ``directory`` and ``decisions`` answer once ``synced``."""

    def __init__(self, plane):
        self.plane = plane
        self.registry = registry_for(plane)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_get("/directory", self.directory)
        app.router.add_post("/scale", self.scale)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        return app

    async def directory(self, request: web.Request) -> web.Response:
        try:
            known = int(request.query.get("version", "-1"))
            wait = min(max(float(request.query.get("wait", "30")), 0.0), MAX_WAIT)
        except ValueError:
            return _error(400, "version and wait must be numbers")
        if not self.plane.synced:
            return _error(503, "caches not synced yet")
        body = await self.plane.directory.wait_newer(known, wait)
        return web.Response(body=body, content_type="application/json")

    async def scale(self, request: web.Request) -> web.Response:
        if not self.plane.synced:
            return _error(503, "caches not synced yet")  # the autoscaler retries 5xx with back-off
        try:
            doc = orjson.loads(await request.read())
            await self.plane.decisions.apply(doc)
        except orjson.JSONDecodeError as exc:
            return _error(400, f"not JSON: {exc}")
        except DecisionError as exc:
            return _error(400, str(exc))
        except ApiError as exc:
            return _error(502, f"scaling failed: {exc}")
        return web.Response(body=b"{}", content_type="application/json")

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(self, _request: web.Request) -> web.Response:
        if not self.plane.synced:
            return web.Response(status=503, text="syncing")
        return web.Response(text="leader" if self.plane.leading else "standby")

    async def metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=exposition(self.registry), headers={"Content-Type": CONTENT_TYPE})
