"""Medians, ratios against a baseline, and the printed table (pure functions)."""

from __future__ import annotations

import dataclasses
import statistics

# Metrics with a ratio column, in table order; RSS and errors get none.
RATIO_METRICS = ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")


@dataclasses.dataclass(frozen=True)
class RunMetrics:
    """What one load run of one case measured."""

    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    cpu_us_per_req: float  # CPU time of the measured process(es) / requests
    rss_mb: float  # RSS of the measured process(es) after the run, MiB
    requests: int
    errors: int  # socket errors + statuses >= 400


MEDIAN_METRICS = tuple(f.name for f in dataclasses.fields(RunMetrics) if f.name != "errors")


@dataclasses.dataclass(frozen=True)
class Idle:
    """CPU used with no load over a window, and RSS at its end."""

    seconds: float
    cpu_percent: float  # of one core
    rss_mb: float


@dataclasses.dataclass
class CaseSummary:
    """One case over all its runs."""

    name: str
    runs: list[RunMetrics]
    median: dict[str, float]
    ratio: dict[str, float]  # median over rounds of case / baseline
    errors: int  # summed over runs
    idle: Idle | None = None


def medians(runs: list[RunMetrics]) -> dict[str, float]:
    """Median of every numeric metric over ``runs``."""
    return {m: statistics.median(getattr(r, m) for r in runs) for m in MEDIAN_METRICS}


def paired_ratios(runs: list[RunMetrics], base: list[RunMetrics]) -> dict[str, float]:
    """Median over rounds of ``case / baseline`` for each ratio metric.

    Round ``i`` of a case is divided by round ``i`` of the baseline, which ran
    moments apart: a burst of noise that slows both cancels out in the ratio.
    """
    if len(runs) != len(base):
        raise ValueError(f"{len(runs)} runs against {len(base)} baseline runs")
    out = {}
    for m in RATIO_METRICS:
        pairs = [
            getattr(r, m) / getattr(b, m) for r, b in zip(runs, base, strict=True) if getattr(b, m)
        ]
        out[m] = statistics.median(pairs) if pairs else float("nan")
    return out


def summarize(
    runs_by_case: dict[str, list[RunMetrics]],
    baseline: str,
    idle: dict[str, Idle] | None = None,
) -> list[CaseSummary]:
    """Summaries in ``runs_by_case`` order, ratios against ``baseline``."""
    if baseline not in runs_by_case:
        raise KeyError(f"baseline {baseline!r} is not among the cases")
    base = runs_by_case[baseline]
    return [
        CaseSummary(
            name=name,
            runs=runs,
            median=medians(runs),
            ratio=paired_ratios(runs, base),
            errors=sum(r.errors for r in runs),
            idle=(idle or {}).get(name),
        )
        for name, runs in runs_by_case.items()
    ]


def _columns(with_idle: bool) -> list[tuple[str, int]]:
    cols = [
        ("case", 0),
        ("req/s", 9),
        ("x", 6),
        ("p50 ms", 8),
        ("x", 6),
        ("p99 ms", 8),
        ("x", 6),
        ("CPU us/req", 11),
        ("x", 6),
        ("RSS MB", 8),
        ("errors", 7),
    ]
    if with_idle:
        cols += [("idle CPU%", 10), ("idle MB", 8)]
    return cols


def _cells(s: CaseSummary, with_idle: bool) -> list[str]:
    med, ratio = s.median, s.ratio
    cells = [
        s.name,
        f"{med['rps']:.0f}",
        f"{ratio['rps']:.2f}",
        f"{med['p50_ms']:.2f}",
        f"{ratio['p50_ms']:.2f}",
        f"{med['p99_ms']:.2f}",
        f"{ratio['p99_ms']:.2f}",
        f"{med['cpu_us_per_req']:.1f}",
        f"{ratio['cpu_us_per_req']:.2f}",
        f"{med['rss_mb']:.1f}",
        str(s.errors),
    ]
    if with_idle:
        if s.idle is None:
            cells += ["-", "-"]
        else:
            cells += [f"{s.idle.cpu_percent:.2f}", f"{s.idle.rss_mb:.1f}"]
    return cells


def format_table(summaries: list[CaseSummary], baseline: str) -> str:
    """The comparison as a fixed-width text table, with a legend."""
    with_idle = any(s.idle is not None for s in summaries)
    cols = _columns(with_idle)
    rows = [[c for c, _ in cols]] + [_cells(s, with_idle) for s in summaries]
    # A column is as wide as its widest cell, so odd figures never break alignment.
    widths = [max(w, *(len(row[i]) for row in rows)) for i, (_, w) in enumerate(cols)]
    lines = []
    for row in rows:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]))
    runs = len(summaries[0].runs) if summaries else 0
    lines.append(
        f"medians of {runs} runs; x = median over rounds of (case / {baseline} in the same round)"
    )
    if any(s.errors for s in summaries):
        lines.append("WARNING: some runs had socket errors or 4xx/5xx answers (errors column)")
    return "\n".join(lines)


def summary_json(s: CaseSummary) -> dict:
    """One summary as plain JSON-able data."""
    return {
        "runs": [dataclasses.asdict(r) for r in s.runs],
        "median": s.median,
        "ratio": s.ratio,
        "errors": s.errors,
        "idle": dataclasses.asdict(s.idle) if s.idle else None,
    }
