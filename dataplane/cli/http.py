"""A small blocking client for the control API, on ``http.client`` so the CLI starts without an event loop."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from typing import Any, Self
from urllib.parse import quote, urlencode, urlsplit

from dataplane.platform.local.home import default_home, read_token

DEFAULT_SERVER = "http://127.0.0.1:8081"
REQUEST_TIMEOUT = 60.0
"""Seconds to wait for a non-streaming response."""


class ApiError(Exception):
    """The server answered with an error status."""

    def __init__(self, status: int, message: str, details: list[Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []


class Unreachable(Exception):
    """No HTTP exchange with the server was possible."""


def server_url(flag: str | None) -> str:
    """The control API base URL: ``--server``, else ``$DATAPLANE_SERVER``, else the local default."""
    url = flag or os.environ.get("DATAPLANE_SERVER") or DEFAULT_SERVER
    return url if "://" in url else f"http://{url}"


def local_token(url: str) -> str | None:
    """The token `dataplane up` wrote to ``$DATAPLANE_HOME`` when ``url`` is on this machine, else None.

    A server elsewhere is not the one that wrote it, and is not sent it.
    """
    host = (urlsplit(url).hostname or "").lower()
    if host not in ("localhost", "::1") and not host.startswith("127."):
        return None
    return read_token(default_home())


def path(*segments: str) -> str:
    """``/v1/<segment>/...`` with each segment escaped."""
    return "/v1/" + "/".join(quote(s, safe="") for s in segments)


class Client:
    """One control server; a fresh connection per request (loopback makes reuse not worth its failure modes)."""

    def __init__(self, base_url: str, timeout: float = REQUEST_TIMEOUT, token: str | None = None):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Unreachable(f"invalid server URL {base_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._token = token

    @property
    def address(self) -> str:
        """``host:port`` as shown in connection errors."""
        return f"{self._host}:{self._port}"

    def get(self, target: str, query: dict[str, str] | None = None) -> Any:
        """GET a JSON document."""
        return self._json("GET", target, query, None)

    def post(self, target: str, body: Any) -> Any:
        """POST a JSON body and return the JSON answer."""
        return self._json("POST", target, None, body)

    def delete(self, target: str) -> Any:
        """DELETE and return the JSON answer."""
        return self._json("DELETE", target, None, None)

    def stream(self, target: str, query: dict[str, str] | None = None) -> Stream:
        """Open a GET whose body arrives over time; use it as a context manager."""
        conn = self._send("GET", target, query, None, timeout=self._timeout)
        resp = _checked(conn)
        if conn.sock is not None:
            conn.sock.settimeout(None)  # connecting may time out; a quiet watch or log may not
        return Stream(conn, resp)

    def _json(self, method: str, target: str, query: dict[str, str] | None, body: Any) -> Any:
        conn = self._send(method, target, query, body, timeout=self._timeout)
        try:
            resp = _checked(conn)
            raw = resp.read()
        except TimeoutError:
            raise Unreachable(f"Unable to connect to the server: no answer from {self.address} within {self._timeout:g}s") from None
        finally:
            conn.close()
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(resp.status, f"the server sent a response that is not JSON ({len(raw)} bytes)") from None

    def _send(self, method: str, target: str, query: dict[str, str] | None, body: Any, timeout: float | None):
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=timeout)
        url = self._prefix + target + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": "application/json", "User-Agent": "dataplane-cli"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, url, body=data, headers=headers)
        except ConnectionRefusedError:
            conn.close()
            raise Unreachable(
                f'The connection to the server {self.address} was refused - is "dataplane up" running?'
            ) from None
        except OSError as exc:
            conn.close()
            raise Unreachable(f"Unable to connect to the server {self.address}: {exc}") from None
        return conn


def _checked(conn: http.client.HTTPConnection) -> http.client.HTTPResponse:
    """The response, or ApiError carrying the server's message when the status is not 2xx."""
    try:
        resp = conn.getresponse()
    except (http.client.HTTPException, ConnectionError) as exc:
        conn.close()
        raise Unreachable(f"the server at {conn.host}:{conn.port} closed the connection: {exc!r}") from None
    if 200 <= resp.status < 300:
        return resp
    raw = resp.read()
    conn.close()
    message, details = _error_of(raw, resp.status, resp.reason)
    raise ApiError(resp.status, message, details)


def _error_of(raw: bytes, status: int, reason: str) -> tuple[str, list[Any]]:
    try:
        body = json.loads(raw)
    except ValueError:
        text = raw.decode("utf-8", "replace").strip()
        return (text or f"the server responded with {status} {reason}"), []
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        details = body.get("details")
        return body["error"], details if isinstance(details, list) else []
    return f"the server responded with {status} {reason}", []


class Stream:
    """A streaming response: newline-delimited JSON events or raw text."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse):
        self._conn = conn
        self._resp = resp

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the connection (the server sees the stream end)."""
        self._conn.close()

    def events(self) -> Iterator[dict[str, Any]]:
        """Each JSON line until the server ends the stream; blank lines are keep-alives."""
        while True:
            line = self._read(self._resp.readline)
            if not line:
                return
            if line.strip():
                try:
                    event = json.loads(line)
                except ValueError:
                    raise ApiError(self._resp.status, f"malformed event in watch stream: {line[:80]!r}") from None
                if isinstance(event, dict):
                    yield event

    def chunks(self) -> Iterator[bytes]:
        """Body bytes as they arrive."""
        while True:
            chunk = self._read(lambda: self._resp.read1(65536))
            if not chunk:
                return
            yield chunk

    def _read(self, read) -> bytes:
        try:
            return read()
        except (http.client.IncompleteRead, ConnectionError):
            # the server went away mid-stream: treat like the end of the stream
            return b""
