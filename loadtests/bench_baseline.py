"""Baseline: the fast app direct vs through nginx vs through haproxy.

    bash loadtests/ensure-tools.sh
    .venv/bin/python -m loadtests.bench_baseline [--runs 3 --duration 5 --connections 50]

Prints the comparison table and writes its data under loadtests/results/.
"""

from __future__ import annotations

import argparse

from loadtests.harness import Load, compare
from loadtests.harness_cases import direct_case, haproxy_case, nginx_case


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags of the baseline benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="rounds; each loads every case once")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per run (whole seconds)")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per case")
    p.add_argument("--idle", type=float, default=3.0, help="idle window in seconds (0: skip)")
    p.add_argument("--sleep-ms", type=float, default=0.0, help="the app's delay per request")
    p.add_argument(
        "--app-on",
        choices=("server", "load", "any"),
        default="server",
        help="CPU of the app behind a proxy: with the proxy (default), with wrk, or unpinned",
    )
    p.add_argument("--haproxy-maxconn", type=int, default=None)
    args = p.parse_args(argv)
    if args.runs < 1 or not 1 <= args.duration <= 120:
        p.error("need --runs >= 1 and 1 <= --duration <= 120")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cases = [
        direct_case(sleep_ms=args.sleep_ms),
        nginx_case(sleep_ms=args.sleep_ms, app_on=args.app_on),
        haproxy_case(sleep_ms=args.sleep_ms, maxconn=args.haproxy_maxconn, app_on=args.app_on),
    ]
    load = Load(connections=args.connections, threads=args.threads, duration_s=args.duration)
    compare(
        cases,
        baseline="direct",
        runs=args.runs,
        load=load,
        warmup_s=args.warmup,
        idle_s=args.idle,
        title="baseline",
    )


if __name__ == "__main__":
    main()
