"""Suite-wide guards: no test may leak asyncio tasks, child processes or logging set-up."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import pytest
import pytest_asyncio


def _children() -> set[int]:
    """Pids whose parent is this process (zombies included: they were never waited for)."""
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields[1].decode() == me:
            found.add(int(entry))
    return found


@pytest.fixture(autouse=True)
def _logging_put_back():
    """A program's main run in-process sets up the root logger (``dataplane.logs.setup``); the next test gets it back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _no_leaked_processes():
    before = _children()
    yield
    deadline = time.monotonic() + 5.0
    leaked = _children() - before
    while leaked and time.monotonic() < deadline:
        time.sleep(0.05)
        leaked = _children() - before
    if leaked:
        for pid in leaked:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        pytest.fail(f"test leaked child processes: {sorted(leaked)}")


@pytest_asyncio.fixture(autouse=True)
async def _no_leaked_tasks():
    yield
    me = asyncio.current_task()
    for _ in range(5):  # let tasks that were just cancelled finish
        await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    if leaked:
        for task in leaked:
            task.cancel()
        await asyncio.gather(*leaked, return_exceptions=True)
        pytest.fail(f"test leaked asyncio tasks: {leaked!r}")
