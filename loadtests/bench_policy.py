"""Per-request cost of the queue-proxy's policy pieces, compiled build vs pure-Python twin.

Measures, in nanoseconds per pair of calls:

* breaker, uncontended: ``acquire()`` that admits, then ``release()`` with
  nobody waiting (every request with CC > 0 pays this);
* breaker, hand-off: with every slot held, ``acquire()`` that queues, then
  ``release()`` that admits it (the cost under load);
* collector: ``request_in()`` + ``request_out()`` on ``time.monotonic``
  (every request pays this).

Cases are interleaved round by round and the median round is reported, with
the bare loop's cost subtracted. Time is the thread's CPU time, which a noisy
neighbour disturbs far less than wall time. Build first:
``python setup.py build_ext --inplace``.

    python loadtests/bench_policy.py [--rounds 15] [--calls 200000] [--cpu 1]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import time

BUILDS = ("compiled", "pure")
SUFFIX = {"compiled": "_c", "pure": "_py"}


class _Waiter:
    __slots__ = ()

    def admitted(self) -> None:
        pass


def _loop(calls: int) -> int:
    start = time.thread_time_ns()
    for _ in range(calls):
        pass
    return time.thread_time_ns() - start


def _breaker_uncontended(mod, calls: int) -> int:
    breaker = mod.Breaker(100, 1000)
    acquire, release, waiter = breaker.acquire, breaker.release, _Waiter()
    start = time.thread_time_ns()
    for _ in range(calls):
        acquire(waiter)
        release()
    return time.thread_time_ns() - start


def _breaker_handoff(mod, calls: int) -> int:
    breaker = mod.Breaker(1, 1000)
    acquire, release, waiter = breaker.acquire, breaker.release, _Waiter()
    acquire(waiter)  # hold the only slot, so each acquire queues
    start = time.thread_time_ns()
    for _ in range(calls):
        acquire(waiter)
        release()
    elapsed = time.thread_time_ns() - start
    assert breaker.in_flight == 1 and breaker.queued == 0
    return elapsed


def _collector(mod, calls: int) -> int:
    collector = mod.Collector(time.monotonic)
    request_in, request_out = collector.request_in, collector.request_out
    start = time.thread_time_ns()
    for _ in range(calls):
        request_in(False)
        request_out(False)
    return time.thread_time_ns() - start


CASES = {
    "breaker acquire+release (uncontended)": ("dataplane.queueproxy._breaker", _breaker_uncontended),
    "breaker acquire+release (queued hand-off)": ("dataplane.queueproxy._breaker", _breaker_handoff),
    "collector request_in+request_out": ("dataplane.stats._collector", _collector),
}


def run(rounds: int, calls: int) -> dict[tuple[str, str], float]:
    """Median ns per pair for every (case, build)."""
    modules = {
        (case, build): importlib.import_module(base + SUFFIX[build])
        for case, (base, _) in CASES.items()
        for build in BUILDS
    }
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in modules}
    gc.disable()  # a collection inside one round would be noise, nothing here allocates per call
    try:
        for round_no in range(rounds):
            # alternate which build goes first, so drift hits both alike
            order = BUILDS if round_no % 2 == 0 else BUILDS[::-1]
            for case, (_, bench) in CASES.items():
                for build in order:
                    loop = _loop(calls)
                    elapsed = bench(modules[case, build], calls)
                    samples[case, build].append(max(elapsed - loop, 0) / calls)
    finally:
        gc.enable()
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200_000, help="pairs of calls per round")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU (default: the last one)")
    args = parser.parse_args()

    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[-1] if args.cpu is None else args.cpu
    os.sched_setaffinity(0, {cpu})

    medians = run(args.rounds, args.calls)
    print(f"pinned to CPU {cpu}; {args.rounds} rounds x {args.calls} pairs; median ns per pair, loop cost removed")
    print(f"{'case':45} {'compiled':>10} {'pure':>10} {'pure/compiled':>14}")
    for case in CASES:
        compiled, pure = medians[case, "compiled"], medians[case, "pure"]
        ratio = pure / compiled if compiled else float("inf")
        print(f"{case:45} {compiled:10.1f} {pure:10.1f} {ratio:13.2f}x")


if __name__ == "__main__":
    main()
