"""Stand-ins for a local pod's processes and its readiness probe: nothing is started, nothing is dialled."""

from __future__ import annotations

import asyncio
import itertools
import signal
from pathlib import Path

from dataplane.platform.local.podspec import PodTemplate

SPINS = 1000
"""Loop turns ``until`` gives the pod's task to get somewhere (no wall-clock time passes)."""


class FakeStdin:
    """A process's standard input pipe: records what is written; closing it ends the input."""

    def __init__(self, process: FakeProcess):
        self.process = process
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.written += data
        self.process.launcher.released_after = [p.container for p in self.process.launcher.started]

    def close(self) -> None:
        self.closed = True
        if not self.written and self.process.returncode is None:
            self.process.exit(0)  # a held queue-proxy that reads the end of its input exits


class FakeProcess:
    """What the pod uses of ``asyncio.subprocess.Process``: ``wait``, ``returncode``, ``send_signal``, ``pid``, ``stdin``."""

    pids = itertools.count(10_000)

    def __init__(self, container: str, argv: list[str], env: dict, log_path: Path, stdin_pipe: bool = False):
        self.container = container
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.pid = next(self.pids)
        self.returncode: int | None = None
        self.signals: list[int] = []
        self.stdin = FakeStdin(self) if stdin_pipe else None
        self._exited = asyncio.Event()

    async def wait(self) -> int:
        await self._exited.wait()
        return self.returncode

    def exit(self, returncode: int, last_words: str = "") -> None:
        """The process ends (a negative code: killed by that signal), having logged ``last_words``."""
        if last_words:
            with open(self.log_path, "a") as log:
                log.write(last_words + "\n")
        self.returncode = returncode
        self._exited.set()

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        if sig in (signal.SIGTERM, signal.SIGKILL):
            self.exit(-sig)


class Launcher:
    """A pod's ``spawn``: records each process it starts; ``cannot_start`` makes the app's start fail."""

    def __init__(self):
        self.started: list[FakeProcess] = []
        self.cannot_start: OSError | None = None
        self.released_after: list[str] | None = None
        """The containers spawned when something was first written to a process's standard input."""

    async def __call__(self, argv: list[str], env: dict, cwd: str, log_path: Path, stdin_pipe: bool = False) -> FakeProcess:
        container = log_path.stem
        if container == "user-container" and self.cannot_start is not None:
            raise self.cannot_start
        proc = FakeProcess(container, argv, env, log_path, stdin_pipe)
        proc.launcher = self
        self.started.append(proc)
        return proc

    def of(self, container: str) -> list[FakeProcess]:
        return [p for p in self.started if p.container == container]

    def app(self) -> FakeProcess:
        return self.of("user-container")[-1]

    def qp(self) -> FakeProcess:
        return self.of("queue-proxy")[-1]


class Probe:
    """A pod's readiness probe: answers what ``ready`` says; counts the calls."""

    def __init__(self, ready: bool = False):
        self.ready = ready
        self.calls = 0

    async def __call__(self, address: str, timeout: float) -> bool:
        self.calls += 1
        return self.ready


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def until(predicate, what: str = "") -> None:
    """Let the loop run until ``predicate()`` holds (it must within ``SPINS`` turns)."""
    for _ in range(SPINS):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what or predicate}")


def template(tmp_path: Path, revision: str = "web-00001", argv: tuple[str, ...] = ("app",)) -> PodTemplate:
    return PodTemplate(
        namespace="default", revision=revision, configuration="web", service="web", argv=argv, env={"A": "1"},
        working_dir=str(tmp_path), container_concurrency=0, timeout=300, response_start_timeout=0, idle_timeout=0,
        readiness_probe=None, labels={"serving.knative.dev/revision": revision},
    )
