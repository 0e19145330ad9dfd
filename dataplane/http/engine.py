"""The HTTP/1.1 reverse-proxy engine: protocols, upstream pool, head rebuilding.

Compiled (``_engine_c``) or pure Python (``_engine_py``), chosen once at import;
both behave alike byte for byte, and both run the same protocols: the compiled
build is ``downstream.py`` and ``upstream.py`` compiled through their ``.pxd``
(see ``ext/http/_engine_c.pyx``).

A server makes one ``ClientConnection(loop, policy, config)`` per accepted
connection. The engine parses requests strictly and answers bad input itself
(400, 408, 431, 501, 505, then close); every other request goes to the
policy, which must have these methods, all called synchronously:

* ``connection_made(conn)``, ``connection_lost(conn)``;
* ``on_request(conn, head)``: answer with ``conn.respond(status, body, extra=None,
  content_type=TEXT)``, or send on with ``conn.forward(pool, upstream_head)``
  (``request_head`` builds the head), now or later; ``conn.set_timeouts(total,
  response_start=0, idle=0)`` limits the request;
* ``on_admitted(conn)``, after ``conn.admitted()`` (a breaker handing over a slot);
* ``on_response_start(conn, status)``, ``on_done(conn)`` (answered, ``conn.status``
  set), ``on_abort(conn)`` (the client left first), ``on_rejected(conn, status)``
  (bad input, no request started; called before the refusal is written);
* ``on_upstream_error(conn, reason, retryable)``: ``retryable`` when nothing reached
  the server; answer, typically ``conn.fail(502, reason)``, or forward elsewhere;
* ``on_timeout(conn)``: typically ``conn.fail(504, ...)``.

A policy keeps per-request state in ``conn.slot`` and may add response headers
with ``conn.response_extra`` (a list of ``(name, value)``). ``conn.request_id``
(bytes, reset for each request; a policy sets it in ``on_request`` or
``on_rejected``) goes back as ``X-Request-Id`` on every response to the request
(unless the upstream's carries one already) and is named in the engine's own
error bodies (``fail``, refusals, 500): ``with_request_id(reason, id)`` makes
such a body for a policy's own errors. What a callback raises
is reported to the loop's exception handler and the client gets a 500 (or is cut,
if its response had started): an error never leaves a client waiting.

``UpstreamPool(loop, host, port, max_idle=100)`` keeps idle keep-alive
connections, newest first; ``connect(client)`` is the one method a subclass
may replace (tests connect to fake transports with it).

``release_memory()`` gives the C heap's free pages back to the system (glibc's
``malloc_trim``); True when it released any.
"""

from __future__ import annotations

from dataplane._twins import pick

_impl = pick("dataplane.http._engine_c", "dataplane.http._engine_py")

ClientConnection = _impl.ClientConnection
UpstreamConnection = _impl.UpstreamConnection
UpstreamPool = _impl.UpstreamPool
EngineConfig = _impl.EngineConfig
Dechunker = _impl.Dechunker
collect = _impl.collect
request_head = _impl.request_head
release_memory = _impl.release_memory
response_head = _impl.response_head
with_request_id = _impl.with_request_id
simple_response = _impl.simple_response
TEXT: bytes = _impl.TEXT
HOP_BY_HOP: frozenset = _impl.HOP_BY_HOP
STATUS_REASONS: dict = _impl.STATUS_REASONS
# how the body of an upstream response is delimited
BODY_NONE: int = _impl.BODY_NONE
BODY_LENGTH: int = _impl.BODY_LENGTH
BODY_CHUNKED: int = _impl.BODY_CHUNKED
BODY_UNTIL_CLOSE: int = _impl.BODY_UNTIL_CLOSE

__all__ = [
    "BODY_CHUNKED",
    "BODY_LENGTH",
    "BODY_NONE",
    "BODY_UNTIL_CLOSE",
    "HOP_BY_HOP",
    "STATUS_REASONS",
    "TEXT",
    "ClientConnection",
    "Dechunker",
    "EngineConfig",
    "UpstreamConnection",
    "UpstreamPool",
    "collect",
    "release_memory",
    "request_head",
    "response_head",
    "simple_response",
    "with_request_id",
]
