"""Locust from the outside: its command line, and its CSV files read back.

Locust replaces parts of the standard library with gevent's when imported, so
it always runs as a child process (see style.md, "Measuring"); nothing here
imports it.
"""

from __future__ import annotations

import csv
import re
import sys
from dataclasses import dataclass
from pathlib import Path

LOCUSTFILES = Path(__file__).resolve().parent / "locust"
AGGREGATED = "Aggregated"
_WRAPPED = re.compile(r"^CatchResponseError\((['\"])(.*)\1\)$", re.DOTALL)


def locust_command(
    locustfile: Path,
    host: str,
    csv_prefix: Path,
    users: int,
    spawn_rate: float,
    duration_s: int,
    host_header: str = "",
    extra: list[str] | None = None,
) -> list[str]:
    """Headless locust for a bounded time, with per-second history in ``<csv_prefix>_stats_history.csv``.

    ``--csv-full-history`` makes the history rows carry the *current* (recent
    window) percentiles instead of cumulative ones; the locustfiles shorten
    that window to a few seconds.
    """
    argv = [
        sys.executable, "-m", "locust",
        "-f", str(locustfile),
        "--headless",
        "--host", host,
        "-u", str(users),
        "-r", f"{spawn_rate:g}",
        "-t", f"{int(duration_s)}s",
        "--stop-timeout", "30",
        "--csv", str(csv_prefix),
        "--csv-full-history",
        "--only-summary",
        "--loglevel", "WARNING",
        # failures are what the report is about; they are not an error of the run
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    if host_header:
        argv += ["--host-header", host_header]
    return argv + list(extra or [])


@dataclass(frozen=True)
class HistoryRow:
    """One second of locust's aggregated history."""

    timestamp: int
    users: int
    rps: float
    """Locust's own smoothed requests/s (about the last 10 s)."""
    failures_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    total_requests: int
    total_failures: int


@dataclass(frozen=True)
class Totals:
    """The whole run, from the Aggregated row of ``<prefix>_stats.csv``."""

    requests: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    avg_ms: float | None
    max_ms: float | None


@dataclass(frozen=True)
class FailureGroup:
    """Failures of one kind, from ``<prefix>_failures.csv``."""

    method: str
    name: str
    reason: str
    count: int


def _number(value: str | None) -> float | None:
    if value in (None, "", "N/A"):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def read_history(path: Path) -> list[HistoryRow]:
    """The Aggregated rows of a stats history CSV, oldest first ([] if the file is missing)."""
    if not path.exists():
        return []
    rows = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("Name") != AGGREGATED:
                continue
            try:
                rows.append(
                    HistoryRow(
                        timestamp=int(row["Timestamp"]),
                        users=int(row["User Count"]),
                        rps=_number(row["Requests/s"]) or 0.0,
                        failures_per_s=_number(row["Failures/s"]) or 0.0,
                        p50_ms=_number(row.get("50%")),
                        p95_ms=_number(row.get("95%")),
                        p99_ms=_number(row.get("99%")),
                        total_requests=int(row["Total Request Count"]),
                        total_failures=int(row["Total Failure Count"]),
                    )
                )
            except (KeyError, ValueError, TypeError):
                continue  # a row cut short while locust was writing it (missing fields read as None)
    return rows


def read_totals(path: Path) -> Totals | None:
    """The Aggregated row of ``<prefix>_stats.csv``, None when missing."""
    if not path.exists():
        return None
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("Name") == AGGREGATED:
                return Totals(
                    requests=int(row["Request Count"]),
                    failures=int(row["Failure Count"]),
                    p50_ms=_number(row.get("50%")),
                    p95_ms=_number(row.get("95%")),
                    p99_ms=_number(row.get("99%")),
                    avg_ms=_number(row.get("Average Response Time")),
                    max_ms=_number(row.get("Max Response Time")),
                )
    return None


def failure_reason(error: str) -> str:
    """The reason a locustfile gave, without the exception wrapper locust records it in."""
    match = _WRAPPED.match(error)
    return match.group(2) if match else error


def read_failures(path: Path) -> list[FailureGroup]:
    """Failures by reason, most frequent first."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        groups = [
            FailureGroup(row["Method"], row["Name"], failure_reason(row["Error"]), int(row["Occurrences"]))
            for row in csv.DictReader(f)
            if row.get("Occurrences", "").isdigit()
        ]
    return sorted(groups, key=lambda g: (-g.count, g.reason))
