"""Who may use an aiohttp listener that no web browser should reach: an aiohttp middleware.

Localhost is not a trust boundary for browsers: any page the user opens can send requests to
127.0.0.1, and a page whose name re-resolves to 127.0.0.1 (DNS rebinding) can even read the
answers. What a browser cannot do is leave out or forge these, so they are what is checked:

* ``Host`` must be one of the names the listener is bound to (a rebinding page sends its own name);
* a request with an ``Origin`` (or ``Sec-Fetch-Site``) from another site is refused: browsers send
  ``Origin`` on every cross-origin POST and DELETE and on every WebSocket handshake, and our
  clients send none; WebSocket handshakes may carry no ``Origin`` at all;
* a body sent with POST, PUT, PATCH or DELETE must be ``application/json``, a type a page can only
  send after a CORS preflight, which is never granted (POST, PUT and PATCH always need it);
* mutating requests and WebSocket handshakes carry ``Authorization: Bearer <token>`` when a token
  is configured.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from aiohttp import web

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# What a fetch from another page says of itself; "same-origin" and "none" (typed by the user) are fine.
FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused, as the HTTP status and reason it becomes."""

    status: int
    reason: str

    def response(self) -> web.Response:
        """The refusal as ``{"error": reason}``, the shape of every error of the control API."""
        headers = {"WWW-Authenticate": 'Bearer realm="dataplane"'} if self.status == 401 else None
        return web.Response(status=self.status, body=orjson.dumps({"error": self.reason}), content_type="application/json", headers=headers)


def host_names(port: int, bind_host: str = "127.0.0.1") -> frozenset[str]:
    """The ``Host`` values of a listener on ``bind_host:port``: the loopback names and the bound address."""
    bound = f"[{bind_host}]" if ":" in bind_host and not bind_host.startswith("[") else bind_host
    names = {*LOOPBACK_NAMES, bound.lower()}
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:  # clients leave the default port out
        hosts |= names
    return frozenset(hosts)


@dataclass(frozen=True)
class Guard:
    """The checks for one listener; ``middleware`` applies them to every route of an app."""

    hosts: frozenset[str] = frozenset()
    """Accepted ``Host`` values, lower case; empty accepts any (a cluster service has names we do not know)."""
    token: str = ""
    """Required on mutating requests and WebSocket handshakes; empty requires none."""
    token_hint: str = ""
    """Where a client finds the token, for the reason of a 401."""

    @classmethod
    def loopback(cls, port: int, bind_host: str = "127.0.0.1", token: str = "", token_hint: str = "") -> Guard:
        """The guard of a listener on this machine only, such as `dataplane up`'s control API."""
        return cls(host_names(port, bind_host), token, token_hint)

    @property
    def origins(self) -> frozenset[str]:
        """Origins of pages served by this listener itself (it serves none today; a console would)."""
        return frozenset(f"http://{host}" for host in self.hosts)

    def check(self, method: str, headers: Mapping[str, str], has_body: bool) -> Refusal | None:
        """Why a request with this method and these headers is refused, or None when it may go on."""
        host = headers.get("Host")
        if self.hosts and (host is None or host.lower() not in self.hosts):
            allowed = ", ".join(sorted(self.hosts))
            return Refusal(421, f"this API answers to {allowed}, not to Host {host!r} (a page whose name points here is refused)")
        websocket = "websocket" in headers.get("Upgrade", "").lower()
        origin = headers.get("Origin")
        if origin is not None and (websocket or origin.lower() not in self.origins):
            kind = "WebSocket handshakes" if websocket else "requests"
            return Refusal(403, f"{kind} from web pages are refused: Origin {origin!r} is not this API")
        site = headers.get("Sec-Fetch-Site", "").lower()
        if site in FOREIGN_FETCH_SITES:
            return Refusal(403, f"requests from web pages are refused: Sec-Fetch-Site is {site!r}")
        mutating = method.upper() in MUTATING
        if self.token and (mutating or websocket):
            refusal = self._check_token(headers.get("Authorization"))
            if refusal is not None:
                return refusal
        if mutating and (has_body or method.upper() != "DELETE"):
            content_type = headers.get("Content-Type")
            if content_type is None or content_type.split(";", 1)[0].strip().lower() != "application/json":
                return Refusal(415, f"the body of a {method.upper()} must be JSON: send Content-Type: application/json (got {content_type!r})")
        return None

    def _check_token(self, authorization: str | None) -> Refusal | None:
        where = f" from {self.token_hint}" if self.token_hint else ""
        scheme, _, given = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return Refusal(401, f"this request needs the API token: send Authorization: Bearer <token>{where}")
        # constant time: the token must not leak a byte at a time through response timing
        if not hmac.compare_digest(given.strip().encode("utf-8", "replace"), self.token.encode()):
            return Refusal(401, f"the API token does not match: use the current one{where} (it is new each start)")
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
        """Refuse before the handler runs: nothing of a refused request is read or acted on."""
        refusal = self.check(request.method, request.headers, request.body_exists)
        if refusal is not None:
            return refusal.response()
        return await handler(request)
