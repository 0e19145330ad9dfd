"""The strict HTTP/1.1 message-head scanner of the proxy engine.

The engine re-serialises what it parses, so anything a backend could read
differently from us (request smuggling, RFC 9112 §11.2) is refused here:

* ``parse_request_head(buf, max_size, max_headers=MAX_HEADERS)`` → ``RequestHead``
  or ``None`` while the head is incomplete. Errors are ``HttpError`` with status
  400, 431 (head over ``max_size`` bytes, or more than ``max_headers`` field
  lines), 501 (a
  Transfer-Encoding other than exactly ``chunked``) or 505 (``HTTP/x.y`` other
  than 1.0 and 1.1). Bare LF is refused as soon as it arrives; empty lines
  before the request line are skipped and counted in ``head_len``.
* ``parse_response_head(buf, max_size)`` → ``ResponseHead`` or ``None``; every
  error is ``HttpError(502, ...)``. Only the headers' framing is reported:
  the engine knows when HEAD, 1xx, 204 and 304 have no body. A
  Transfer-Encoding overrides Content-Length (``content_length`` is then -1,
  and ``keep_alive`` false when both were sent); one ending in ``chunked``
  gives ``chunked=True``, any other means the body runs to the close.
* ``ChunkedScanner`` finds the end of a chunked body (trailers included)
  without copying it, so the raw bytes can be forwarded unchanged; its errors
  are ``HttpError(400, ...)`` whichever side sent the body.

A request target is origin-form (``/...``), ``*``, CONNECT's authority-form, or
absolute-form ``http(s)://authority[/path][?query]`` (RFC 9112 §3.2.2), whose
authority must be a DNS-style name or an IP literal with an optional port (no
userinfo); any other target is 400. An absolute-form target is reduced to its
origin-form in ``target``, its authority kept in ``authority`` (else ``b""``),
and the Host field's value replaced by that authority (added to an HTTP/1.0
request without one), so that whoever reads the head, routes it or forwards it
sees one consistent request.

Head attributes: ``method``, ``target`` and ``authority`` (requests) or ``status``, ``reason``
(responses); ``version`` (10 or 11); ``headers``, a list of ``(name, value)``
bytes pairs with names as received and values OWS-trimmed; ``head_len``;
``content_length`` (-1 when absent); ``chunked``; ``keep_alive``;
``connection_tokens`` (lower-cased, for dropping the headers they name); and
for requests ``upgrade`` and ``expect_continue``.

Responses are held to ``MAX_HEADERS`` (100) field lines. More than one ``Host``
is refused in HTTP/1.0 requests too (RFC 9112 §3.2).
Responses must not start with empty lines.
"""

from __future__ import annotations

from dataplane._twins import pick
from dataplane.http.errors import HttpError

_impl = pick("dataplane.http._parser_c", "dataplane.http._parser_py")

parse_request_head = _impl.parse_request_head
parse_response_head = _impl.parse_response_head
RequestHead = _impl.RequestHead
ResponseHead = _impl.ResponseHead
ChunkedScanner = _impl.ChunkedScanner
MAX_HEADERS: int = _impl.MAX_HEADERS

__all__ = [
    "MAX_HEADERS",
    "ChunkedScanner",
    "HttpError",
    "RequestHead",
    "ResponseHead",
    "parse_request_head",
    "parse_response_head",
]
