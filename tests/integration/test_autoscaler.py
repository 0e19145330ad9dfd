"""`dataplane autoscaler` as a real process: scraping real queue-proxies, taking pushed stats, publishing."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import pytest
from aiohttp import web

from dataplane.stats.wire import Stat, WireStatMessage, encode_messages
from tests.integration.fakes import DirectoryServer, serve_app
from tests.support import Pod, Proc, dataplane_cmd, free_port, start_pod

NS = "default"
CONFIG = "stable-window: 6s\n"


def revision(name: str, pods: list[Pod], cc: int = 1) -> dict:
    started = time.time() - 3600  # old pods: preferred by the sampler
    return {
        "namespace": NS,
        "name": name,
        "containerConcurrency": cc,
        "pods": [
            {
                "name": f"{name}-{i}",
                "address": p.address,
                "statsAddress": f"127.0.0.1:{p.ports['stats']}",
                "ready": True,
                "startedAt": started,
            }
            for i, p in enumerate(pods)
        ],
    }


class ScaleSink:
    """Receives the decisions ``--scale-url`` POSTs."""

    def __init__(self) -> None:
        self.outcomes: list[dict] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> ScaleSink:
        app = web.Application()
        app.router.add_post("/scale", self.handle)
        self.runner, self.port = await serve_app(app)
        return self

    async def handle(self, request: web.Request) -> web.Response:
        self.outcomes.append(await request.json())
        return web.Response(status=204)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


class Rig:
    def __init__(self, tmp_path) -> None:
        self.tmp_path = tmp_path
        self.directory = DirectoryServer()
        self.proc: Proc | None = None
        self.pods: list[Pod] = []
        self.port = 0
        self.session: aiohttp.ClientSession | None = None

    async def start(self, *args: str) -> Rig:
        await self.directory.start()
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        config = self.tmp_path / "config-autoscaler.yaml"
        config.write_text(CONFIG)
        self.port = free_port()
        cmd = dataplane_cmd(
            "autoscaler",
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--directory", self.directory.url,
            "--config", str(config),
            *args,
        )  # fmt: skip
        self.proc = await asyncio.to_thread(Proc, cmd, None, self.port)
        return self

    async def start_pods(self, count: int, **env: str) -> list[Pod]:
        pods = await asyncio.gather(*(asyncio.to_thread(start_pod, **env) for _ in range(count)))
        self.pods.extend(pods)
        return list(pods)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def status(self, name: str) -> tuple[int, dict]:
        async with self.session.get(f"{self.url}/revisions/{NS}/{name}") as resp:
            return resp.status, await resp.json()

    async def wait_known(self, name: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, doc = await self.status(name)
            if status == 200:
                return doc
            await asyncio.sleep(0.05)
        raise AssertionError(f"{name} never appeared: {doc}")

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.proc is not None:
            self.proc.stop()
        for pod in self.pods:
            pod.stop()
        await self.directory.stop()


@pytest.fixture
async def rig(tmp_path):
    r = Rig(tmp_path)
    yield r
    await r.stop()


async def _load(url: str, stop: asyncio.Event, limit: int) -> int:
    """One client looping sleeping requests until ``stop`` or ``limit`` requests."""
    done = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while not stop.is_set() and done < limit:
            async with session.get(f"{url}/sleep?ms=300") as resp:
                assert resp.status == 200
                await resp.read()
            done += 1
    return done


async def test_desired_scale_rises_with_load_on_scraped_pods(rig):
    await rig.start()
    pods = await rig.start_pods(3, CONTAINER_CONCURRENCY="1")
    rig.directory.publish([revision("hello-00001", pods)])
    first = await rig.wait_known("hello-00001")
    assert first["ready"] == 3

    stop = asyncio.Event()
    # 6 requests always in flight, 2 per pod, each pod taking 1 at a time (CC=1).
    clients = [asyncio.create_task(_load(pods[i % 3].url, stop, limit=100)) for i in range(6)]
    seen: list[int] = []
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            _, doc = await rig.status("hello-00001")
            seen.append(doc["desired"])
            if doc["desired"] >= 9:
                break
    finally:
        stop.set()
        served = await asyncio.gather(*clients)
    # 6 concurrent / (CC 1 × 70 %) → ceil(8.6) = 9 pods
    assert doc["desired"] >= 9, f"desired over time: {seen}"
    assert doc["panic"] is True  # 9 needed for 3 ready is over the 200 % threshold
    assert doc["panicConcurrency"] > 5.0, doc
    assert sum(served) > 0
    async with rig.session.get(f"{rig.url}/metrics") as resp:
        text = await resp.text()
    labels = f'configuration_name="",namespace_name="{NS}",revision_name="hello-00001",service_name=""'
    assert f"autoscaler_scrape_error_count{{{labels}}} 0.0" in text
    assert f"autoscaler_scrape_latencies_count{{{labels}}} 0.0" not in text


async def test_pushed_stat_for_revision_without_pods_scales_it_up_at_once(rig):
    sink = await ScaleSink().start()
    try:
        await rig.start("--scale-url", f"http://127.0.0.1:{sink.port}/scale")
        rig.directory.publish([revision("cold-00001", [])])
        doc = await rig.wait_known("cold-00001")
        assert doc["desired"] == -1  # nothing known yet

        # Push right after a tick, so the next tick is ~2 s away.
        decided = doc["decidedAt"]
        deadline = time.monotonic() + 5
        while doc["decidedAt"] == decided and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            _, doc = await rig.status("cold-00001")
        assert doc["decidedAt"] != decided, "no tick seen"

        async with rig.session.ws_connect(f"ws://127.0.0.1:{rig.port}/") as ws:
            stat = Stat(pod_name="activator", average_concurrent_requests=1.0, request_count=1.0)
            await ws.send_bytes(encode_messages([WireStatMessage(NS, "cold-00001", stat)]))
            pushed = time.monotonic()
            while time.monotonic() - pushed < 1.5:
                _, doc = await rig.status("cold-00001")
                if doc["desired"] >= 1:
                    break
                await asyncio.sleep(0.02)
            elapsed = time.monotonic() - pushed
            assert doc["desired"] >= 1
            assert elapsed < 1.0, f"took {elapsed:.2f}s: waited for a tick instead of deciding at once"

            deadline = time.monotonic() + 5
            while not any(o["desired"] >= 1 for o in sink.outcomes) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            published = [o for o in sink.outcomes if o["name"] == "cold-00001"]
            assert published[-1]["desired"] >= 1
            assert published[-1]["replicas"] == published[-1]["desired"]

            # SIGTERM stops it cleanly even with a stat socket open.
            rig.proc.signal(signal.SIGTERM)
            assert await asyncio.to_thread(rig.proc.wait, 10) == 0
    finally:
        await sink.stop()
