"""Medians, paired ratios and the printed table, on made-up results."""

from __future__ import annotations

import math

import pytest

from loadtests._report import (
    Idle,
    RunMetrics,
    format_table,
    medians,
    paired_ratios,
    summarize,
    summary_json,
)


def run(rps, p50=1.0, p99=2.0, cpu=10.0, rss=20.0, errors=0) -> RunMetrics:
    return RunMetrics(
        rps=rps,
        p50_ms=p50,
        p90_ms=p50 * 1.5,
        p99_ms=p99,
        cpu_us_per_req=cpu,
        rss_mb=rss,
        requests=int(rps * 5),
        errors=errors,
    )


def test_medians_ignore_one_outlier():
    m = medians([run(100, cpu=10), run(5, cpu=99), run(120, cpu=12)])
    assert m["rps"] == 100
    assert m["cpu_us_per_req"] == 12
    assert m["requests"] == 500
    assert "errors" not in m


def test_medians_of_even_count_average_the_middle():
    assert medians([run(100), run(200)])["rps"] == 150


def test_ratios_pair_rounds():
    # Round 2 is slow for everyone (noise); pairing by round cancels it.
    base = [run(100, cpu=10), run(50, cpu=20), run(100, cpu=10)]
    case = [run(50, cpu=20), run(25, cpu=40), run(50, cpu=20)]
    r = paired_ratios(case, base)
    assert r["rps"] == pytest.approx(0.5)
    assert r["cpu_us_per_req"] == pytest.approx(2.0)
    assert r["p50_ms"] == pytest.approx(1.0)


def test_ratios_need_the_same_number_of_runs():
    with pytest.raises(ValueError):
        paired_ratios([run(1)], [run(1), run(2)])


def test_ratio_against_zero_baseline_is_nan():
    r = paired_ratios([run(10, cpu=5)], [run(10, cpu=0)])
    assert math.isnan(r["cpu_us_per_req"])


def test_summarize_baseline_is_one_and_errors_sum():
    s = summarize(
        {"direct": [run(100), run(110)], "proxy": [run(50, errors=2), run(55, errors=1)]},
        baseline="direct",
    )
    assert [x.name for x in s] == ["direct", "proxy"]
    assert s[0].ratio == {k: 1.0 for k in s[0].ratio}
    assert s[1].ratio["rps"] == pytest.approx(0.5)
    assert s[1].errors == 3


def test_summarize_unknown_baseline():
    with pytest.raises(KeyError):
        summarize({"a": [run(1)]}, baseline="b")


def test_table_shows_medians_ratios_and_warning():
    s = summarize(
        {
            "direct": [run(40000, p50=1.0, p99=2.0, cpu=15.0, rss=24.0)],
            "nginx": [run(20000, p50=2.0, p99=5.0, cpu=30.0, rss=6.0, errors=4)],
        },
        baseline="direct",
    )
    table = format_table(s, "direct")
    lines = table.splitlines()
    assert lines[0].split() == [
        "case", "req/s", "x", "p50", "ms", "x", "p99", "ms", "x", "CPU", "us/req", "x", "RSS", "MB",
        "errors",
    ]  # fmt: skip
    assert lines[1].split() == [
        "direct", "40000", "1.00", "1.00", "1.00", "2.00", "1.00", "15.0", "1.00", "24.0", "0",
    ]  # fmt: skip
    assert lines[2].split() == [
        "nginx", "20000", "0.50", "2.00", "2.00", "5.00", "2.50", "30.0", "2.00", "6.0", "4",
    ]  # fmt: skip
    assert "medians of 1 runs" in lines[3]
    assert lines[4].startswith("WARNING")


def test_table_columns_line_up():
    s = summarize({"a": [run(1)], "a-much-longer-name": [run(123456)]}, baseline="a")
    lines = format_table(s, "a").splitlines()[:3]
    assert len({len(line) for line in lines}) == 1


def test_table_has_idle_columns_when_measured():
    s = summarize(
        {"direct": [run(10)], "proxy": [run(5)]},
        baseline="direct",
        idle={"proxy": Idle(seconds=3.0, cpu_percent=0.33, rss_mb=6.5)},
    )
    lines = format_table(s, "direct").splitlines()
    assert "idle CPU%" in lines[0]
    assert lines[1].split()[-2:] == ["-", "-"]
    assert lines[2].split()[-2:] == ["0.33", "6.5"]
    assert "WARNING" not in format_table(s, "direct")


def test_summary_json_round_trips_runs():
    s = summarize({"direct": [run(10), run(30)]}, baseline="direct")[0]
    data = summary_json(s)
    assert [r["rps"] for r in data["runs"]] == [10, 30]
    assert data["median"]["rps"] == 20
    assert data["idle"] is None
