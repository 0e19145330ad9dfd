"""A ``ScaleTarget`` that POSTs each changed decision as JSON to a URL (the standalone publisher)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import orjson

from dataplane.autoscaler.outcome import RevisionScale

log = logging.getLogger("dataplane.autoscaler")
MAX_BACKOFF = 5.0


class HttpScalePublisher:
    """Delivers outcomes in the background; only the newest per revision waits when the receiver is slow or down."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self.pending: dict[tuple[str, str], RevisionScale] = {}
        self.delivered = 0
        self.failures = 0
        self._wake = asyncio.Event()

    def scale(self, namespace: str, name: str, outcome: RevisionScale) -> None:
        """Queue ``outcome``, replacing an undelivered older one for the same revision."""
        self.pending.pop((namespace, name), None)  # re-insert so delivery follows decision order
        self.pending[(namespace, name)] = outcome
        self._wake.set()

    async def run(self) -> None:
        """POST queued outcomes until cancelled; failures are retried with backoff."""
        backoff = 0.1
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
            while True:
                if not self.pending:
                    self._wake.clear()
                    await self._wake.wait()
                key, outcome = next(iter(self.pending.items()))
                try:
                    async with session.post(
                        self.url, data=orjson.dumps(outcome.to_json()), headers={"Content-Type": "application/json"}
                    ) as resp:
                        await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    status, error = 0, str(exc)
                else:
                    error = f"status {status}"
                if 200 <= status < 300 or 400 <= status < 500:
                    # A 4xx will not get better by sending the same thing again.
                    if status >= 400:
                        self.failures += 1
                        log.warning("scale publish to %s rejected %s/%s: %s", self.url, *key, error)
                    else:
                        self.delivered += 1
                    backoff = 0.1
                    if self.pending.get(key) is outcome:
                        del self.pending[key]
                    continue
                self.failures += 1
                log.warning("scale publish to %s failed: %s", self.url, error)
                if self.pending.get(key) is outcome:  # to the back, so one revision cannot hold up the rest
                    del self.pending[key]
                    self.pending[key] = outcome
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
