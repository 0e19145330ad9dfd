"""The locustfiles, run by a real locust (in a process of its own) against a small local server."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web

from loadtests._scenario_locust import LOCUSTFILES, locust_command, read_failures, read_history, read_totals
from loadtests.scenarios import ROOT

pytestmark = pytest.mark.slow
HOST_HEADER = "svc.default.example.com"


class Server:
    """Answers 200 on /, 502 on /bad, after ``delay`` seconds; counts requests by Host header."""

    def __init__(self, delay: float = 0.05):
        self.delay = delay
        self.hosts: Counter = Counter()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hosts[request.headers.get("Host")] += 1
        await asyncio.sleep(self.delay)
        return web.Response(status=502 if request.path == "/bad" else 200, text="ok")

    async def __aenter__(self) -> Server:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()


async def run_locust(locustfile: str, host: str, prefix: Path, users: int, seconds: int, extra: list[str] | None = None) -> int:
    cmd = locust_command(LOCUSTFILES / locustfile, host, prefix, users, users, seconds, HOST_HEADER, extra)
    with open(f"{prefix}.log", "wb") as log:
        proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, stdout=log, stderr=log)
        try:
            return await asyncio.wait_for(proc.wait(), seconds + 40)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_steady_users_send_the_host_header_and_history_is_written(tmp_path):
    prefix = tmp_path / "steady"
    async with Server() as server:
        code = await run_locust("rollout.py", server.url, prefix, users=3, seconds=3)
    assert code == 0, (tmp_path / "steady.log").read_text()[-2000:]
    assert set(server.hosts) == {HOST_HEADER}
    totals = read_totals(Path(f"{prefix}_stats.csv"))
    assert totals.requests > 10 and totals.failures == 0
    assert sum(server.hosts.values()) >= totals.requests
    history = read_history(Path(f"{prefix}_stats_history.csv"))
    assert history and max(r.users for r in history) == 3
    assert history[-1].total_requests <= totals.requests


async def test_failures_are_named_by_status(tmp_path):
    prefix = tmp_path / "bad"
    async with Server() as server:
        code = await run_locust("split.py", server.url, prefix, users=2, seconds=2, extra=["--path", "/bad"])
    assert code == 0
    totals = read_totals(Path(f"{prefix}_stats.csv"))
    failures = read_failures(Path(f"{prefix}_failures.csv"))
    assert totals.failures == totals.requests > 0
    assert [(f.reason, f.count) for f in failures] == [("HTTP 502", totals.failures)]


async def test_burst_users_stop_after_their_burst(tmp_path):
    prefix = tmp_path / "burst"
    async with Server() as server:
        code = await run_locust("seed_burst.py", server.url, prefix, users=4, seconds=5, extra=["--burst-seconds", "1"])
    assert code == 0
    history = read_history(Path(f"{prefix}_stats_history.csv"))
    assert max(r.users for r in history) == 4
    assert history[-1].users == 0, [r.users for r in history]


async def test_ramp_shape_bounds_users_and_ends_by_itself(tmp_path):
    prefix = tmp_path / "ramp"
    async with Server() as server:
        code = await run_locust("ramp.py", server.url, prefix, users=5, seconds=6)
    assert code == 0
    users = [r.users for r in read_history(Path(f"{prefix}_stats_history.csv"))]
    assert users and max(users) <= 5 and max(users) >= 3, users
