"""Routes of the console on the control API's aiohttp app: the page, its static files, and the session token.

How the page gets the token, and why no other page can
--------------------------------------------------------
Changes through the control API need ``Authorization: Bearer <token>``, the token `dataplane up`
writes to ``$DATAPLANE_HOME/api-token`` each start. The console's page runs in the browser and
cannot read that file, so ``GET /console/session`` hands it the token. Only the console itself may
read that answer:

* The console is served by the API's own listener, so the page and the API share one origin
  (``http://127.0.0.1:8081``) and the page reads the answer like any same-origin ``fetch``.
* A page of another origin (another site, or another port of this machine such as an app behind the
  router on 8080) can make the browser *send* a GET, but the browser does not let it *read* the answer:
  the API grants no CORS (no ``Access-Control-Allow-Origin``, never answers a preflight). It cannot get
  the request sent either: the session request must carry ``X-Dataplane-Console: 1``, a header that
  cross-origin ``fetch`` may only send after a preflight the API never grants, and that ``<script>``,
  ``<img>``, ``<link>``, ``<iframe>`` and form loads cannot carry at all; and the API's guard already
  refuses any request whose ``Origin`` is not the API's own or whose ``Sec-Fetch-Site`` is
  ``cross-site`` or ``same-site`` (403). The answer is JSON with ``nosniff`` and ``no-store``, so it is
  neither run as a script nor kept in a cache.
* DNS rebinding (a foreign name re-resolved to 127.0.0.1, which would make the attacker's page
  "same-origin" with its own name) is refused by the guard's ``Host`` check before any handler (421):
  the page's origin is only ever ``127.0.0.1``, ``localhost`` or ``[::1]`` at the API's port.
* A foreign page could frame the console to trick clicks (clickjacking): the page is sent with
  ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'``. Its Content-Security-Policy also allows
  scripts, styles and connections to this origin only, so nothing the API returns (a Service's name,
  a pod's log) can run as code in it; the page also inserts such text as text, never as HTML.

Everything the page then sends goes through the same guard and validation as the CLI's requests.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from dataplane.guard import Refusal

SESSION_HEADER = "X-Dataplane-Console"
STATIC = {
    "console.js": "text/javascript",
    "console.css": "text/css",
}
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _read(name: str) -> bytes:
    return resources.files("dataplane.console").joinpath("static", name).read_bytes()


class Console:
    """The console's handlers; ``token()`` gives the control API token of this start."""

    def __init__(self, token):
        self.token = token

    def add_routes(self, app: web.Application) -> None:
        """Mount the page at ``/`` and its files under ``/console/``."""
        app.router.add_get("/", self.page)
        app.router.add_get("/console/session", self.session)
        app.router.add_get("/console/{name}", self.static)

    async def page(self, _request: web.Request) -> web.Response:
        """The console's one page."""
        return web.Response(body=_read("index.html"), content_type="text/html", charset="utf-8", headers=PAGE_HEADERS)

    async def static(self, request: web.Request) -> web.Response:
        """A file of the page, by name from a fixed list (no path from the request reaches the file system)."""
        name = request.match_info["name"]
        kind = STATIC.get(name)
        if kind is None:
            return Refusal(404, f"no console file {name!r}").response()
        return web.Response(body=_read(name), content_type=kind, charset="utf-8", headers=PAGE_HEADERS)

    async def session(self, request: web.Request) -> web.Response:
        """The token of this start, for the console's own page only (see the module's docstring)."""
        if request.headers.get(SESSION_HEADER) != "1":
            return Refusal(403, f"the session is for the console's page: send {SESSION_HEADER}: 1 from it").response()
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None and site.lower() != "same-origin":
            return Refusal(403, f"the session is for the console's page: Sec-Fetch-Site is {site!r}").response()
        return web.json_response(
            {"token": self.token()}, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        )
