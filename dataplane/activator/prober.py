"""Probing pods' queue-proxies until they are ready, as Knative's activator does (but faster)."""

from __future__ import annotations

import asyncio

PROBE_REQUEST = (
    b"GET /healthz HTTP/1.1\r\n"
    b"Host: %s\r\n"
    b"User-Agent: Knative-Activator-Probe\r\n"
    b"K-Network-Probe: queue\r\n"
    b"Connection: close\r\n\r\n"
)


async def probe_once(address: str, timeout: float) -> bool:
    """True when the queue-proxy at ``address`` answers its health probe with 200 ``queue``."""
    host, _, port = address.rpartition(":")
    try:
        return await asyncio.wait_for(_probe(host, int(port), address), timeout)
    except (OSError, asyncio.TimeoutError, ValueError):
        return False


async def _probe(host: str, port: int, address: str) -> bool:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(PROBE_REQUEST % address.encode())
        data = await reader.read(65536)
        while data and b"\r\n\r\n" not in data:
            more = await reader.read(65536)
            if not more:
                break
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith((b"HTTP/1.1 200 ", b"HTTP/1.0 200 ")):
            return False
        while len(body) < 5:
            more = await reader.read(65536)
            if not more:
                break
            body += more
        return body[:5] == b"queue"
    finally:
        # not waiting for the close to complete: the answer is known, and a ready pod takes
        # the waiting requests one loop iteration sooner
        writer.close()


async def probe_until_ready(address: str, interval: float, timeout: float, still_wanted) -> bool:
    """Probe every ``interval`` seconds until ready; False once ``still_wanted()`` says stop."""
    loop = asyncio.get_running_loop()
    while still_wanted():
        started = loop.time()
        if await probe_once(address, timeout):
            return True
        await asyncio.sleep(max(0.0, interval - (loop.time() - started)))
    return False
