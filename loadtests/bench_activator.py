"""The activator: CPU per request against nginx, memory while buffering, and the delay to a new pod.

    ./dev.sh bench activator [--runs 3 --duration 5 --buffered 10000]

1. Cost, in one interleaved run: the fast app direct (baseline), then each proxy
   alone in front of it, so each is measured in the same place: nginx, a
   queue-proxy, and the activator (the fast app answers the queue-proxy health
   probe, so the activator can take it for a pod). Target: the activator's CPU
   per request over nginx's within 1.1× of the queue-proxy's ratio. Also, for
   information, the activator in front of a queue-proxy in front of the app, as
   in a cluster (measured: the activator alone; it shares its CPU with both).
2. Memory: the activator's RSS idle (its stat link to a WebSocket sink up; target ≤ 25 MB), then with N requests (default 10,000)
   buffered for a revision at zero. Target: ≤ 50 MB above idle.
3. Cold-start hand-off: requests wait for a revision at zero; a pod starts; the
   time from its app accepting connections to the first response. Target ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import resource
import socket
import statistics
import sys
import tempfile
import time

from loadtests._launch import free_port, start_process, stop_process, wait_port
from loadtests._proc import read_rss_bytes
from loadtests.bench_queueproxy import paired, queue_proxy_case, queue_proxy_env, spawn_queue_proxy
from loadtests.harness import Case, Load, Scope, Target, compare
from loadtests.harness_cases import FAST_APP, direct_case, nginx_case, start_fast_app, url

HERE = pathlib.Path(__file__).resolve().parent
DIRECTORY_APP = HERE / "apps" / "directory.py"
REVISION = {"namespace": "bench", "name": "bench-00001", "containerConcurrency": 0, "timeoutSeconds": 300}
HEADERS = {"Knative-Serving-Revision": "bench-00001", "Knative-Serving-Namespace": "bench"}


def write_snapshot(path: pathlib.Path, version: int, pods: list[str]) -> None:
    doc = {"version": version, "revisions": [dict(REVISION, pods=[{"name": f"p{i}", "address": a, "ready": True} for i, a in enumerate(pods)])]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def qp_env(app_port: int, port: int) -> dict[str, str]:
    """The whole environment of a queue-proxy started with ``start_process``."""
    return {**os.environ, **queue_proxy_env(app_port, port)}


def activator_argv(port: int, directory_port: int, stats_url: str = "") -> list[str]:
    return [
        sys.executable, "-m", "dataplane", "activator", "--bind", "127.0.0.1", "--port", str(port),
        "--metrics-port", str(free_port()), "--directory", f"http://127.0.0.1:{directory_port}/directory",
        "--drain-delay", "0", "--pod-name", "bench-activator", *(["--autoscaler", stats_url] if stats_url else []),
        # routed by Knative-Serving-Revision, as behind a cluster's Gateway (off, those headers are ignored)
        "--trust-revision-headers",
    ]  # fmt: skip


async def stat_sink() -> tuple[object, str, list[int]]:
    """A WebSocket that takes the activator's stat frames, as the autoscaler's stat server does:
    the activator is measured with its link to the autoscaler up. Returns (runner, url, links opened)."""
    from aiohttp import web

    links = [0]

    async def take(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        links[0] += 1
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/stats", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"ws://127.0.0.1:{port}/stats", links


def activator_case(name: str = "activator", via_queue_proxy: bool = False) -> tuple[Case, str]:
    """fast app ← activator, or fast app ← queue-proxy ← activator; the activator is what is measured."""

    def setup(scope: Scope) -> Target:
        app_port, _ = start_fast_app(scope)
        pod_port = app_port
        if via_queue_proxy:
            pod_port, _ = spawn_queue_proxy(scope, app_port)
        snapshot = scope.workdir / "snapshot.json"
        write_snapshot(snapshot, 1, [f"127.0.0.1:{pod_port}"])
        dport = free_port()
        scope.spawn([sys.executable, str(DIRECTORY_APP), "--port", str(dport), "--file", str(snapshot)], port=dport, on="load")
        port = free_port()
        proc = scope.spawn(activator_argv(port, dport), port=port)
        time.sleep(0.5)  # the pod is probed and ready
        return Target(url(port), [proc.pid])

    script = pathlib.Path(tempfile.mkdtemp(prefix="bench-act-")) / "headers.lua"
    script.write_text("".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in HEADERS.items()))
    return Case(name, setup, load=None), str(script)


async def _buffer(port: int, count: int, started: asyncio.Event) -> list[float]:
    """Open ``count`` requests and keep them waiting; return each one's completion time."""
    request = (
        "GET / HTTP/1.1\r\nHost: bench\r\nKnative-Serving-Revision: bench-00001\r\n"
        "Knative-Serving-Namespace: bench\r\nConnection: close\r\n\r\n"
    ).encode()
    done: list[float] = []
    sem = asyncio.Semaphore(500)  # don't flood the accept queue

    async def one() -> None:
        async with sem:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
        data = await reader.read(65536)
        done.append(time.monotonic())
        writer.close()
        if not data.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected answer: {data[:80]!r}")

    tasks = [asyncio.ensure_future(one()) for _ in range(count)]
    while sum(1 for t in tasks if not t.done()) and sem._value < 500:  # noqa: SLF001 - all sent yet?
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    started.set()
    await asyncio.gather(*tasks)
    return done


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.05):
            return True
    except OSError:
        return False


async def buffering_and_handoff(count: int, handoff_requests: int) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count * 2 + 1000)), hard))
    out: dict = {}
    sink, stats_url, links = await stat_sink()
    with tempfile.TemporaryDirectory(prefix="bench-act-") as tmp:
        tmpdir = pathlib.Path(tmp)
        snapshot = tmpdir / "snapshot.json"
        write_snapshot(snapshot, 1, [])
        dport, port = free_port(), free_port()
        procs = [start_process([sys.executable, str(DIRECTORY_APP), "--port", str(dport), "--file", str(snapshot)], None)]
        try:
            wait_port(dport, timeout_s=15, proc=procs[0])
            act = start_process(activator_argv(port, dport, stats_url), None, str(tmpdir / "activator.log"))
            procs.append(act)
            wait_port(port, timeout_s=15, proc=act)
            await asyncio.sleep(2.5)  # its directory long-poll and stat link are up, a frame or two sent
            idle_rss = read_rss_bytes(act.pid)
            out["stat_links"] = links[0]
            for label, n in (("buffer", count), ("handoff", handoff_requests)):
                write_snapshot(snapshot, 2 if label == "buffer" else 4, [])
                await asyncio.sleep(0.3)
                ready = asyncio.Event()
                waiting = asyncio.ensure_future(_buffer(port, n, ready))
                await ready.wait()
                if label == "buffer":
                    out["idle_rss_mb"] = idle_rss / 2**20
                    out["buffered_rss_mb"] = read_rss_bytes(act.pid) / 2**20
                app_port, qp_port = free_port(), free_port()
                # the pod (its queue-proxy) is up and announced first; its app starts last, as after a cold start
                qp = start_process([sys.executable, "-m", "dataplane", "queue-proxy"], None, None, env=qp_env(app_port, qp_port))
                procs.append(qp)
                wait_port(qp_port, timeout_s=15, proc=qp)
                write_snapshot(snapshot, 3 if label == "buffer" else 5, [f"127.0.0.1:{qp_port}"])
                await asyncio.sleep(0.5)
                app = start_process([sys.executable, str(FAST_APP), "--port", str(app_port)], None)
                procs.append(app)
                while not _accepting(app_port):
                    await asyncio.sleep(0.0005)
                accepted = time.monotonic()
                done = await waiting
                if label == "handoff":
                    out["handoff_first_ms"] = (min(done) - accepted) * 1000
                    out["handoff_median_ms"] = (statistics.median(done) - accepted) * 1000
                    out["handoff_requests"] = len(done)
                else:
                    out["buffered"] = len(done)
                for p in (qp, app):
                    stop_process(p)
        finally:
            for p in reversed(procs):
                stop_process(p)
            await sink.cleanup()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7, help="interleaved rounds (the ratio of ratios is noisy: more rounds, steadier medians)")
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--buffered", type=int, default=10_000)
    p.add_argument("--handoff-requests", type=int, default=100)
    p.add_argument("--skip-cost", action="store_true")
    args = p.parse_args(argv)
    if not args.skip_cost:
        load = Load(connections=args.connections, duration_s=args.duration)
        cases = [direct_case(), nginx_case(), queue_proxy_case("queue-proxy", 0)]
        for case, script in (activator_case(), activator_case("activator-via-qp", via_queue_proxy=True)):
            cases.append(Case(case.name, case.setup, Load(args.connections, 1, args.duration, 2.0, script)))
        cost = compare(cases, baseline="direct", runs=args.runs, load=load, title="activator-cost")
        nginx = cost.by_name("nginx")
        act_ratio = paired(cost.by_name("activator"), nginx, "cpu_us_per_req")
        qp_ratio = paired(cost.by_name("queue-proxy"), nginx, "cpu_us_per_req")
        chain_ratio = paired(cost.by_name("activator-via-qp"), nginx, "cpu_us_per_req")
        print(f"\nactivator: CPU per request {act_ratio:.2f}× nginx's; queue-proxy {qp_ratio:.2f}×; "
              f"activator/queue-proxy ratio {act_ratio / qp_ratio:.2f} (target ≤ 1.1)")
        print(f"activator in front of a queue-proxy (sharing its CPU with it and the app): {chain_ratio:.2f}× nginx's")
    result = asyncio.run(buffering_and_handoff(args.buffered, args.handoff_requests))
    print(f"idle: RSS {result['idle_rss_mb']:.1f} MB with the directory long-poll and the stat link up "
          f"({result['stat_links']} open) (target ≤ 25)")
    print(f"buffering: {result['buffered']} requests held and answered; RSS {result['idle_rss_mb']:.1f} MB idle → "
          f"{result['buffered_rss_mb']:.1f} MB with them waiting: +{result['buffered_rss_mb'] - result['idle_rss_mb']:.1f} MB (target ≤ 50)")
    print(f"hand-off: app accepting → first response {result['handoff_first_ms']:.1f} ms (target ≤ 20), "
          f"median of {result['handoff_requests']} waiting requests {result['handoff_median_ms']:.1f} ms")


if __name__ == "__main__":
    main()
