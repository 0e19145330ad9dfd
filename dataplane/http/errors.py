"""The one exception the HTTP engine's parsers raise.

An ``HttpError`` knows the response it becomes: the engine answers the client
with ``status`` and ``reason`` and closes the connection, without having to map
parser errors itself.
"""

from __future__ import annotations


class HttpError(Exception):
    """A message the engine refuses, with the HTTP status it answers.

    ``status`` is the response status code (400, 431, 501, 502, 505, ...);
    ``reason`` is a short, specific explanation that is safe to send to the
    client. ``str(error)`` is the reason.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"HttpError({self.status!r}, {self.reason!r})"
