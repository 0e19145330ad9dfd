"""Following the directory: long-poll a URL for snapshots newer than the one in hand."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

import aiohttp

log = logging.getLogger("dataplane.directory")
MAX_BACKOFF = 2.0


async def follow_directory(url: str, apply: Callable[[object], None], bad_snapshot: type[Exception], wait: float = 30.0) -> None:
    """Long-poll ``url`` for snapshots newer than the last one and ``apply`` each."""
    version = -1
    backoff = 0.05
    timeout = aiohttp.ClientTimeout(total=wait + 10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            try:
                async with session.get(url, params={"version": str(version), "wait": str(wait)}) as resp:
                    if resp.status != 200:
                        raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status, message=await resp.text())
                    doc = await resp.json(content_type=None)
                new_version = doc.get("version", -1) if isinstance(doc, dict) else -1
                if new_version != version:
                    apply(doc)
                    version = new_version
                backoff = 0.05
            except bad_snapshot as exc:
                print(f"bad directory snapshot from {url}: {exc}", file=sys.stderr, flush=True)
                await asyncio.sleep(MAX_BACKOFF)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                log.debug("directory %s: %s", url, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
