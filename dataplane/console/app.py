"""Routes of the console on the control API's aiohttp app: the page and its static files.

How the page gets the token, and why nothing else can
------------------------------------------------------
Changes through the control API need ``Authorization: Bearer <token>``, the token `dataplane up`
writes to ``$DATAPLANE_HOME/api-token`` each start, readable by its owner only: it keeps web pages
*and other users of this machine* (who can reach a loopback port too) from changing what runs. So
the server never hands the token out. `dataplane up` prints the console's address with the token
in its fragment (``http://127.0.0.1:8081/#token=...``), on its own stdout:

* A browser never sends a fragment over the network: the token goes from the terminal to the page
  and to no server, log or ``Referer`` (the page also sends ``Referrer-Policy: no-referrer``).
* The page moves it into the tab's ``sessionStorage`` and takes it out of the address bar at once.
  ``sessionStorage`` is per origin: only pages of ``http://127.0.0.1:8081`` read it, which are ours.
  A tab opened without it asks for it (the file's content) and stays read-only until given it.
* A page of another origin (another site, or another port of this machine such as an app behind the
  router on 8080) can make the browser send requests but cannot read the answers (the API grants no
  CORS), cannot send the token it does not have, and is refused by the guard anyway when its
  ``Origin`` or ``Sec-Fetch-Site`` shows it (403).
* DNS rebinding (a foreign name re-resolved to 127.0.0.1, which would make the attacker's page
  "same-origin" with its own name) is refused by the guard's ``Host`` check before any handler (421),
  so the only origins that can hold the console are ``127.0.0.1``, ``localhost`` and ``[::1]`` at
  the API's port, and another origin's storage is not ours.
* A foreign page could frame the console to trick clicks (clickjacking): the page is sent with
  ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'``. Its Content-Security-Policy allows
  scripts, styles and connections to this origin only, so nothing the API returns (a Service's name,
  a pod's log) can run as code in it and read the token; the page also inserts such text as text,
  never as HTML.

Everything the page then sends goes through the same guard and validation as the CLI's requests.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from dataplane.guard import Refusal

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


def address(api_url: str, token: str) -> str:
    """The console's address as `dataplane up` prints it: the token in the fragment, which no browser sends anywhere."""
    return f"{api_url.rstrip('/')}/#token={token}"


class Console:
    """The console's handlers: static files only; the token never leaves the server through them."""

    def add_routes(self, app: web.Application) -> None:
        """Mount the page at ``/`` and its files under ``/console/``."""
        app.router.add_get("/", self.page)
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
