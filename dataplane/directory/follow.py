"""Following the directory: long-poll a URL for snapshots newer than the one in hand."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from urllib.parse import urlencode

import orjson

from dataplane.http.fetch import FetchError, fetch

log = logging.getLogger("dataplane.directory")
MAX_BACKOFF = 2.0


class DirectoryUnavailable(Exception):
    """The directory answered with an error status."""


async def fetch_snapshot(url: str, version: int, wait: float) -> object:
    """One long poll: the snapshot newer than ``version``, or the same one after ``wait`` seconds.

    Raises ``FetchError``/``TimeoutError`` when the directory cannot be reached,
    ``DirectoryUnavailable`` for an error status and ``ValueError`` for a body that is not JSON."""
    sep = "&" if "?" in url else "?"
    reply = await fetch(url + sep + urlencode({"version": str(version), "wait": str(wait)}), timeout=wait + 10)
    if reply.status != 200:
        raise DirectoryUnavailable(f"{reply.status}: {reply.body[:200].decode('utf-8', 'replace')}")
    return orjson.loads(reply.body)


async def follow_directory(url: str, apply: Callable[[object], None], bad_snapshot: type[Exception], wait: float = 30.0) -> None:
    """Long-poll ``url`` for snapshots newer than the last one and ``apply`` each."""
    version = -1
    backoff = 0.05
    while True:
        try:
            doc = await fetch_snapshot(url, version, wait)
            new_version = doc.get("version", -1) if isinstance(doc, dict) else -1
            if new_version != version:
                apply(doc)
                version = new_version
            backoff = 0.05
        except bad_snapshot as exc:
            print(f"bad directory snapshot from {url}: {exc}", file=sys.stderr, flush=True)
            await asyncio.sleep(MAX_BACKOFF)
        except (FetchError, DirectoryUnavailable, TimeoutError, ValueError) as exc:
            log.debug("directory %s: %s", url, exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
