"""CPU time and memory of processes, read from /proc.

CPU time is the kernel's own account (utime + stime in clock ticks), so it
does not depend on what else the machine is doing the way throughput does.
"""

from __future__ import annotations

import dataclasses
import os
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` the harness uses; times in clock ticks."""

    pid: int
    comm: str
    ppid: int
    utime: int
    stime: int
    cutime: int  # reaped children's user time
    cstime: int  # reaped children's system time


def parse_stat(text: str) -> ProcStat:
    """Parse one ``/proc/<pid>/stat`` line."""
    # comm is in parentheses and may itself hold spaces and ')', so split
    # around the last ')'.
    open_paren = text.index("(")
    close_paren = text.rindex(")")
    rest = text[close_paren + 2 :].split()
    # rest[0] is field 3 (state); utime..cstime are fields 14..17.
    return ProcStat(
        pid=int(text[:open_paren]),
        comm=text[open_paren + 1 : close_paren],
        ppid=int(rest[1]),
        utime=int(rest[11]),
        stime=int(rest[12]),
        cutime=int(rest[13]),
        cstime=int(rest[14]),
    )


def parse_rss_bytes(status: str) -> int:
    """Resident set size from a ``/proc/<pid>/status`` text (0 if absent, e.g. a zombie)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"unexpected VmRSS unit: {line!r}")
            return int(value) * 1024
    return 0


def read_stat(pid: int) -> ProcStat:
    """``/proc/<pid>/stat``, parsed."""
    with open(f"/proc/{pid}/stat") as f:
        return parse_stat(f.read())


def read_rss_bytes(pid: int) -> int:
    """Current resident set size of ``pid``."""
    with open(f"/proc/{pid}/status") as f:
        return parse_rss_bytes(f.read())


def _parent_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = read_stat(int(name))
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked
        children.setdefault(stat.ppid, []).append(stat.pid)
    return children


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` that are alive now."""
    return sorted(_parent_map().get(pid, []))


def descendant_pids(pid: int) -> list[int]:
    """All live descendants of ``pid`` (children, grandchildren, ...)."""
    tree = _parent_map()
    found: list[int] = []
    todo = list(tree.get(pid, []))
    while todo:
        kid = todo.pop()
        found.append(kid)
        todo.extend(tree.get(kid, []))
    return sorted(found)


def stat_cpu_ticks(stat: ProcStat, children: bool) -> int:
    """CPU ticks of one process, plus its reaped children's if ``children``."""
    ticks = stat.utime + stat.stime
    if children:
        ticks += stat.cutime + stat.cstime
    return ticks


@dataclasses.dataclass(frozen=True)
class Usage:
    """CPU time used so far and memory held now by a set of processes."""

    cpu_s: float
    rss_bytes: int


def sample(pids: list[int], children: bool = False) -> Usage:
    """Sum CPU time and RSS over ``pids`` (and, if asked, all their descendants).

    With ``children`` the CPU time also counts descendants that already exited
    and were reaped, so short-lived helpers are not lost.
    """
    ticks = 0
    rss = 0
    for pid in pids:
        ticks += stat_cpu_ticks(read_stat(pid), children)
        rss += read_rss_bytes(pid)
        if not children:
            continue
        for kid in descendant_pids(pid):
            try:
                ticks += stat_cpu_ticks(read_stat(kid), children)
                rss += read_rss_bytes(kid)
            except (FileNotFoundError, ProcessLookupError):
                continue
    return Usage(cpu_s=ticks / CLOCK_TICKS, rss_bytes=rss)


@dataclasses.dataclass(frozen=True)
class IdleReport:
    """CPU used by idle processes over a window, and their RSS at its end."""

    seconds: float
    cpu_s: float
    rss_bytes: int

    @property
    def cpu_percent(self) -> float:
        """CPU used as a percentage of one core over the window."""
        return 100.0 * self.cpu_s / self.seconds if self.seconds else 0.0


def measure_idle_many(
    groups: dict[str, tuple[list[int], bool]], seconds: float
) -> dict[str, IdleReport]:
    """Watch several ``name: (pids, children)`` groups over one idle window.

    One clock tick (10 ms on most kernels) is the resolution, so a window of
    several seconds is needed to tell "no CPU" from "a little".
    """
    before = {name: sample(pids, kids) for name, (pids, kids) in groups.items()}
    start = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    reports = {}
    for name, (pids, kids) in groups.items():
        after = sample(pids, kids)
        reports[name] = IdleReport(elapsed, after.cpu_s - before[name].cpu_s, after.rss_bytes)
    return reports


def measure_idle(pids: list[int], seconds: float, children: bool = False) -> IdleReport:
    """CPU used by ``pids`` over ``seconds`` with no load, and their RSS at the end."""
    return measure_idle_many({"": (pids, children)}, seconds)[""]
