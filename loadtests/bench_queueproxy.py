"""The queue-proxy against nginx and haproxy, side by side in one run.

    ./dev.sh bench queueproxy [--runs 3 --duration 5]

Part 1, cost: the fast app direct (baseline), through nginx (upstream keepalive,
the C baseline), and through our queue-proxy with containerConcurrency 0 and 10.
Measured: CPU µs per request of the proxy process, req/s, p50/p99, RSS.
Part 2, the limit: the app sleeps 10 ms, CC=10, 50 clients — throughput against
the ideal CC / latency, and p99 against haproxy with ``maxconn 10``.
Also the queue-proxy's idle RSS and CPU. Targets: CPU per request ≤ 2.0× nginx's
(compiled build); p99 at the limit ≤ 1.1× haproxy's; idle RSS ≤ 25 MB; no CPU
when idle.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from loadtests._launch import free_port
from loadtests.harness import Case, Load, Scope, Target, compare
from loadtests.harness_cases import direct_case, haproxy_case, nginx_case, start_fast_app, url


def queue_proxy_env(app_port: int, port: int, concurrency: int = 0) -> dict[str, str]:
    """Knative's queue-proxy environment for a pod serving on ``port`` in front of ``app_port``."""
    return {
        "CONTAINER_CONCURRENCY": str(concurrency),
        "QUEUE_SERVING_PORT": str(port),
        "QUEUE_ADMIN_PORT": str(free_port()),
        "QUEUE_STATS_PORT": str(free_port()),
        "QUEUE_METRICS_PORT": str(free_port()),
        "QUEUE_BIND_ADDRESS": "127.0.0.1",
        "USER_PORT": str(app_port),
        "REVISION_TIMEOUT_SECONDS": "300",
        "SERVING_NAMESPACE": "bench",
        "SERVING_CONFIGURATION": "bench",
        "SERVING_REVISION": "bench-00001",
        "SERVING_POD": "bench-00001-pod",
        "SERVING_POD_IP": "127.0.0.1",
    }


def spawn_queue_proxy(scope: Scope, app_port: int, concurrency: int = 0):
    """Start `dataplane queue-proxy` in ``scope`` in front of ``app_port``; return ``(port, proc)``."""
    port = free_port()
    env = queue_proxy_env(app_port, port, concurrency)
    # `env` execs the interpreter, so the pid measured is the queue-proxy itself
    argv = ["env", *(f"{k}={v}" for k, v in env.items()), sys.executable, "-m", "dataplane", "queue-proxy"]
    return port, scope.spawn(argv, port=port)


def queue_proxy_case(name: str, concurrency: int, sleep_ms: float = 0.0, app_on: str = "server") -> Case:
    """The fast app behind `dataplane queue-proxy`; the queue-proxy is what is measured."""

    def setup(scope: Scope) -> Target:
        app_port, _ = start_fast_app(scope, sleep_ms, on=app_on)
        port, proc = spawn_queue_proxy(scope, app_port, concurrency)
        return Target(url(port), [proc.pid])

    return Case(name, setup)


def paired(case, base, metric: str) -> float:
    """Median over rounds of case/base for ``metric``: each round's pair ran moments apart."""
    return statistics.median(getattr(a, metric) / getattr(b, metric) for a, b in zip(case.runs, base.runs))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--idle", type=float, default=5.0, help="idle window in seconds")
    p.add_argument("--skip-limit", action="store_true", help="only part 1")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load = Load(connections=args.connections, duration_s=args.duration)
    cost = compare(
        [direct_case(), nginx_case(), queue_proxy_case("qp-cc0", 0), queue_proxy_case("qp-cc10", 10)],
        baseline="direct",
        runs=args.runs,
        load=load,
        idle_s=args.idle,
        title="queueproxy-cost",
    )
    nginx = cost.by_name("nginx")
    print()
    for name in ("qp-cc0", "qp-cc10"):
        qp = cost.by_name(name)
        print(
            f"{name}: CPU per request {qp.median['cpu_us_per_req']:.1f} µs = {paired(qp, nginx, 'cpu_us_per_req'):.2f}× nginx's "
            f"({nginx.median['cpu_us_per_req']:.1f} µs; target ≤ 2.0×); req/s {paired(qp, nginx, 'rps'):.2f}× nginx's"
        )
        if qp.idle is not None:
            print(f"{name}: idle RSS {qp.idle.rss_mb:.1f} MB (target ≤ 25), idle CPU {qp.idle.cpu_percent:.3f} % (target 0)")
    if args.skip_limit:
        return
    limit = compare(
        [haproxy_case("haproxy-maxconn10", sleep_ms=10, maxconn=10), queue_proxy_case("qp-cc10-limit", 10, sleep_ms=10)],
        baseline="haproxy-maxconn10",
        runs=args.runs,
        load=load,
        title="queueproxy-limit",
    )
    ideal = 10 / 0.010
    hap, qp = limit.by_name("haproxy-maxconn10"), limit.by_name("qp-cc10-limit")
    print()
    qrps, hrps = qp.median["rps"], hap.median["rps"]
    print(f"limit: queue-proxy {qrps:.0f} req/s = {qrps / ideal:.2f} of the ideal {ideal:.0f} (CC / app latency); haproxy {hrps:.0f} req/s = {hrps / ideal:.2f}")
    print(f"limit: p99 {qp.median['p99_ms']:.2f} ms = {paired(qp, hap, 'p99_ms'):.2f}× haproxy's {hap.median['p99_ms']:.2f} ms (target ≤ 1.1×)")


if __name__ == "__main__":
    main()
