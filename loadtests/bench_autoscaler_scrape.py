"""CPU share of one core the autoscaler spends scraping ~500 pods every second.

Fake pods run in a child process pinned to the load CPU: one uvloop process
listening on one port per pod, answering every request with a protobuf
``Stat`` on kept-alive connections. This process (pinned to the server CPU)
runs the cases, interleaved block by block:

* ``fetch loop`` (baseline): every second, ``HttpStatFetcher`` on every pod at
  once; the bare cost of the HTTP scrapes.
* ``service 500x1``: the real ``AutoscalerService`` with its loops, 500
  revisions of one pod (every pod scraped every second, decisions every 2 s).
* ``service 50x10``: 50 revisions of 10 pods; Knative's sample asks 7 of 10.

CPU comes from ``/proc/self/stat`` once a second (10 ms ticks, so about ±1 %
per sample); the table gives medians over the measured seconds of each case,
the ratio to the baseline, and how much of it the garbage collector took.

    python -m loadtests.bench_autoscaler_scrape [--pods 500] [--runs 2] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time

from dataplane.autoscaler.scraper import HttpStatFetcher
from dataplane.autoscaler.service import AutoscalerService
from dataplane.directory import PodInfo, RevisionInfo
from dataplane.stats.wire import Stat
from loadtests._launch import detect_pinning, pin_argv
from loadtests._proc import CLOCK_TICKS, read_stat

WARMUP_S = 2


# --- the fake pods (child process) -------------------------------------------


def _response() -> bytes:
    body = Stat(pod_name="fake", average_concurrent_requests=1.5, request_count=12.0, process_uptime=600.0).to_proto()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/protobuf\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class _FakePod(asyncio.Protocol):
    response = _response()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        # Requests are bodiless GETs: one answer per blank line.
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(self.response)


async def _serve_pods(count: int) -> None:
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(_FakePod, "127.0.0.1", 0, backlog=64) for _ in range(count)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print(json.dumps(ports), flush=True)
    # Lives until the benchmark closes our stdin.
    await loop.run_in_executor(None, sys.stdin.read)


# --- the cases (this process) ------------------------------------------------


def _cpu_seconds() -> float:
    stat = read_stat(os.getpid())
    return (stat.utime + stat.stime) / CLOCK_TICKS


class GcClock:
    """CPU seconds spent in the garbage collector, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.total = 0.0
        self._began = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._began = time.process_time()
        else:
            self.total += time.process_time() - self._began


class Case:
    """Per-second samples of one case; subclasses start, stop and count scrapes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cpu_shares: list[float] = []
        self.gc_shares: list[float] = []
        self.rates: list[float] = []


class FetchLoop(Case):
    """Every second, fetch every pod concurrently; nothing else."""

    async def start(self, addresses: list[str]) -> None:
        self.fetch = HttpStatFetcher()
        self.count = self.failed = 0
        self.task = asyncio.create_task(self._run(addresses))

    async def _run(self, addresses: list[str]) -> None:
        while True:
            now = time.time()
            await asyncio.sleep(math.floor(now) + 1.02 - now)
            results = await asyncio.gather(*(self.fetch(a) for a in addresses), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    self.failed += 1
                else:
                    self.count += 1

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.fetch.close()

    def scrapes(self) -> int:
        return self.count

    def errors(self) -> int:
        return self.failed


class Service(Case):
    """The real service and its loops over ``revisions`` revisions sharing the pods evenly."""

    def __init__(self, name: str, pods_per_revision: int) -> None:
        super().__init__(name)
        self.pods_per_revision = pods_per_revision

    async def start(self, addresses: list[str]) -> None:
        started = time.time() - 3600
        size = self.pods_per_revision
        revisions = [
            RevisionInfo(
                "bench",
                f"rev-{i // size:04d}",
                pods=tuple(
                    PodInfo(f"pod-{j}", address, True, address, started) for j, address in enumerate(addresses[i : i + size])
                ),
            )
            for i in range(0, len(addresses), size)
        ]
        self.service = AutoscalerService()
        self.service.apply(revisions)
        self.service.start()

    async def stop(self) -> None:
        await self.service.close()

    def scrapes(self) -> int:
        return sum(r.tally.answered for r in self.service.revisions.values())

    def errors(self) -> int:
        return sum(r.tally.errors for r in self.service.revisions.values())


async def _measure(case: FetchLoop | Service, addresses: list[str], seconds: int, gc_clock: GcClock) -> None:
    await case.start(addresses)
    try:
        await asyncio.sleep(WARMUP_S)
        errors_before = case.errors()
        for _ in range(seconds):
            cpu, in_gc, scrapes, began = _cpu_seconds(), gc_clock.total, case.scrapes(), time.monotonic()
            await asyncio.sleep(1.0)
            elapsed = time.monotonic() - began
            case.cpu_shares.append((_cpu_seconds() - cpu) / elapsed)
            case.gc_shares.append((gc_clock.total - in_gc) / elapsed)
            case.rates.append((case.scrapes() - scrapes) / elapsed)
        if case.errors() > errors_before:
            print(f"  {case.name}: {case.errors() - errors_before} scrape errors while measuring", file=sys.stderr)
    finally:
        await case.stop()


async def _bench(addresses: list[str], runs: int, seconds: int) -> list[FetchLoop | Service]:
    cases: list[FetchLoop | Service] = [FetchLoop("fetch loop"), Service("service 500x1", 1), Service("service 50x10", 10)]
    gc_clock = GcClock()
    for run in range(runs):
        # Rotate the starting case so none always follows the same neighbour.
        for i in range(len(cases)):
            await _measure(cases[(run + i) % len(cases)], addresses, seconds, gc_clock)
    return cases


def _report(cases: list[Case], pods: int, runs: int, seconds: int, placement: str) -> None:
    baseline = statistics.median(cases[0].cpu_shares)
    print(f"== autoscaler scrape: {pods} fake pods, {runs} x {seconds}s per case, {placement}; load average {os.getloadavg()[0]:.2f}")
    print(f"{'case':16s} {'CPU % core':>10s} {'x':>6s} {'of it GC %':>10s} {'scrapes/s':>10s} {'CPU us/scrape':>14s}")
    for case in cases:
        cpu = statistics.median(case.cpu_shares)
        rate = statistics.median(case.rates)
        per_scrape = cpu / rate * 1e6 if rate else float("nan")
        ratio = cpu / baseline if baseline else float("nan")
        in_gc = statistics.median(case.gc_shares)
        print(f"{case.name:16s} {cpu * 100:10.1f} {ratio:6.2f} {in_gc * 100:10.1f} {rate:10.0f} {per_scrape:14.0f}")
    print("medians of per-second samples; x = case / fetch loop; GC = time inside collections (gc.callbacks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=5, help="measured seconds per case per run")
    parser.add_argument("--serve-pods", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import uvloop

    if args.serve_pods:
        uvloop.run(_serve_pods(args.serve_pods))
        return

    pinning = detect_pinning()
    argv = pin_argv([sys.executable, "-m", "loadtests.bench_autoscaler_scrape", "--serve-pods", str(args.pods)], pinning.load_cpu)
    pods = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        ports = json.loads(pods.stdout.readline())
        if pinning.server_cpu is not None:
            os.sched_setaffinity(0, {pinning.server_cpu})
        placement = (
            f"scraper on CPU {pinning.server_cpu}, pods on CPU {pinning.load_cpu}" if pinning.pinned else "not pinned"
        )
        addresses = [f"127.0.0.1:{port}" for port in ports]
        cases = uvloop.run(_bench(addresses, args.runs, args.seconds))
        _report(cases, len(addresses), args.runs, args.seconds, placement)
    finally:
        pods.stdin.close()
        try:
            pods.wait(5)
        except subprocess.TimeoutExpired:
            pods.kill()
            pods.wait()


if __name__ == "__main__":
    main()
