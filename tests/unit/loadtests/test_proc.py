"""Reading CPU time and memory from /proc."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from loadtests._proc import (
    CLOCK_TICKS,
    IdleReport,
    child_pids,
    descendant_pids,
    measure_idle_many,
    parse_rss_bytes,
    parse_stat,
    sample,
    stat_cpu_ticks,
)

# An nginx worker: utime 1234, stime 567, reaped children 8 and 9 ticks.
NGINX_WORKER = (
    "4242 (nginx) S 4241 4241 4241 0 -1 4194624 1553 0 0 0 1234 567 8 9 20 0 1 0 "
    "987654 59203584 1610 18446744073709551615 1 1 0 0 0 0 0 1073741824 402745863 "
    "0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
)

# A comm with spaces and a ')' must not shift the fields after it.
ODD_COMM = (
    "77 (my (odd) app) R 1 77 77 0 -1 4194304 100 0 0 0 50 25 0 0 20 0 1 0 "
    "1000 3133440 373 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
)

STATUS = """\
Name:\tnginx
State:\tS (sleeping)
Pid:\t4242
VmPeak:\t   61000 kB
VmSize:\t   57816 kB
VmHWM:\t    6500 kB
VmRSS:\t    6440 kB
Threads:\t1
"""


def test_parse_stat_fields():
    s = parse_stat(NGINX_WORKER)
    assert (s.pid, s.comm, s.ppid) == (4242, "nginx", 4241)
    assert (s.utime, s.stime, s.cutime, s.cstime) == (1234, 567, 8, 9)


def test_parse_stat_comm_with_spaces_and_parens():
    s = parse_stat(ODD_COMM)
    assert s.comm == "my (odd) app"
    assert (s.ppid, s.utime, s.stime) == (1, 50, 25)


def test_cpu_ticks_with_and_without_reaped_children():
    s = parse_stat(NGINX_WORKER)
    assert stat_cpu_ticks(s, children=False) == 1801
    assert stat_cpu_ticks(s, children=True) == 1818


def test_parse_rss():
    assert parse_rss_bytes(STATUS) == 6440 * 1024


def test_parse_rss_absent_for_zombie():
    assert parse_rss_bytes("Name:\tdefunct\nState:\tZ (zombie)\n") == 0


def test_parse_rss_rejects_other_units():
    with pytest.raises(ValueError):
        parse_rss_bytes("VmRSS:\t 12 MB\n")


def test_clock_ticks_match_sysconf():
    assert os.sysconf("SC_CLK_TCK") == CLOCK_TICKS


def test_sample_of_this_process_counts_burned_cpu():
    before = sample([os.getpid()])
    deadline = before.cpu_s + 3.0 / CLOCK_TICKS
    # Burn CPU until the kernel has charged a few ticks (bounded by a count).
    for _ in range(50_000_000):
        if sample([os.getpid()]).cpu_s >= deadline:
            break
        sum(range(1000))
    after = sample([os.getpid()])
    assert after.cpu_s >= deadline
    assert after.rss_bytes > 1024 * 1024


def test_children_are_found_and_counted():
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        me = os.getpid()
        assert proc.pid in child_pids(me)
        assert proc.pid in descendant_pids(me)
        alone = sample([me], children=False).rss_bytes
        with_kids = sample([me], children=True).rss_bytes
        assert with_kids > alone
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def test_idle_report_percent_of_one_core():
    assert IdleReport(seconds=2.0, cpu_s=0.02, rss_bytes=0).cpu_percent == pytest.approx(1.0)
    assert IdleReport(seconds=0.0, cpu_s=0.0, rss_bytes=0).cpu_percent == 0.0


def test_measure_idle_groups_share_one_window():
    me = os.getpid()
    reports = measure_idle_many({"a": ([me], False), "b": ([me], True)}, seconds=0.0)
    assert reports["a"].seconds == reports["b"].seconds
    assert reports["a"].rss_bytes > 0
    assert reports["b"].cpu_s >= 0
