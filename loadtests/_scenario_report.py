"""A scenario's timeline (one row a second) and summary, joined from locust's history and the runner's samples."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from loadtests._scenario_locust import FailureGroup, HistoryRow, Totals
from loadtests._scenario_sampler import RevisionSample, Sample

REVISION_FIELDS = (
    "desired",
    "ready",
    "pods",
    "router_in_flight",
    "router_queued",
    "pod_in_flight",
    "panic",
    "stable_concurrency",
    "panic_concurrency",
)


@dataclass
class Second:
    """One second of the run, ``t`` seconds after the load started."""

    t: int
    users: int | None = None
    completed_rps: float | None = None
    """Requests completed in this second (from locust's running total)."""
    failures: float | None = None
    """Failures in this second."""
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    revisions: dict[str, RevisionSample] = field(default_factory=dict)


@dataclass(frozen=True)
class Marker:
    """A moment worth a vertical line on the plot (e.g. a rollout applied)."""

    t: float
    label: str


def timeline(start: float, history: list[HistoryRow], samples: list[Sample]) -> list[Second]:
    """One row for each second that has a history row or a reading, ``t`` counted from ``start`` (Unix time).

    Readings of the same second are merged field by field (later ones win).
    Locust's history is cumulative; completed requests and failures per second
    are differences between consecutive rows.
    """
    seconds: dict[int, Second] = {}

    def at(t: int) -> Second:
        return seconds.setdefault(t, Second(t))

    previous: HistoryRow | None = None
    for row in history:
        t = row.timestamp - math.floor(start)
        s = at(t)
        s.users = row.users
        s.p50_ms, s.p95_ms, s.p99_ms = row.p50_ms, row.p95_ms, row.p99_ms
        if previous is not None and row.timestamp > previous.timestamp:
            span = row.timestamp - previous.timestamp
            s.completed_rps = (row.total_requests - previous.total_requests) / span
            s.failures = (row.total_failures - previous.total_failures) / span
        previous = row
    for sample in samples:
        row = at(math.floor(sample.at) - math.floor(start))
        for name, reading in sample.revisions.items():
            row.revisions.setdefault(name, RevisionSample()).merge(reading)
    return [seconds[t] for t in sorted(seconds)]


def revision_names(rows: list[Second]) -> list[str]:
    """Revisions seen anywhere in the timeline, sorted."""
    return sorted({name for row in rows for name in row.revisions if name})


def write_timeline_csv(rows: list[Second], path: Path) -> None:
    """One CSV row a second; revision columns are ``<revision>:<field>``."""
    names = revision_names(rows)
    header = ["t", "users", "completed_rps", "failures", "p50_ms", "p95_ms", "p99_ms"]
    header += [f"{n}:{f}" for n in names for f in REVISION_FIELDS]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            line = [r.t, r.users, r.completed_rps, r.failures, r.p50_ms, r.p95_ms, r.p99_ms]
            for n in names:
                rs = r.revisions.get(n)
                line += [getattr(rs, f) if rs is not None else None for f in REVISION_FIELDS]
            w.writerow(["" if v is None else v for v in line])


def _first(rows: list[Second], predicate) -> int | None:
    return next((r.t for r in rows if predicate(r)), None)


def summarize(
    scenario: str,
    totals: Totals | None,
    failures: list[FailureGroup],
    rows: list[Second],
    load_s: float,
    markers: list[Marker],
) -> dict:
    """The figures of a run: requests, failures by reason, latency percentiles, pods, split shares."""
    names = revision_names(rows)
    per_revision = {}
    for name in names:
        series = [r.revisions[name] for r in rows if name in r.revisions]
        routed = [s.routed_total for s in series if s.routed_total is not None]
        per_revision[name] = {
            "peak_desired": max((s.desired for s in series if s.desired is not None), default=None),
            "peak_ready": max((s.ready for s in series if s.ready is not None), default=None),
            "first_ready_s": _first(rows, lambda r, n=name: n in r.revisions and (r.revisions[n].ready or 0) > 0),
            "routed_requests": (routed[-1] - routed[0]) if len(routed) > 1 else None,
        }
    routed_sum = sum(v["routed_requests"] or 0 for v in per_revision.values())
    if routed_sum:
        for v in per_revision.values():
            v["routed_share"] = round((v["routed_requests"] or 0) / routed_sum, 4)
    after_load = [r for r in rows if r.t >= load_s]
    zero_at = _first(after_load, lambda r: any(rs.pods is not None for rs in r.revisions.values()) and all(not rs.pods for rs in r.revisions.values()))
    return {
        "scenario": scenario,
        "load_seconds": load_s,
        "requests": totals.requests if totals else None,
        "failures": totals.failures if totals else None,
        "failures_by_reason": {g.reason: g.count for g in failures},
        "latency_ms": {
            "p50": totals.p50_ms if totals else None,
            "p95": totals.p95_ms if totals else None,
            "p99": totals.p99_ms if totals else None,
            "max": totals.max_ms if totals else None,
        },
        "revisions": per_revision,
        "all_pods_gone_at_s": zero_at,
        "markers": [asdict(m) for m in markers],
    }


def format_summary(summary: dict) -> str:
    """The summary as a few lines of text."""
    lat = summary["latency_ms"]

    def ms(v):
        return "-" if v is None else f"{v:.0f}"

    lines = [
        f"scenario {summary['scenario']}: {summary['load_seconds']:g} s of load",
        f"requests {summary['requests']}, failures {summary['failures']}",
        f"latency ms: p50 {ms(lat['p50'])}, p95 {ms(lat['p95'])}, p99 {ms(lat['p99'])}, max {ms(lat['max'])}",
    ]
    for reason, count in summary["failures_by_reason"].items():
        lines.append(f"  failed: {count} x {reason}")
    for name, v in summary["revisions"].items():
        share = f", {v['routed_share'] * 100:.1f}% of routed requests" if "routed_share" in v else ""
        lines.append(
            f"{name}: peak desired {v['peak_desired']}, peak ready {v['peak_ready']}, first ready at {v['first_ready_s']} s{share}"
        )
    if summary["all_pods_gone_at_s"] is not None:
        lines.append(f"no pods left at {summary['all_pods_gone_at_s']} s")
    for m in summary["markers"]:
        lines.append(f"at {m['t']:.1f} s: {m['label']}")
    return "\n".join(lines)


def write_summary(summary: dict, directory: Path) -> None:
    """summary.json and summary.txt in ``directory``."""
    (directory / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (directory / "summary.txt").write_text(format_summary(summary) + "\n")
