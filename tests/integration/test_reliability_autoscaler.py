"""The standalone `dataplane autoscaler` killed and restarted while its revision's pods are loaded.

Real queue-proxy pods (the test app behind each), a fake directory listing
them, and a sink for the decisions the autoscaler POSTs. The pods are loaded
directly, so serving never depends on the autoscaler: it must go on with no
failed request. After the restart the autoscaler knows nothing of the past
load; it starts in panic with the ready pods as the floor, so none of its
decisions in the first stable window may ask for fewer pods than are ready,
even though the load (one request at a time on three pods) would later justify
two.
"""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import pytest
from aiohttp import web

from tests.integration.fakes import DirectoryServer, serve_app
from tests.support import Proc, dataplane_cmd, free_port, start_pod

pytestmark = pytest.mark.slow
NS, NAME = "default", "loaded-00001"
STABLE_WINDOW = 6.0


class DecisionSink:
    """Collects the decisions an autoscaler POSTs to ``--scale-url``, stamped with their arrival."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> DecisionSink:
        app = web.Application()
        app.router.add_post("/scale", self._handle)
        self.runner, self.port = await serve_app(app)
        return self

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append((time.monotonic(), await request.json()))
        return web.Response(status=204)

    def since(self, t: float) -> list[dict]:
        return [d for at, d in self.received if at >= t and d.get("name") == NAME]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def start_autoscaler(port: int, directory_url: str, config_path, sink_port: int) -> Proc:
    cmd = dataplane_cmd(
        "autoscaler", "--bind", "127.0.0.1", "--port", str(port), "--directory", directory_url,
        "--config", str(config_path), "--scale-url", f"http://127.0.0.1:{sink_port}/scale",
    )  # fmt: skip
    return Proc(cmd, port=port)


async def load_pods(urls: list[str], stop: asyncio.Event, limit: int, counts: dict) -> None:
    """One client, one request at a time, round-robin over the pods; every answer is counted."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        i = 0
        while not stop.is_set() and counts["sent"] < limit:
            counts["sent"] += 1
            try:
                async with session.get(f"{urls[i % len(urls)]}/sleep?ms=300") as resp:
                    body = await resp.read()
                    counts["ok" if resp.status == 200 and body == b"slept" else "failed"] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                counts["failed"] += 1
                counts.setdefault("errors", []).append(repr(exc))
            i += 1


async def test_restarted_autoscaler_does_not_scale_loaded_revision_down(tmp_path):
    config = tmp_path / "config-autoscaler.yaml"
    config.write_text(f"stable-window: {STABLE_WINDOW:g}s\n")
    directory = await DirectoryServer().start()
    sink = await DecisionSink().start()
    pods, procs = [], []
    counts = {"sent": 0, "ok": 0, "failed": 0}
    stop = asyncio.Event()
    loader = None
    try:
        pods = await asyncio.gather(*(asyncio.to_thread(start_pod, CONTAINER_CONCURRENCY="1") for _ in range(3)))
        started = time.time() - 3600  # long-running pods
        directory.publish(
            [
                {
                    "namespace": NS,
                    "name": NAME,
                    "containerConcurrency": 1,
                    "pods": [
                        {"name": f"{NAME}-{i}", "address": p.address, "statsAddress": f"127.0.0.1:{p.ports['stats']}", "ready": True, "startedAt": started}
                        for i, p in enumerate(pods)
                    ],
                }
            ]
        )
        port = free_port()
        first = await asyncio.to_thread(start_autoscaler, port, directory.url, config, sink.port)
        procs.append(first)
        loader = asyncio.create_task(load_pods([p.url for p in pods], stop, 400, counts))

        deadline = time.monotonic() + 20
        while not any(d["replicas"] is not None and d["desired"] > 0 for d in sink.since(0)) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        before = sink.since(0)
        assert any(d["replicas"] is not None for d in before), f"the first autoscaler never decided: {before}"

        first.signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)
        ok_at_kill = counts["ok"]
        restarted_at = time.monotonic()
        second = await asyncio.to_thread(start_autoscaler, free_port(), directory.url, config, sink.port)
        procs.append(second)

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            first_status = None
            while time.monotonic() - restarted_at < STABLE_WINDOW:
                async with session.get(f"http://127.0.0.1:{second.port}/revisions/{NS}/{NAME}") as resp:
                    if resp.status == 200 and first_status is None:
                        first_status = await resp.json()
                await asyncio.sleep(0.2)
        after = sink.since(restarted_at)
    finally:
        stop.set()
        if loader is not None:
            await loader
        for proc in procs:
            proc.stop()
        for pod in pods:
            pod.stop()
        await sink.stop()
        await directory.stop()

    acted = [d for d in after if d["replicas"] is not None]
    print(
        f"requests sent {counts['sent']}, answered {counts['ok']}, failed {counts['failed']}; "
        f"decisions before the kill {[(d['desired'], d['replicas']) for d in before]}, "
        f"after the restart {[(d['desired'], d['replicas'], d['panic']) for d in after]}"
    )
    assert counts["failed"] == 0, counts
    assert counts["ok"] == counts["sent"] and counts["ok"] > ok_at_kill, counts
    assert first_status is not None and first_status["panic"] is True and first_status["ready"] == 3, first_status
    assert acted, f"no decision with replicas in the first {STABLE_WINDOW:g} s after the restart: {after}"
    assert all(d["replicas"] >= 3 for d in acted), f"scaled the loaded revision below its 3 ready pods: {acted}"
    assert all(d["desired"] == -1 or d["desired"] >= 3 for d in after), after


async def test_a_backlog_of_activator_reports_counts_once(tmp_path):
    """Reports that reach the autoscaler late and together measure the same requests, not more.

    The activator reports every second over one WebSocket and queues its
    reports while the autoscaler does not read them (a stalled event loop),
    then sends the backlog in one frame. Five reports of 20 concurrent
    requests delivered at once still mean 20 concurrent requests: the
    revision needs ceil(20 / 0.7) = 29 pods, exactly as with one report. (In
    the seed-burst scenario, stalls while starting pods turned 20 requests
    into a panic-mode demand for 143 and 161 pods.)
    """
    from dataplane.stats.wire import Stat, WireStatMessage, encode_messages

    config = tmp_path / "config-autoscaler.yaml"
    config.write_text("stable-window: 10s\n")  # the scenarios' setting: a 1 s panic window
    directory = await DirectoryServer().start()
    proc = None
    try:
        directory.publish([{"namespace": NS, "name": name, "containerConcurrency": 1, "pods": []} for name in ("single-00001", "backlog-00001")])
        port = free_port()
        cmd = dataplane_cmd("autoscaler", "--bind", "127.0.0.1", "--port", str(port), "--directory", directory.url, "--config", str(config))
        proc = await asyncio.to_thread(Proc, cmd, None, port)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            base = f"http://127.0.0.1:{port}/revisions/{NS}"
            deadline = time.monotonic() + 10
            while True:
                statuses = []
                for name in ("single-00001", "backlog-00001"):
                    async with session.get(f"{base}/{name}") as resp:
                        statuses.append(resp.status)
                if statuses == [200, 200]:
                    break
                assert time.monotonic() < deadline, f"the autoscaler never knew both revisions: {statuses}"
                await asyncio.sleep(0.1)

            def report(name: str) -> WireStatMessage:
                return WireStatMessage(NS, name, Stat(pod_name="activator-0", average_concurrent_requests=20.0, request_count=20.0))

            async with session.ws_connect(f"ws://127.0.0.1:{port}/") as ws:
                # decisions come at x.5 s of even seconds (Unix time) and the panic window is the current
                # second: deliver early in such a second, so the next decision sees what was delivered
                while not (time.time() % 2 < 0.2):
                    await asyncio.sleep(0.01)
                tick = int(time.time()) + 0.5
                await ws.send_bytes(encode_messages([report("single-00001")] + [report("backlog-00001")] * 5))
                await asyncio.sleep(tick + 0.3 - time.time())
                decided = {}
                for name in ("single-00001", "backlog-00001"):
                    async with session.get(f"{base}/{name}") as resp:
                        decided[name] = await resp.json()
    finally:
        if proc is not None:
            proc.stop()
        await directory.stop()
    single, backlog = decided["single-00001"], decided["backlog-00001"]
    print(
        f"one report of 20: desired {single['desired']} (panic concurrency {single['panicConcurrency']}); "
        f"five at once: desired {backlog['desired']} (panic concurrency {backlog['panicConcurrency']})"
    )
    assert single["desired"] == 29, single
    assert backlog["desired"] == single["desired"], f"a backlog of 5 reports multiplied the demand: {backlog}"
