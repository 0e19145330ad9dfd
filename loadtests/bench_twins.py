"""Micro-benchmark: the breaker and the collector, these builds against a baseline commit's.

No sockets: each case calls the twin's hot path in a loop, as the queue-proxy
does once per request. Four builds of each module run side by side:

* ``base-c``: the baseline commit's compiled module, built here into a temporary
  directory from its sources (a hand-written ``.pyx`` there);
* ``c``: this tree's compiled module (build it first: ``python setup.py build_ext --inplace``);
* ``base-py`` and ``py``: the pure-Python twins of the baseline and of this tree.

Cases, one operation each:

* breaker admit: ``acquire`` a free slot, ``release`` it;
* breaker queue: every slot taken, ``acquire`` queues, ``release`` hands the
  slot to that waiter (its ``admitted()`` runs);
* breaker reject: queue full, ``acquire`` is refused;
* collector: ``request_in`` + ``request_out`` on ``time.monotonic`` (plain or
  proxied), and on a Python clock.

Builds and cases are interleaved in many short rounds (the machine is shared);
time is the thread's CPU time. Each figure is the median over rounds of ns per
operation; ``x`` is the median over rounds of this build / the baseline's in the
same round, with the 10th-90th percentile of those ratios as the spread.

    python loadtests/bench_twins.py [--baseline REF] [--rounds 60] [--ms 20] [--cpu 1]

``--baseline`` defaults to the last commit with both hand-written ``.pyx`` files.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = {  # name -> (baseline compiled source, pure twin)
    "_breaker_c": ("ext/queueproxy/_breaker_c.pyx", "dataplane/queueproxy/_breaker_py.py"),
    "_collector_c": ("ext/stats/_collector_c.pyx", "dataplane/stats/_collector_py.py"),
}
BUILDS = ("base-c", "c", "base-py", "py")

# the baseline's compile, as its setup.py made it
BUILD_SCRIPT = """
from setuptools import Extension, setup
from Cython.Build import cythonize
names = {names!r}
setup(
    script_args=["-q", "build_ext", "--inplace"],
    ext_modules=cythonize(
        [Extension(n, [n + ".pyx"], extra_compile_args=["-O2"]) for n in names],
        language_level=3, quiet=True,
        compiler_directives={{"boundscheck": False, "wraparound": False, "cdivision": True}},
    ),
)
"""


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def default_baseline() -> str:
    """The commit before the first hand-written .pyx of these modules went."""
    removed = git("log", "--format=%H", "--diff-filter=D", "--", *(pyx for pyx, _ in MODULES.values())).split()
    return f"{removed[-1]}~1" if removed else "HEAD"


def load_file(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def baseline_builds(ref: str, tmp: Path) -> dict[str, dict]:
    """The baseline's compiled modules and pure twins, from ``git show``."""
    for name, (pyx, py) in MODULES.items():
        (tmp / f"{name}.pyx").write_text(git("show", f"{ref}:{pyx}"))
        (tmp / f"{name[:-2]}_base_py.py").write_text(git("show", f"{ref}:{py}"))
    subprocess.run([sys.executable, "-c", BUILD_SCRIPT.format(names=list(MODULES))], cwd=tmp, check=True)
    compiled, pure = {}, {}
    for name in MODULES:
        (so,) = tmp.glob(f"{name}.*.so")
        compiled[name] = load_file(name, so)
        pure[name] = load_file(f"{name[:-2]}_base_py", tmp / f"{name[:-2]}_base_py.py")
    return {"base-c": compiled, "base-py": pure}


def current_builds() -> dict[str, dict]:
    from dataplane.queueproxy import _breaker_c, _breaker_py
    from dataplane.stats import _collector_c, _collector_py

    for module in (_breaker_c, _collector_c):
        assert module.__file__.endswith(".so"), f"{module.__name__} is not compiled: run setup.py build_ext --inplace"
    return {
        "c": {"_breaker_c": _breaker_c, "_collector_c": _collector_c},
        "py": {"_breaker_c": _breaker_py, "_collector_c": _collector_py},
    }


class Waiter:
    def admitted(self) -> None:
        pass


def breaker_admit(mod, n: int) -> None:
    b = mod.Breaker(1, 10)
    acquire, release, w = b.acquire, b.release, Waiter()
    for _ in range(n):
        acquire(w)
        release()


def breaker_queue(mod, n: int) -> None:
    b = mod.Breaker(1, 10)
    acquire, release, w = b.acquire, b.release, Waiter()
    acquire(Waiter())
    for _ in range(n):
        acquire(w)  # QUEUED
        release()  # w takes the slot


def breaker_reject(mod, n: int) -> None:
    b = mod.Breaker(1, 0)
    acquire, w = b.acquire, Waiter()
    acquire(w)
    for _ in range(n):
        acquire(w)


def collector(proxied: bool, clock=time.monotonic):
    def run(mod, n: int) -> None:
        c = mod.Collector(clock)
        request_in, request_out = c.request_in, c.request_out
        for _ in range(n):
            request_in(proxied)
            request_out(proxied)

    return run


def python_clock() -> float:
    return 1.0


CASES = {  # name -> (module, loop)
    "breaker admit": ("_breaker_c", breaker_admit),
    "breaker queue": ("_breaker_c", breaker_queue),
    "breaker reject": ("_breaker_c", breaker_reject),
    "collector": ("_collector_c", collector(False)),
    "collector proxied": ("_collector_c", collector(True)),
    "collector py clock": ("_collector_c", collector(False, python_clock)),
}


def timed(loop, mod, n: int) -> float:
    """ns of thread CPU time per operation."""
    start = time.thread_time_ns()
    loop(mod, n)
    return (time.thread_time_ns() - start) / n


def calibrate(loop, mod, ms: float) -> int:
    n = 1000
    while timed(loop, mod, n) * n < ms * 1e6 / 4:
        n *= 2
    return max(1000, int(n * ms * 1e6 / 4 / (timed(loop, mod, n) * n) * 4))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default=None, help="git ref whose .pyx build is the baseline")
    p.add_argument("--rounds", type=int, default=60)
    p.add_argument("--ms", type=float, default=20.0, help="CPU milliseconds per case and build in a round")
    p.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    ref = args.baseline or default_baseline()
    with tempfile.TemporaryDirectory() as tmp:
        builds = {**baseline_builds(ref, Path(tmp)), **current_builds()}
    loops = {case: calibrate(loop, builds["base-c"][name], args.ms) for case, (name, loop) in CASES.items()}
    samples: dict[tuple[str, str], list[float]] = {(c, b): [] for c in CASES for b in BUILDS}
    for r in range(args.rounds):
        for case, (name, loop) in CASES.items():
            order = BUILDS if r % 2 == 0 else BUILDS[::-1]
            for build in order:
                samples[case, build].append(timed(loop, builds[build][name], loops[case]))
    print(f"== twins: baseline {git('rev-parse', '--short', ref).strip()}, {args.rounds} rounds, load {os.getloadavg()[0]:.2f}")
    print(f"{'case':20} {'base-c':>7} {'c':>7} {'x c/base-c':>11} {'p10-p90':>12} {'base-py':>8} {'py':>7} {'x py/base':>10}")
    for case in CASES:
        med = {b: statistics.median(samples[case, b]) for b in BUILDS}
        cx = [n / o for n, o in zip(samples[case, "c"], samples[case, "base-c"])]
        px = [n / o for n, o in zip(samples[case, "py"], samples[case, "base-py"])]
        print(
            f"{case:20} {med['base-c']:7.1f} {med['c']:7.1f} {statistics.median(cx):11.3f}"
            f" {percentile(cx, 0.1):5.3f}-{percentile(cx, 0.9):5.3f}"
            f" {med['base-py']:8.1f} {med['py']:7.1f} {statistics.median(px):10.3f}"
        )
    print("ns per operation (thread CPU), medians over rounds; x = median over rounds of build / baseline build")


if __name__ == "__main__":
    main()
