"""Container logs as the kubelet keeps them: one line per write, each with its time and stream (the CRI log format).

``2026-01-02T03:04:05.123456789Z stdout F text``: ``F`` ends a line, ``P`` is part of one longer than
``MAX_LINE`` bytes or cut by the process ending without a newline. The times let ``logs --since`` and
``--timestamps`` work; a line that is not in this format (a log from before) is shown as it is.
A restarted container's log from its previous run is kept beside, as ``<container>.previous.log``.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dataplane.api.timestamps import parse_timestamp
from dataplane.platform.local.children import Child, pidfd_supported, spawn_child

MAX_LINE = 16 * 1024
"""Bytes of one log line before it is split into partial lines (the kubelet's 16 KiB)."""
_CRI = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([FP]) ")


def rfc3339_nano(ns: int) -> str:
    """``2026-01-02T03:04:05.123456789Z``: fixed width, so times compare as strings."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def previous_path(path: Path) -> Path:
    """Where the log of the container's previous run is kept."""
    return path.with_name(path.stem + ".previous" + path.suffix)


def rotate(path: Path) -> None:
    """Keep the current log as the previous run's (a restart begins a new one)."""
    if path.exists():
        os.replace(path, previous_path(path))


class LogWriter:
    """Turns a container's output chunks into CRI lines appended to its log file (callbacks, no task)."""

    def __init__(self, path: Path, clock: Callable[[], int] = time.time_ns):
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._clock = clock
        self._pending: dict[str, bytes] = {}

    def write(self, stream: str, data: bytes) -> None:
        """Append what ``stream`` (stdout or stderr) produced; an unfinished line waits for its end."""
        stamp = rfc3339_nano(self._clock()).encode()
        head = stamp + b" " + stream.encode()
        buffered = self._pending.pop(stream, b"") + data
        out = []
        *lines, rest = buffered.split(b"\n")
        for line in lines:
            while len(line) > MAX_LINE:
                out.append(head + b" P " + line[:MAX_LINE] + b"\n")
                line = line[MAX_LINE:]
            out.append(head + b" F " + line + b"\n")
        while len(rest) > MAX_LINE:
            out.append(head + b" P " + rest[:MAX_LINE] + b"\n")
            rest = rest[MAX_LINE:]
        if rest:
            self._pending[stream] = rest
        if out:
            os.write(self._fd, b"".join(out))

    def close(self) -> None:
        """Write what is left of an unfinished line, then close the file."""
        if self._fd < 0:
            return
        stamp = rfc3339_nano(self._clock()).encode()
        tail = b"".join(stamp + b" " + s.encode() + b" F " + rest + b"\n" for s, rest in self._pending.items())
        self._pending.clear()
        if tail:
            os.write(self._fd, tail)
        os.close(self._fd)
        self._fd = -1


class _LoggingProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The standard process protocol, but stdout and stderr go to a LogWriter instead of readers."""

    def __init__(self, writer: LogWriter, loop: asyncio.AbstractEventLoop):
        super().__init__(limit=2**16, loop=loop)
        self._writer = writer
        self._open = {1, 2}

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self._writer.write("stdout" if fd == 1 else "stderr", data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        super().pipe_connection_lost(fd, exc)
        self._open.discard(fd)
        if not self._open:
            self._writer.close()  # both pipes at their end: nothing more can be written


_pidfd: bool | None = None


async def spawn_logged(argv: list[str], env: dict, cwd: str, log_path: Path, stdin_pipe: bool = False) -> asyncio.subprocess.Process | Child:
    """Start a process in a session of its own, its output appended to ``log_path`` in the CRI format;
    its standard input is a pipe (``proc.stdin``) with ``stdin_pipe``, else empty.

    Started by ``children.spawn_child`` where the kernel has pidfds (a few ms rather than uvloop's
    20-40 ms, which were on every cold start's path), else by the loop's own ``subprocess_exec``."""
    global _pidfd
    if _pidfd is None:
        _pidfd = pidfd_supported()
    loop = asyncio.get_running_loop()
    writer = LogWriter(log_path)
    if _pidfd:
        try:
            return await spawn_child(argv, env, cwd, writer.write, writer.close, stdin_pipe=stdin_pipe)
        except BaseException:
            writer.close()
            raise
    try:
        transport, protocol = await loop.subprocess_exec(
            lambda: _LoggingProtocol(writer, loop), *argv, env=env, cwd=cwd, stdin=asyncio.subprocess.PIPE if stdin_pipe else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
        )
    except BaseException:
        writer.close()
        raise
    return asyncio.subprocess.Process(transport, protocol, loop)


@dataclass(frozen=True)
class Entry:
    """One line of a log: its time (None for a line not in the CRI format) and its text, newline included."""

    time: str | None
    text: bytes


class LogReader:
    """Parses log bytes into entries, joining partial lines; feed it more as the file grows."""

    def __init__(self) -> None:
        self._rest = b""
        self._partial: list[bytes] = []
        self._partial_time: str | None = None

    def feed(self, data: bytes) -> list[Entry]:
        """The entries completed by ``data``."""
        *lines, self._rest = (self._rest + data).split(b"\n")
        entries = []
        for line in lines:
            match = _CRI.match(line)
            if match is None:
                entries.append(Entry(None, line + b"\n"))
                continue
            stamp, tag = match.group(1).decode(), match.group(3)
            if not self._partial:
                self._partial_time = stamp
            self._partial.append(line[match.end():])
            if tag == b"F":
                entries.append(Entry(self._partial_time, b"".join(self._partial) + b"\n"))
                self._partial = []
        return entries


def select(entries: list[Entry], since: str | None = None, tail: int | None = None) -> list[Entry]:
    """Entries at or after ``since`` (an RFC 3339 time), then the last ``tail`` of them."""
    if since is not None:
        entries = [e for e in entries if e.time is None or e.time >= since]
    if tail is not None:
        entries = entries[len(entries) - tail:] if tail else []
    return entries


def render(entries: list[Entry], timestamps: bool) -> bytes:
    """Log text as ``kubectl logs`` prints it, with ``--timestamps`` each line's time in front."""
    if not timestamps:
        return b"".join(e.text for e in entries)
    return b"".join((e.time.encode() + b" " if e.time else b"") + e.text for e in entries)


def valid_time(text: str) -> bool:
    """Whether ``text`` is an RFC 3339 time with a zone."""
    return parse_timestamp(text) is not None


def normal_time(text: str) -> str:
    """An RFC 3339 time in the log's own form, so that it compares with the lines' times as a string."""
    parsed = parse_timestamp(text)
    if parsed is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    return rfc3339_nano(int(parsed.timestamp()) * 1_000_000_000 + parsed.microsecond * 1000)
