"""Child processes started the way the standard library starts them, watched on the event loop by a pidfd.

uvloop's ``subprocess_exec`` forks the whole `dataplane up` process and holds its loop until the child has
exec'd: 20-40 ms a process here (60 ms on a busy machine), on every pod start and so on every cold start.
``subprocess.Popen`` uses vfork, which copies no page tables: 1-5 ms for the same spawn. Its child is then
watched as uvloop cannot watch a process it did not start: a pidfd (Linux 5.3+) becomes readable when the
child exits, and only then is it reaped. Without pidfd support the caller keeps uvloop's spawn.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Callable


def pidfd_supported() -> bool:
    """Whether this kernel (and this Python) can watch a child through a pidfd."""
    try:
        fd = os.pidfd_open(os.getpid())
    except (AttributeError, OSError):
        return False
    os.close(fd)
    return True


class Child:
    """What the local pods use of ``asyncio.subprocess.Process``: ``pid``, ``returncode``, ``wait()``,
    ``send_signal()`` and ``stdin`` (the pipe's file when asked for, else None)."""

    def __init__(self, popen: subprocess.Popen, pidfd: int, loop: asyncio.AbstractEventLoop):
        self.pid = popen.pid
        self.stdin = popen.stdin
        self._popen = popen
        self._pidfd = pidfd
        self._loop = loop
        self._exited = loop.create_future()
        loop.add_reader(pidfd, self._reap)

    @property
    def returncode(self) -> int | None:
        """Negative for a signal, as ``asyncio.subprocess.Process``; None while it runs."""
        return self._popen.returncode

    def _reap(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        self._popen.wait()  # it has exited: this returns at once
        if not self._exited.done():
            self._exited.set_result(self._popen.returncode)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def send_signal(self, sig: int) -> None:
        """Signal it through its pidfd, which no other process can ever have: no pid-reuse race."""
        if self._pidfd < 0:
            raise ProcessLookupError(self.pid)
        signal.pidfd_send_signal(self._pidfd, sig)


class _Output(asyncio.Protocol):
    """One of a child's output pipes, handed chunk by chunk to ``write(stream, data)``."""

    def __init__(self, stream: str, write: Callable[[str, bytes], None], ended: Callable[[str], None]):
        self.stream = stream
        self.write = write
        self.ended = ended

    def data_received(self, data: bytes) -> None:
        self.write(self.stream, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended(self.stream)


async def spawn_child(argv: list[str], env: dict, cwd: str, write: Callable[[str, bytes], None], closed: Callable[[], None],
                      stdin_pipe: bool = False) -> Child:
    """Start ``argv`` in a session of its own; its stdout and stderr go to ``write("stdout"|"stderr", data)``
    and ``closed()`` is called once both have ended. OSError when it cannot be started."""
    loop = asyncio.get_running_loop()
    popen = subprocess.Popen(
        argv, env=env, cwd=cwd, stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        pidfd = os.pidfd_open(popen.pid)
    except BaseException:
        popen.kill()
        popen.wait()
        _close(popen)
        raise
    child = Child(popen, pidfd, loop)
    open_streams = {"stdout", "stderr"}

    def ended(stream: str) -> None:
        open_streams.discard(stream)
        if not open_streams:
            closed()

    await loop.connect_read_pipe(lambda: _Output("stdout", write, ended), popen.stdout)
    await loop.connect_read_pipe(lambda: _Output("stderr", write, ended), popen.stderr)
    return child


def _close(popen: subprocess.Popen) -> None:
    for pipe in (popen.stdin, popen.stdout, popen.stderr):
        if pipe is not None:
            pipe.close()
