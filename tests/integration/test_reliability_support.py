"""What the reliability tests share: a private `dataplane up`, raw HTTP, counted load, the recording app.

(No tests here; the name keeps it beside the tests it serves.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from loadtests._scenario_api import ControlApi, pod_port
from loadtests._scenario_install import LocalInstall, descendants, environ, parent_of

ROOT = Path(__file__).resolve().parents[2]
RECORDER = ROOT / "tests" / "apps" / "recorder.js"
FAST_SCALING = {"stable-window": "6s", "scale-to-zero-grace-period": "1s"}
"""Knative's 60 s / 30 s windows shortened, so that scaling down and to zero happens within a test."""


def host_of(service: str, namespace: str = "default") -> str:
    """The Host header routing to ``service``."""
    return f"{service}.{namespace}.example.com"


def autoscaler_config(**overrides: str) -> dict:
    """The config-autoscaler ConfigMap with :data:`FAST_SCALING` (and ``overrides``, keys with '-')."""
    data = dict(FAST_SCALING)
    data.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config-autoscaler", "namespace": "knative-serving"}, "data": data}


def recorder_service(
    name: str,
    record_file: Path,
    sleep_ms: int = 0,
    container_concurrency: int = 0,
    annotations: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    revision_name: str | None = None,
    traffic: list[dict] | None = None,
) -> dict:
    """A Service running tests/apps/recorder.js, recording into ``record_file``."""
    variables = {"RECORD_FILE": str(record_file), "SLEEP_MS": str(sleep_ms), **(env or {})}
    template: dict = {
        "spec": {
            "containerConcurrency": container_concurrency,
            "containers": [{"image": "local/recorder", "command": ["node", str(RECORDER)], "env": [{"name": k, "value": v} for k, v in variables.items()]}],
        }
    }
    meta: dict = {}
    if annotations:
        meta["annotations"] = {f"autoscaling.knative.dev/{k}" if "/" not in k else k: v for k, v in annotations.items()}
    if revision_name:
        meta["name"] = revision_name
    if meta:
        template["metadata"] = meta
    spec: dict = {"template": template}
    if traffic is not None:
        spec["traffic"] = traffic
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


# -- the recording app's file ---------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One request as the app saw it arrive."""

    id: str
    pid: int
    revision: str
    method: str
    path: str


def read_records(path: Path) -> list[Record]:
    """Every line the recorder apps wrote, in file order."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split(" ")
        if len(parts) == 5:
            out.append(Record(parts[0], int(parts[1]), parts[2], parts[3], parts[4]))
    return out


# -- raw HTTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A response read off the wire."""

    status: int
    headers: dict[str, str]
    body: bytes


def parse_response(data: bytes) -> Answer:
    """Parse one HTTP/1.1 response read until the connection closed (Content-Length, chunked, or close framing)."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError(f"incomplete response head: {data[:200]!r}")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, pos = bytearray(), 0
        while True:
            end = rest.index(b"\r\n", pos)
            size = int(rest[pos:end].split(b";")[0], 16)
            if size == 0:
                break
            body += rest[end + 2 : end + 2 + size]
            pos = end + 2 + size + 2
        return Answer(status, headers, bytes(body))
    if "content-length" in headers:
        length = int(headers["content-length"])
        if len(rest) < length:
            raise ValueError(f"body cut short: {len(rest)} of {length} bytes")
        return Answer(status, headers, rest[:length])
    return Answer(status, headers, rest)


async def http_get(port: int, path: str, host: str, timeout: float = 30.0) -> Answer:
    """GET over a fresh connection (Connection: close) to 127.0.0.1:``port``."""
    return await http_request(port, "GET", path, host, None, timeout)


async def http_request(port: int, method: str, path: str, host: str, body: bytes | None, timeout: float = 30.0) -> Answer:
    """One request over a fresh connection (Connection: close); a body goes with its Content-Length."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Length: {len(body)}\r\n"
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(head.encode() + b"\r\n" + (body or b""))
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
    return parse_response(data)


# -- counted load ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of one request."""

    id: int
    started: float
    ended: float = 0.0
    status: int | None = None
    body: bytes = b""
    error: str | None = None

    @property
    def ok(self) -> bool:
        """200, with the app's answer naming this request's id."""
        parts = self.body.split()
        return self.status == 200 and len(parts) == 2 and parts[1] == str(self.id).encode()


@dataclass
class Tally:
    """Every request sent and what came back."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.outcomes)

    @property
    def answered(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def describe_failures(self, limit: int = 10) -> str:
        bad = self.failed
        shown = "; ".join(f"id {o.id}: {o.status or ''} {o.error or o.body[:80]!r}" for o in bad[:limit])
        return f"{len(bad)} of {self.sent} failed: {shown}"

    def revisions(self) -> list[str]:
        """The answering revision of each successful request, in completion order."""
        return [o.body.split()[0].decode() for o in sorted(self.answered, key=lambda o: o.ended)]


class Load:
    """Closed-loop clients, each sending requests back to back, every request with an id of its own.

    Bounded: at most ``limit`` requests and ``max_s`` seconds in all; a stopped
    client finishes the request it is in (nothing is cut on the client side).
    """

    def __init__(self, port: int, host: str, clients: int, limit: int, max_s: float, timeout: float = 30.0, path: str = "/?id={id}"):
        self.port = port
        self.host = host
        self.limit = limit
        self.timeout = timeout
        self.path = path
        self.tally = Tally()
        self.deadline = time.monotonic() + max_s
        self._next = 0
        self._stop = asyncio.Event()
        self._tasks: list[tuple[asyncio.Task, asyncio.Event]] = []
        self.resize(clients)

    def resize(self, clients: int) -> None:
        """Start or retire clients until ``clients`` are running (retired ones finish their request)."""
        running = [(t, e) for t, e in self._tasks if not e.is_set()]
        for _ in range(clients - len(running)):
            retire = asyncio.Event()
            self._tasks.append((asyncio.get_running_loop().create_task(self._client(retire)), retire))
        for _, retire in running[clients:]:
            retire.set()

    async def _client(self, retire: asyncio.Event) -> None:
        while not (self._stop.is_set() or retire.is_set()) and self._next < self.limit and time.monotonic() < self.deadline:
            rid = self._next
            self._next += 1
            outcome = Outcome(rid, time.monotonic())
            self.tally.outcomes.append(outcome)
            try:
                answer = await http_get(self.port, self.path.format(id=rid), self.host, self.timeout)
                outcome.status, outcome.body = answer.status, answer.body
            except (OSError, asyncio.TimeoutError, ValueError, IndexError) as exc:
                outcome.error = f"{type(exc).__name__}: {exc}"
            outcome.ended = time.monotonic()

    async def stop(self) -> Tally:
        """Stop every client after its current request; the tally of the whole run."""
        self._stop.set()
        await asyncio.gather(*(t for t, _ in self._tasks))
        return self.tally


# -- the private data plane -----------------------------------------------------------------------


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


class Plane:
    """A `dataplane up` in a temporary home, with a control API client."""

    def __init__(self, home: Path, port: int | None = None, api_port: int | None = None):
        self.install = LocalInstall(home, home.parent / f"{home.name}-up.log", port, api_port)
        self.session: aiohttp.ClientSession | None = None
        self.api: ControlApi | None = None

    @property
    def port(self) -> int:
        return self.install.port

    async def start(self, config: dict | None = None, configure: bool = True) -> Plane:
        """Start it; apply ``config`` (default: :func:`autoscaler_config`) unless ``configure`` is false."""
        await asyncio.to_thread(self.install.start)
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.api = ControlApi(self.install.api_url, self.session, self.install.token())
        if configure:
            await self.api.apply([config or autoscaler_config()])
        return self

    def processes(self) -> list[int]:
        """Everything `dataplane up` runs now (activator, queue-proxies, apps)."""
        return descendants(self.install.proc.pid) if self.install.proc else []

    async def stop(self) -> list[int]:
        """Stop it (SIGTERM, drained); the pids it left running (killed here so nothing outlives the test)."""
        if self.session is not None:
            await self.session.close()
            self.session = None
        before = self.processes()
        await asyncio.to_thread(self.install.stop)
        deadline = time.monotonic() + 5
        left = [p for p in before if alive(p)]
        while left and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            left = [p for p in left if alive(p)]
        for pid in left:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        return left


@contextlib.asynccontextmanager
async def running_plane(tmp_path: Path):
    """A started :class:`Plane` in ``tmp_path``, stopped afterwards; fails if it leaves processes behind."""
    plane = Plane(tmp_path / "home")
    await plane.start()
    try:
        yield plane
    finally:
        left = await plane.stop()
    assert not left, f"dataplane up left processes running: {left}"


def app_pid(pod: dict) -> int:
    """The pid of a local pod's user process: the process whose environment has the pod's PORT and revision.

    The local runtime starts the user's command with PORT (the pod's app port)
    and K_REVISION; the queue-proxy beside it has USER_PORT instead, so the
    pair names exactly one process.
    """
    port = str(pod_port(pod, "user"))
    revision = pod["metadata"]["labels"]["serving.knative.dev/revision"]
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and parent_of(int(entry)) is not None:
            env = environ(int(entry))
            if env.get("PORT") == port and env.get("K_REVISION") == revision:
                found.append(int(entry))
    if len(found) != 1:
        raise AssertionError(f"expected one process with PORT={port} K_REVISION={revision}, found {found}")
    return found[0]
