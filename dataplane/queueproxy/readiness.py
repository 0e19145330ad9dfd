"""Readiness of the user's app, probed by the queue-proxy the way Knative does.

With ``periodSeconds: 0`` (the default) a check polls the app every 50 ms, each
attempt with a 100 ms timeout, for up to 10 s, and passes after
``successThreshold`` consecutive successes. Concurrent checks share one probe run.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress

from dataplane.http.grpcprobe import grpc_health
from dataplane.http.probe import connect_now
from dataplane.queueproxy.probespec import ProbeSpec

MAX_STATUS_LINE = 8192
# seconds before the next attempt when nothing listens yet: on loopback a refused connect is
# answered within the connect call (connect_now); with its wake-up an attempt costs about 0.22 ms
# of CPU against 0.55 ms for the full asyncio attempt, so polling every 2 ms takes what polling
# every 5 ms did (about 11 % of a core while the app starts) and the pod is ready ~1 ms after its app
REFUSED_RETRY = 0.002


class Refused(Exception):
    """Nothing listens on the probed port yet."""


@functools.lru_cache(maxsize=16)  # asked on every attempt, up to 500 a second, of the same few hosts
def is_loopback(host: str) -> bool:
    """An IP literal of loopback ("localhost" may name either family: it takes the full attempt)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def attempt(probe: ProbeSpec, timeout: float) -> bool:
    """One probe attempt; True when the app passes it (``Refused`` when nothing listens)."""
    if is_loopback(probe.host):
        # a cheap check first: while the app starts, nearly every attempt ends here
        listening = connect_now(probe.host, probe.port)
        if listening is False:
            raise Refused
        if listening and probe.kind == "tcp":
            return True  # an accepted connection is all a TCP probe asks
    try:
        if probe.kind == "grpc":
            # the health service, as kubelet asks it: an accepting port is not yet a serving app
            return (await grpc_health(probe.host, probe.port, probe.grpc_service, timeout)).serving
        return await asyncio.wait_for(_attempt(probe), timeout)
    except ConnectionRefusedError:
        raise Refused from None
    except (OSError, asyncio.TimeoutError, ValueError):
        return False


async def _attempt(probe: ProbeSpec) -> bool:
    reader, writer = await asyncio.open_connection(probe.host, probe.port)
    try:
        if writer.get_extra_info("sockname") == writer.get_extra_info("peername"):
            raise ConnectionRefusedError("connected to itself: nothing listens")
        if probe.kind == "tcp":
            return True
        if probe.scheme != "HTTP":
            raise ValueError("HTTPS readiness probes are not supported")
        lines = [
            f"GET {probe.path} HTTP/1.1",
            f"Host: {probe.host}:{probe.port}",
            "User-Agent: kube-probe/dataplane",
            "Accept: */*",
            "Connection: close",
        ]
        lines.extend(f"{h.name}: {h.value}" for h in probe.http_headers)
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status_line = await reader.readuntil(b"\n")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            return False
        return 200 <= int(parts[1]) < 400
    except asyncio.IncompleteReadError:
        return False
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


class Readiness:
    """Whether the app is ready; ``check()`` probes it now, shared by concurrent callers."""

    def __init__(self, probes: tuple[ProbeSpec, ...]):
        self.probes = probes
        self.ready = False
        self._running: asyncio.Future | None = None

    async def check(self) -> bool:
        if self._running is None:
            self._running = asyncio.ensure_future(self._run())
            self._running.add_done_callback(self._clear)
        return await asyncio.shield(self._running)

    def _clear(self, fut: asyncio.Future) -> None:
        self._running = None
        if not fut.cancelled() and fut.exception() is None:
            self.ready = fut.result()

    async def _run(self) -> bool:
        results = await asyncio.gather(*(self._probe(p) for p in self.probes))
        return all(results)

    async def _probe(self, probe: ProbeSpec) -> bool:
        loop = asyncio.get_running_loop()
        if probe.period_seconds > 0:
            try:
                return await attempt(probe, float(probe.timeout_seconds))
            except Refused:
                return False
        deadline = loop.time() + probe.aggressive_poll_timeout
        passes = 0
        while True:
            started = loop.time()
            interval = probe.aggressive_interval
            try:
                ok = await attempt(probe, probe.aggressive_attempt_timeout)
            except Refused:
                ok, interval = False, min(interval, REFUSED_RETRY)
            if ok:
                passes += 1
                if passes >= probe.success_threshold:
                    return True
            else:
                passes = 0
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))

    async def wait_ready(self) -> None:
        """Poll until the app is ready (the start-up probe)."""
        while not await self.check():
            pass

    def cancel(self) -> None:
        if self._running is not None:
            self._running.cancel()
