"""The benchmark harness: cases, interleaved runs, medians, ratios.

A benchmark is a list of :class:`Case` objects and one call::

    compare([Case("direct", start_direct), Case("nginx", start_nginx)], baseline="direct")

Each case's setup starts its processes through the :class:`Scope` it is given
(pinned to the server CPU, stopped by the runner afterwards) and returns a
:class:`Target`: the URL to load and the pids whose CPU and memory count.
The runner warms every case up, optionally watches them idle, then runs
round after round (each round loads every case once) and reports medians and
ratios against the baseline case.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import TextIO

from loadtests._launch import (
    Pinning,
    detect_pinning,
    free_port,
    pin_argv,
    start_process,
    stop_process,
    wait_children,
    wait_port,
)
from loadtests._proc import IdleReport, measure_idle, measure_idle_many, sample
from loadtests._report import CaseSummary, Idle, RunMetrics, format_table, summarize, summary_json
from loadtests._wrk import Load, WrkResult, headers_script, parse_wrk, run_wrk

__all__ = [
    "Case",
    "CaseSummary",
    "Comparison",
    "IdleReport",
    "Load",
    "Pinning",
    "RunMetrics",
    "Scope",
    "Target",
    "WrkResult",
    "compare",
    "detect_pinning",
    "free_port",
    "headers_script",
    "measure_idle",
    "measure_run",
    "parse_wrk",
    "pin_argv",
    "run_wrk",
    "sample",
    "schedule",
    "wait_port",
]

DEFAULT_LOAD = Load()  # frozen, so one shared default is safe
RESULTS_DIR = pathlib.Path(__file__).resolve().parent / "results"


@dataclasses.dataclass(frozen=True)
class Target:
    """What a case's setup hands back: where to send load and what to measure."""

    url: str
    pids: list[int]
    children: bool = False  # also count the pids' descendants


class Scope:
    """A case's running processes and private directory, cleaned up by the runner."""

    def __init__(self, name: str, pinning: Pinning, workdir: pathlib.Path) -> None:
        self.name = name
        self.pinning = pinning
        self.workdir = workdir
        self._procs: list[subprocess.Popen] = []
        self._cleanups: list[Callable[[], None]] = []

    def spawn(
        self, argv: list[str], port: int | None = None, on: str = "server", ready_s: float = 15.0
    ) -> subprocess.Popen:
        """Start ``argv`` and wait until it accepts on ``port`` (if given).

        ``on`` picks its CPU: ``"server"`` (beside the process under test),
        ``"load"`` (beside wrk) or ``"any"`` (not pinned). Output goes to a log
        file in :attr:`workdir`; its tail is in the error if the process never
        starts listening.
        """
        cpus = {"server": self.pinning.server_cpu, "load": self.pinning.load_cpu, "any": None}
        log = self.workdir / f"{len(self._procs)}-{pathlib.Path(argv[0]).name}.log"
        proc = start_process(argv, cpus[on], str(log))
        self._procs.append(proc)
        if port is not None:
            try:
                wait_port(port, timeout_s=ready_s, proc=proc)
            except (RuntimeError, TimeoutError) as e:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"{self.name}: {e}\n--- {log} ---\n{tail}") from e
        return proc

    def children_of(self, proc: subprocess.Popen, count: int = 1) -> list[int]:
        """Pids of ``proc``'s children once ``count`` exist (e.g. nginx workers)."""
        return wait_children(proc.pid, count)

    def on_close(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` when the case is torn down, before its processes stop."""
        self._cleanups.append(fn)

    def close(self) -> None:
        """Run cleanups, then stop processes, newest first."""
        try:
            for fn in reversed(self._cleanups):
                fn()
        finally:
            for proc in reversed(self._procs):
                stop_process(proc)


@dataclasses.dataclass(frozen=True)
class Case:
    """A named way to serve the benchmark URL.

    ``setup`` starts what it needs through the :class:`Scope` and returns the
    :class:`Target`; anything not started through the scope is undone by
    registering a cleanup with :meth:`Scope.on_close`. ``load`` overrides the
    comparison's load (e.g. a Lua headers script) for this case only.
    """

    name: str
    setup: Callable[[Scope], Target]
    load: Load | None = None


def schedule(names: list[str], runs: int) -> list[tuple[int, str]]:
    """The order of runs: round after round, each case once per round.

    The starting case rotates from round to round, so no case always runs
    right after a pause or right after a heavy neighbour.
    """
    n = len(names)
    return [(r, names[(r + i) % n]) for r in range(runs) for i in range(n)]


def measure_run(target: Target, load: Load, load_cpu: int | None) -> RunMetrics:
    """Load ``target`` once with wrk; CPU and RSS of its pids before and after."""
    before = sample(target.pids, target.children)
    result = run_wrk(target.url, load, load_cpu)
    after = sample(target.pids, target.children)
    cpu_s = after.cpu_s - before.cpu_s
    return RunMetrics(
        rps=result.rps,
        p50_ms=result.p50_ms,
        p90_ms=result.p90_ms,
        p99_ms=result.p99_ms,
        cpu_us_per_req=cpu_s * 1e6 / result.requests if result.requests else float("nan"),
        rss_mb=after.rss_bytes / 2**20,
        requests=result.requests,
        errors=result.socket_errors + result.non_2xx,
    )


Measure = Callable[[Target, Load, int | None], RunMetrics]


@dataclasses.dataclass
class Comparison:
    """The outcome of :func:`compare`."""

    title: str
    baseline: str
    summaries: list[CaseSummary]
    table: str
    json_path: pathlib.Path | None

    def by_name(self, name: str) -> CaseSummary:
        """The summary of case ``name``."""
        return next(s for s in self.summaries if s.name == name)


def _idle_window(targets: dict[str, Target], seconds: float) -> dict[str, Idle]:
    # One window for all cases at once: they are all idle, so none disturbs another.
    groups = {name: (t.pids, t.children) for name, t in targets.items()}
    return {
        name: Idle(seconds=r.seconds, cpu_percent=r.cpu_percent, rss_mb=r.rss_bytes / 2**20)
        for name, r in measure_idle_many(groups, seconds).items()
    }


def compare(
    cases: list[Case],
    baseline: str,
    runs: int = 3,
    load: Load = DEFAULT_LOAD,
    warmup_s: float = 1.0,
    idle_s: float = 0.0,
    title: str = "compare",
    pinning: Pinning | None = None,
    measure: Measure = measure_run,
    results_dir: pathlib.Path | None = RESULTS_DIR,
    out: TextIO | None = None,
) -> Comparison:
    """Set up every case, run them interleaved ``runs`` times, report and return medians.

    The table goes to ``out`` (stdout by default) and the data to a JSON file
    in ``results_dir`` (none if it is ``None``).
    """
    out = out or sys.stdout
    names = [c.name for c in cases]
    if len(set(names)) != len(names) or baseline not in names:
        raise ValueError(f"case names must be unique and include {baseline!r}: {names}")
    if runs < 1:
        raise ValueError("runs must be at least 1")
    pinning = pinning or detect_pinning()
    # Taken before our own load: it tells how busy the neighbours were.
    loadavg = os.getloadavg()[0]
    loads = {c.name: c.load or load for c in cases}
    scopes: list[Scope] = []
    with tempfile.TemporaryDirectory(prefix=f"bench-{title}-") as tmp:
        try:
            targets = {}
            for case in cases:
                scope = Scope(case.name, pinning, pathlib.Path(tmp) / f"case{len(scopes)}")
                scope.workdir.mkdir()
                scopes.append(scope)
                targets[case.name] = case.setup(scope)
            if warmup_s > 0:
                for name in names:
                    short = dataclasses.replace(loads[name], duration_s=warmup_s)
                    measure(targets[name], short, pinning.load_cpu)
            idle = _idle_window(targets, idle_s) if idle_s > 0 else None
            results: dict[str, list[RunMetrics]] = {n: [] for n in names}
            for _, name in schedule(names, runs):
                results[name].append(measure(targets[name], loads[name], pinning.load_cpu))
        finally:
            for scope in reversed(scopes):
                scope.close()
    summaries = summarize(results, baseline, idle)
    table = format_table(summaries, baseline)
    print(_header(title, pinning, load, runs, loadavg), file=out)
    print(table, file=out)
    json_path = None
    if results_dir is not None:
        context = {"pinning": dataclasses.asdict(pinning), "load": dataclasses.asdict(load)}
        context["loadavg_before"] = loadavg
        json_path = _write_json(results_dir, title, baseline, context, summaries)
        print(f"data: {json_path}", file=out)
    return Comparison(title, baseline, summaries, table, json_path)


def _header(title: str, pinning: Pinning, load: Load, runs: int, loadavg: float) -> str:
    where = (
        f"server on CPU {pinning.server_cpu}, wrk on CPU {pinning.load_cpu}"
        if pinning.pinned
        else "not pinned (one CPU)"
    )
    return (
        f"== {title}: {runs} runs x {load.duration_s:g}s, {load.connections} connections, "
        f"{load.threads} wrk thread(s); {where}; load average before: {loadavg:.2f}"
    )


def _write_json(
    directory: pathlib.Path,
    title: str,
    baseline: str,
    context: dict,
    summaries: list[CaseSummary],
) -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = directory / f"{title}-{stamp}.json"
    for n in range(2, 100):  # two comparisons in the same second keep both files
        if not path.exists():
            break
        path = directory / f"{title}-{stamp}-{n}.json"
    data = {
        "title": title,
        "baseline": baseline,
        **context,
        "cases": {s.name: summary_json(s) for s in summaries},
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
