"""Pure-Python twin of ``dataplane.http._engine_c``: see ``engine`` for the contract.

The implementation lives in one small module per concern, which this module
gathers under the twin's name: ``downstream`` (the client-facing protocol),
``upstream`` (upstream connections and their pool), ``heads`` (head rebuilding
and proxy-made responses), ``dechunk`` and ``memory``. The compiled twin gathers
the same ``downstream`` and ``upstream``, compiled, with ``_heads_c`` in place of
``heads`` and ``dechunk``. ``EngineConfig`` (``limits``) is plain settings, shared by both.
"""

from __future__ import annotations

from dataplane.http.downstream import ClientConnection, EngineConfig
from dataplane.http.dechunk import Dechunker
from dataplane.http.heads import (
    HOP_BY_HOP,
    STATUS_REASONS,
    TEXT,
    collect,
    request_head,
    response_head,
    simple_response,
    with_request_id,
)
from dataplane.http.memory import release_memory
from dataplane.http.upstream import (
    BODY_CHUNKED,
    BODY_LENGTH,
    BODY_NONE,
    BODY_UNTIL_CLOSE,
    UpstreamConnection,
    UpstreamPool,
)

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
