"""Probing a queue-proxy until it is ready, as Knative's activator does (but faster).

Shared by the activator (new pods take waiting requests the moment they pass) and the local
platform (a pod is Ready when its queue-proxy says so), off the request path; ``connect_now`` also
by the queue-proxy's readiness checks of its app.
"""

from __future__ import annotations

import asyncio
import socket

# longest a connect_now may hold the loop (a listening app with a full accept queue)
CONNECT_NOW_TIMEOUT = 0.002

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


def connect_now(host: str, port: int) -> bool | None:
    """A plain connect to a loopback address, in the caller's thread: the kernel answers it
    before the call returns. True: something listens; False: nothing does; None: could not tell."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(CONNECT_NOW_TIMEOUT)
        try:
            sock.connect((host, port))
        except ConnectionRefusedError:
            return False
        except OSError:
            return None
        # with nothing listening, the kernel may pick the probed port as the source port: the
        # socket then connects to itself (TCP simultaneous open), which is no app
        return sock.getsockname() != sock.getpeername()
