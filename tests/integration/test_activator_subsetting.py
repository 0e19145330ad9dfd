"""Two activator processes in front of one queue-proxy: together they never hand the pod more than containerConcurrency.

Each reads its place among the directory's ``activators`` and takes its share of
the revision's slots (Knative's activator subsetting, split exactly), so
however requests spread over the activators, the pod holds at most
containerConcurrency of them: the rest wait in the activators, where a new pod
could take them, not in the pod's own queue.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import aiohttp
import pytest

from tests.integration.fakes import DirectoryServer, StatSink
from tests.support import Pod, Proc, dataplane_cmd, free_port, start_pod

NS = "default"
CC = 3
HEADERS = {"Knative-Serving-Revision": "hello-00001", "Knative-Serving-Namespace": NS}


def activator(name: str, directory: DirectoryServer, sink: StatSink) -> tuple[Proc, int]:
    port = free_port()
    cmd = dataplane_cmd(
        "activator",
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--metrics-port", str(free_port()),
        "--directory", directory.url,
        "--autoscaler", sink.url,
        "--pod-name", name,
        "--drain-delay", "0.1",
        "--trust-revision-headers",
    )  # fmt: skip
    return Proc(cmd, None, port), port


@pytest.fixture
async def plane():
    directory, sink = await DirectoryServer().start(), await StatSink().start()
    procs: list[Proc] = []
    pods: list[Pod] = []
    yield directory, sink, procs, pods
    for proc in procs:
        proc.stop()
    for pod in pods:
        pod.stop()
    await directory.stop()
    await sink.stop()


async def in_flight(s: aiohttp.ClientSession, pod: Pod) -> int:
    """The queue-proxy's requests in flight, queued ones included."""
    async with s.get(f"http://127.0.0.1:{pod.ports['metrics']}/metrics") as r:
        for line in (await r.text()).splitlines():
            if line.startswith("revision_in_flight_requests{"):  # the default (OpenCensus) dialect's name
                return int(float(line.rsplit(" ", 1)[1]))
    raise AssertionError("no revision_in_flight_requests")


async def test_two_activators_share_one_pods_concurrency(plane):
    directory, sink, procs, pods = plane
    pod = await asyncio.to_thread(start_pod, CONTAINER_CONCURRENCY=str(CC))
    pods.append(pod)
    ports = []
    for name in ("activator-a", "activator-b"):
        proc, port = await asyncio.to_thread(activator, name, directory, sink)
        procs.append(proc)
        ports.append(port)
    revision = {"namespace": NS, "name": "hello-00001", "containerConcurrency": CC, "timeoutSeconds": 30,
                "pods": [{"name": "hello-00001-pod", "address": pod.address, "ready": True}]}  # fmt: skip
    directory.publish([revision], activators=["activator-a", "activator-b"])
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        for port in ports:  # each has probed the pod (and read the snapshot) before the burst
            deadline = time.monotonic() + 10
            while True:
                async with s.get(f"http://127.0.0.1:{port}/sleep?ms=1", headers=HEADERS) as r:
                    if r.status == 200:
                        break
                assert time.monotonic() < deadline, "the activator never reached the pod"
                await asyncio.sleep(0.05)

        samples: list[int] = []
        done = asyncio.Event()

        async def watch() -> None:
            while not done.is_set():
                samples.append(await in_flight(s, pod))
                await asyncio.sleep(0.02)

        async def call(port: int) -> int:
            async with s.get(f"http://127.0.0.1:{port}/sleep?ms=300", headers=HEADERS) as r:
                await r.read()
                return r.status

        watcher = asyncio.ensure_future(watch())
        # 4 × CC at once, half through each activator: alone, either would fill the pod
        statuses = await asyncio.gather(*(call(ports[i % 2]) for i in range(4 * CC)))
        done.set()
        await watcher
        async with s.get(f"http://127.0.0.1:{pod.app.port}/busy") as r:
            app = await r.json()
    assert Counter(statuses) == {200: 4 * CC}
    assert app["max"] <= CC
    assert len(samples) >= 20 and max(samples) <= CC, samples
    assert max(samples) >= 2  # both shares were in use (2 + 1 of 3 slots)
