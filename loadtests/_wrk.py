"""Run wrk and read its report.

Only wrk's default text report is parsed (``--latency`` adds the percentile
block); nothing here needs a Lua ``done()`` hook, so a caller's own Lua
script (for headers, say) stays free to use any of the others.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tempfile

from loadtests._launch import pin_argv

# wrk prints times with a unit chosen per value: 812.00us, 1.23ms, 2.00s, 1.50m.
_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"

_PERCENTILE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+" + _TIME + r"\s*$", re.M)
_TOTAL = re.compile(r"^\s*(\d+) requests in " + _TIME + r",", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


class WrkOutputError(ValueError):
    """wrk's output lacks a line the report needs (e.g. it failed to start)."""


@dataclasses.dataclass(frozen=True)
class WrkResult:
    """One wrk run. Times in milliseconds, duration in seconds."""

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    connect_errors: int = 0
    read_errors: int = 0
    write_errors: int = 0
    timeouts: int = 0
    # wrk counts statuses above 399 here, despite the "Non-2xx or 3xx" wording.
    non_2xx: int = 0

    @property
    def socket_errors(self) -> int:
        """Sum of connect, read, write and timeout errors."""
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts


def time_ms(value: str, unit: str) -> float:
    """Convert one of wrk's time figures (``"1.23", "ms"``) to milliseconds."""
    return float(value) * _TIME_UNITS_MS[unit]


def parse_wrk(text: str) -> WrkResult:
    """Parse wrk's text report, as printed with ``--latency``."""
    percentiles = {int(m[1]): time_ms(m[2], m[3]) for m in _PERCENTILE.finditer(text)}
    total = _TOTAL.search(text)
    rate = _RATE.search(text)
    missing = [k for k in (50, 75, 90, 99) if k not in percentiles]
    if total is None or rate is None or missing:
        raise WrkOutputError(f"not a complete wrk --latency report: {text[:400]!r}")
    socket = _SOCKET.search(text)
    errors = [int(g) for g in socket.groups()] if socket else [0, 0, 0, 0]
    non_2xx = _NON_2XX.search(text)
    return WrkResult(
        requests=int(total[1]),
        duration_s=time_ms(total[2], total[3]) / 1000.0,
        rps=float(rate[1]),
        p50_ms=percentiles[50],
        p75_ms=percentiles[75],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        connect_errors=errors[0],
        read_errors=errors[1],
        write_errors=errors[2],
        timeouts=errors[3],
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
    )


@dataclasses.dataclass(frozen=True)
class Load:
    """How hard and how long wrk drives a target."""

    connections: int = 50
    threads: int = 1
    duration_s: float = 5.0
    timeout_s: float = 2.0  # wrk's per-request timeout
    script: str | None = None  # path of a Lua script, e.g. from headers_script()


def wrk_argv(url: str, load: Load, cpu: int | None) -> list[str]:
    """The wrk command line for ``url`` under ``load``, pinned to ``cpu``."""
    argv = [
        "wrk",
        "--latency",
        f"--threads={load.threads}",
        f"--connections={load.connections}",
        f"--duration={max(1, round(load.duration_s))}s",
        f"--timeout={max(1, round(load.timeout_s))}s",
    ]
    if load.script:
        argv.append(f"--script={load.script}")
    argv.append(url)
    return pin_argv(argv, cpu)


def run_wrk(url: str, load: Load, cpu: int | None) -> WrkResult:
    """Run wrk against ``url`` and return its parsed report."""
    argv = wrk_argv(url, load, cpu)
    # wrk stops itself after --duration; the margin covers start-up and its
    # last timeouts, and keeps a wedged wrk from hanging the benchmark.
    limit = load.duration_s + load.timeout_s + 30.0
    done = subprocess.run(argv, capture_output=True, text=True, timeout=limit, check=False)
    if done.returncode != 0:
        raise WrkOutputError(f"wrk exited {done.returncode}: {done.stderr.strip()[:400]}")
    return parse_wrk(done.stdout)


def lua_string(value: str) -> str:
    """Quote ``value`` as a Lua string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def headers_script(headers: dict[str, str], directory: str | None = None) -> str:
    """Write a wrk Lua script that adds ``headers`` to every request; return its path."""
    lines = [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}\n" for k, v in headers.items()]
    fd, path = tempfile.mkstemp(prefix="wrk-headers-", suffix=".lua", dir=directory)
    with os.fdopen(fd, "w") as f:
        f.writelines(lines)
    return path
