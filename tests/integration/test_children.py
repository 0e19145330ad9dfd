"""Pod processes started by vfork (subprocess.Popen) and watched by a pidfd on the event loop: output to the
pod's log, exit codes as asyncio reports them, signals, a standard input pipe, and a command that cannot start."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from dataplane.platform.local.children import Child, pidfd_supported, spawn_child
from dataplane.platform.local.podlogs import LogReader, spawn_logged

pytestmark = pytest.mark.skipif(not pidfd_supported(), reason="the kernel has no pidfd_open")


class Collected:
    def __init__(self):
        self.chunks: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self.closed = asyncio.Event()

    def write(self, stream: str, data: bytes) -> None:
        assert not self.closed.is_set(), "output after both pipes ended"
        self.chunks[stream] += data


async def spawn(code: str, stdin_pipe: bool = False) -> tuple[Child, Collected]:
    out = Collected()
    child = await spawn_child([sys.executable, "-c", code], dict(os.environ), os.getcwd(), out.write, out.closed.set, stdin_pipe=stdin_pipe)
    return child, out


async def test_output_goes_to_its_stream_and_the_exit_code_is_reported():
    child, out = await spawn("import sys; print('to out'); print('to err', file=sys.stderr); sys.exit(3)")
    assert await asyncio.wait_for(child.wait(), 20) == 3
    await asyncio.wait_for(out.closed.wait(), 5)
    assert out.chunks == {"stdout": b"to out\n", "stderr": b"to err\n"} and child.returncode == 3


async def test_a_signal_ends_it_with_a_negative_code_and_a_gone_process_cannot_be_signalled():
    child, out = await spawn("import time; print('up', flush=True); time.sleep(60)")
    while not out.chunks["stdout"]:
        await asyncio.sleep(0.01)
    assert child.returncode is None
    assert os.getsid(child.pid) == child.pid  # a session of its own, as the pods' processes always had
    child.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(child.wait(), 20) == -signal.SIGTERM
    with pytest.raises(ProcessLookupError):
        child.send_signal(signal.SIGTERM)


async def test_its_standard_input_is_a_pipe_when_asked_and_empty_otherwise():
    child, out = await spawn("import sys; print(repr(sys.stdin.buffer.readline()))", stdin_pipe=True)
    child.stdin.write(b"start\n")
    child.stdin.close()
    assert await asyncio.wait_for(child.wait(), 20) == 0
    await asyncio.wait_for(out.closed.wait(), 5)
    assert out.chunks["stdout"] == b"b'start\\n'\n"
    child, out = await spawn("import sys; print(repr(sys.stdin.buffer.read()))")
    assert child.stdin is None and await asyncio.wait_for(child.wait(), 20) == 0
    await asyncio.wait_for(out.closed.wait(), 5)
    assert out.chunks["stdout"] == b"b''\n"


async def test_a_command_that_cannot_start_raises():
    with pytest.raises(FileNotFoundError):
        await spawn_child(["/nonexistent/command"], {}, os.getcwd(), lambda s, d: None, lambda: None)


async def test_spawn_logged_starts_pods_this_way_and_writes_the_log(tmp_path):
    log = tmp_path / "user-container.log"
    proc = await spawn_logged([sys.executable, "-c", "print('hello')"], dict(os.environ), str(tmp_path), log)
    assert isinstance(proc, Child)  # not uvloop's fork of the whole control process
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    for _ in range(500):
        entries = LogReader().feed(log.read_bytes())
        if entries:
            break
        await asyncio.sleep(0.01)
    assert [e.text for e in entries] == [b"hello\n"] and entries[0].time is not None


async def test_a_child_inherits_no_other_childs_pipes():
    # a held queue-proxy's input is ours alone: no app may write it a start line or hold it open
    held, _ = await spawn("import sys; sys.stdin.buffer.read()", stdin_pipe=True)
    child, out = await spawn("import os; print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))")
    assert await asyncio.wait_for(child.wait(), 20) == 0
    await asyncio.wait_for(out.closed.wait(), 5)
    assert out.chunks["stdout"] == b"[0, 1, 2, 3]\n"  # stdio, and the directory being listed
    held.stdin.close()
    assert await asyncio.wait_for(held.wait(), 20) == 0
