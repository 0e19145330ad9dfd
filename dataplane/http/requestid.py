"""Request ids, made by the first hop that sees a request without an ``X-Request-Id``.

An id is this process's random prefix and a counter: unique across processes and
restarts, and cheap (``os.urandom`` once per process, one bytes format per id;
no uuid per request). The id goes on to the next hop and the app, comes back on
the response, and is named in the proxy's own error bodies, so a user can quote it.
"""

from __future__ import annotations

import os

X_REQUEST_ID = b"X-Request-Id"
# a client's id is kept only when it is short and plain, since error bodies and logs repeat it
MAX_CLIENT_ID = 128
PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:")


class RequestIds:
    """A source of fresh request ids, as bytes."""

    __slots__ = ("prefix", "count")

    def __init__(self, prefix: bytes | None = None) -> None:
        self.prefix = os.urandom(8).hex().encode() if prefix is None else prefix
        self.count = 0

    def next(self) -> bytes:
        """A new id: ``<16 hex digits of this process>-<counter in hex>``."""
        self.count += 1
        return b"%s-%x" % (self.prefix, self.count)


def ensure_request_id(conn, head, found: dict, ids: RequestIds) -> bytes:
    """The request's id: the one it carries, or a new one added to its headers (so the
    policy, the next hop and the app all see it); made the connection's ``request_id``.

    A client's id that is long, repeated or not plain (letters, digits, ``-_.:``) is
    replaced by a new one, so that what is quoted back is always safe to print."""
    rid = found.get(b"x-request-id")
    if rid is None:
        rid = ids.next()
        head.headers.append((X_REQUEST_ID, rid))
    elif len(rid) > MAX_CLIENT_ID or not PLAIN.issuperset(rid):
        rid = ids.next()
        head.headers[:] = [h for h in head.headers if h[0].lower() != b"x-request-id"]
        head.headers.append((X_REQUEST_ID, rid))
        found[b"x-request-id"] = rid
    conn.request_id = rid
    return rid
