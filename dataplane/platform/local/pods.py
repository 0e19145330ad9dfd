"""Local pods: the user's command and a queue-proxy as two supervised processes on free ports."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import string
import sys
import time
from pathlib import Path

from dataplane.http.probe import probe_once
from dataplane.dialects import sum_in_flight
from dataplane.controller.health import NOT_LISTENING
from dataplane.ports import free_port
from dataplane.http.probe import connect_now
from dataplane.platform.local.backoff import CrashBackoff, exit_code, exit_message, exit_reason, log_tail
from dataplane.platform.local.children import Child
from dataplane.platform.local.podlogs import rotate, spawn_logged
from dataplane.platform.local.podspec import PodTemplate
from dataplane.queueproxy.settings import START_ON_STDIN_ENV

PORT_NAMES = ("user", "serving", "admin", "stats", "metrics")
NOT_LISTENING_AFTER = 5.0
"""Seconds an app may run without listening on $PORT before its pod says so (it may still start to)."""
QUEUE_PROXY_ARGV = (sys.executable, "-m", "dataplane", "queue-proxy")


def pod_suffix(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(5))


async def spawn_process(argv: list[str], env: dict, cwd: str, log_path: Path, stdin_pipe: bool = False) -> asyncio.subprocess.Process | Child:
    """Start one container's process in a session of its own, its output appended to ``log_path`` with times;
    with ``stdin_pipe`` its standard input is a pipe from us (``proc.stdin``), else empty."""
    return await spawn_logged(argv, env, cwd, log_path, stdin_pipe=stdin_pipe)


class LocalPod:
    """One pod: supervises its two processes and tracks what `get pods` shows."""

    def __init__(self, name: str, template: PodTemplate, log_dir: Path, drain_quiet: float, changed,
                 backoff: CrashBackoff | None = None, clock=time.monotonic, spawn=spawn_process, probe=probe_once):
        self.name = name
        self.template = template
        self.log_dir = log_dir
        self.drain_quiet = drain_quiet
        self.changed = changed  # callable() on every state change
        self.ports = self._free_ports()
        self.phase = "Pending"
        self.ready = False
        self.app_ready = False
        self.restarts = 0
        self.qp_restarts = 0
        self.waiting_reason = ""
        self.waiting_message = ""
        self.last_exit_code: int | None = None
        self.last_exit_reason = ""
        """The kubelet's terminated reason of the app's last exit: Error or Completed."""
        self.message = ""
        """How the app last ended (exit code or signal, its last log lines)."""
        self.unready_reason = ""
        """Why a running app is not ready, when known (ContainerNotListening)."""
        self.unready_message = ""
        self.backoff = backoff or CrashBackoff()
        self.clock = clock
        self.spawn = spawn
        """``spawn(argv, env, cwd, log_path, stdin_pipe=False)`` starts a process (``spawn_process``; tests pass fakes)."""
        self.probe = probe
        """``probe(address, timeout)``: does the queue-proxy say the pod is ready (``probe_once``)."""
        self.created = time.time()
        self.started_at = 0.0
        self.app: asyncio.subprocess.Process | None = None
        self.qp: asyncio.subprocess.Process | None = None
        self.terminating = False
        self.stop_reason = ""
        """Why the pod was told to stop (e.g. ``scaled down``); empty while nobody asked it to."""
        self.task: asyncio.Task | None = None
        self.held: asyncio.Task | None = None
        """The spawn of a queue-proxy started ahead of the pod (``prestart``), until the pod starts."""
        self.stop = asyncio.Event()
        self.done = asyncio.Event()

    @staticmethod
    def _free_ports() -> dict[str, int]:
        return {n: free_port() for n in PORT_NAMES}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.ports['serving']}"

    @property
    def stats_address(self) -> str:
        return f"127.0.0.1:{self.ports['stats']}"

    def log_path(self, container: str) -> Path:
        return self.log_dir / f"{container}.log"

    def prestart(self) -> None:
        """Start the queue-proxy ahead of the pod, held before it serves: a standby that ``start`` releases.

        Its interpreter start and imports (~100 ms of CPU, 350+ ms on a busy machine) are then done
        before a request wakes the revision, and do not compete with the app's own start for the CPU.
        """
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.held = asyncio.get_running_loop().create_task(self._start_qp(held=True))

    def start(self) -> None:
        self.created = time.time()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def discard(self) -> None:
        """Stop a standby that was never started: its queue-proxy reads the end of its input and exits."""
        if self.held is not None:
            try:
                await self.held
            except OSError:
                pass
            self.held = None
        qp = self.qp
        if qp is not None and qp.returncode is None:
            try:
                qp.stdin.close()
            except OSError:
                pass  # it has gone already
            try:
                await asyncio.wait_for(qp.wait(), 5.0)
            except asyncio.TimeoutError:
                try:
                    os.killpg(qp.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await qp.wait()
        shutil.rmtree(self.log_dir, ignore_errors=True)  # a pod nobody saw leaves no logs behind

    async def _spawn(self, argv: list[str], env: dict, cwd: str, container: str) -> asyncio.subprocess.Process:
        # a restart keeps the last run's log for `logs --previous`, as the kubelet does
        rotate(self.log_path(container))
        return await self.spawn(argv, env, cwd, self.log_path(container))

    async def _start_app(self) -> None:
        t = self.template
        try:
            self.app = await self._spawn(list(t.argv), t.app_env(self.ports["user"]), t.working_dir, "user-container")
        except OSError as exc:
            self.app = None
            self.last_exit_code = 127
            self.last_exit_reason = "Error"
            self.message = f"cannot start {t.argv[0]!r}: {exc.strerror or exc}"

    async def _start_qp(self, held: bool = False) -> None:
        env = self.template.queue_proxy_env(self.name, self.ports, self.drain_quiet)
        if held:
            env[START_ON_STDIN_ENV] = "1"
            rotate(self.log_path("queue-proxy"))
            self.qp = await self.spawn(list(QUEUE_PROXY_ARGV), env, self.template.working_dir, self.log_path("queue-proxy"), stdin_pipe=True)
        else:
            self.qp = await self._spawn(list(QUEUE_PROXY_ARGV), env, self.template.working_dir, "queue-proxy")

    async def _release_qp(self, held_ports: dict[str, int]) -> bool:
        """Let a pre-started queue-proxy serve on the pod's ports; False when it could not be started."""
        held, self.held = self.held, None
        try:
            await held
        except OSError:
            return False
        if self.qp.returncode is not None:
            return False
        # what differs from the environment it was started with: the ports (a few hundred bytes, so the
        # write fits the pipe even while it is still loading)
        before = self.template.queue_proxy_env(self.name, held_ports, self.drain_quiet)
        now = self.template.queue_proxy_env(self.name, self.ports, self.drain_quiet)
        line = json.dumps({k: v for k, v in now.items() if before.get(k) != v}).encode() + b"\n"
        try:
            self.qp.stdin.write(line)
            self.qp.stdin.close()
        except OSError:  # it died holding (a broken pipe): a fresh one is started
            return False
        return True

    async def _run(self) -> None:
        try:
            held = self.held is not None
            if held:
                # the ports chosen with the standby, maybe long ago, may have been taken since
                held_ports, self.ports = self.ports, self._free_ports()
            else:
                await self._start_qp()
            # a held queue-proxy is let go after the app's spawn: it would take a CPU from the exec
            # of the app, whose start is the longest part of a cold start
            await self._start_app()
            if held and not await self._release_qp(held_ports):
                await self._start_qp()
            self.started_at = time.time()
            self.phase = "Running"
            self.changed()
            while not self.terminating:
                app_started = self.clock()
                if self.app is not None:
                    ready = asyncio.ensure_future(self._wait_ready())
                    app_exit = asyncio.ensure_future(self.app.wait())
                    qp_exit = asyncio.ensure_future(self.qp.wait())
                    stop = asyncio.ensure_future(self.stop.wait())
                    await asyncio.wait([app_exit, qp_exit, stop], return_when=asyncio.FIRST_COMPLETED)
                    for fut in (ready, app_exit, qp_exit, stop):
                        fut.cancel()
                    await asyncio.gather(ready, app_exit, qp_exit, stop, return_exceptions=True)
                    if self.terminating:
                        break
                    self.ready = self.app_ready = False
                    self.unready_reason = self.unready_message = ""
                    if self.qp.returncode is not None:
                        # the sidecar died: restart it and keep watching the app
                        self.qp_restarts += 1
                        await self._start_qp()
                        if self.app.returncode is None:
                            self.changed()
                            continue
                    self._record_exit(self.app.returncode)
                delay = self.backoff.next_delay(self.clock() - app_started)
                self.restarts += 1
                if delay > 0:
                    self.waiting_reason = "CrashLoopBackOff"
                    self.waiting_message = f"back-off {delay:g}s restarting failed container=user-container pod={self.name}"
                    self.changed()
                    try:
                        await asyncio.wait_for(self.stop.wait(), delay)
                    except asyncio.TimeoutError:
                        pass
                if self.terminating:
                    break
                self.waiting_reason = self.waiting_message = ""
                await self._start_app()
                self.changed()
        finally:
            await self._stop_processes()
            self.phase = "Succeeded"
            self.ready = False
            self.done.set()
            self.changed()

    def _record_exit(self, returncode: int) -> None:
        """What `get pods`, the Revision's ContainerHealthy and event lines say about the app's exit."""
        self.last_exit_code = exit_code(returncode)
        self.last_exit_reason = exit_reason(returncode)
        self.message = exit_message(returncode, log_tail(self.log_path("user-container")))

    async def _wait_ready(self) -> None:
        """Poll the queue-proxy's health check (it probes the app) until the pod is ready.

        Meanwhile an app that runs but has nothing listening on $PORT after
        ``NOT_LISTENING_AFTER`` seconds is reported (it may still start to listen).
        """
        started = self.clock()
        port = self.ports["user"]
        while not await self.probe(self.address, 1.0):
            # asyncio.wait_for (3.11) can turn a cancel that meets its timeout into TimeoutError, which the probe
            # answers as "not ready": the cancel is then spent, and this loop would hold the stopping pod forever
            if asyncio.current_task().cancelling():
                raise asyncio.CancelledError
            if self.clock() - started >= NOT_LISTENING_AFTER:
                listening = connect_now("127.0.0.1", port)
                if listening is False and not self.unready_reason:
                    self.unready_reason = NOT_LISTENING
                    self.unready_message = f"nothing is listening on PORT={port} after {NOT_LISTENING_AFTER:g} s"
                    self.changed()
                elif listening and self.unready_reason:
                    self.unready_reason = self.unready_message = ""
                    self.changed()
            await asyncio.sleep(0.05)
        self.app_ready = self.ready = True
        self.waiting_reason = self.unready_reason = self.unready_message = ""
        self.changed()
        await asyncio.Event().wait()  # stay here until cancelled: the pod is up

    def terminate(self, reason: str = "scaled down") -> None:
        """Drain and stop: the queue-proxy finishes what it holds before the app is stopped."""
        if self.terminating:
            return
        self.stop_reason = reason
        self.terminating = True
        self.ready = False
        self.phase = "Terminating"
        self.stop.set()
        self.changed()

    async def _stop_processes(self) -> None:
        grace = max(1.0, float(self.template.timeout))
        for proc in (self.qp, self.app):
            if proc is None or proc.returncode is not None:
                continue
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except asyncio.TimeoutError:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await proc.wait()

    async def kill(self) -> None:
        """Stop and wait for both processes (the runtime is shutting down)."""
        self.terminate("dataplane up stopping")
        if self.task is not None:
            await self.done.wait()

    async def in_flight(self) -> float:
        """Requests the queue-proxy holds now (from its metrics); a large number when unknown."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.ports["metrics"]), 0.5)
        except (OSError, asyncio.TimeoutError):
            return float("inf")
        try:
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: qp\r\nConnection: close\r\n\r\n")
            data = await asyncio.wait_for(reader.read(), 1.0)
        except (OSError, asyncio.TimeoutError):
            return float("inf")
        finally:
            writer.close()
        found = sum_in_flight(data.decode("latin-1"))
        return float("inf") if found is None else found
