"""A fake control API on a free loopback port, and a runner for CLI command lines."""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass

import pytest
import pytest_asyncio
from aiohttp import web

from dataplane.cli.main import main
from tests.unit.cli.fakeserver import FakeControlPlane


@dataclass
class Result:
    rc: int
    out: str
    err: str


@pytest_asyncio.fixture
async def control(monkeypatch):
    fake = FakeControlPlane()
    runner = web.AppRunner(fake.app(), shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.url = f"http://{host}:{port}"
    monkeypatch.setenv("DATAPLANE_SERVER", fake.url)
    yield fake
    fake.stopping.set()
    await runner.cleanup()


@pytest.fixture
def run(capsys):
    """``await run("get pods")``: the words split as a shell would, run in a thread so the fake server keeps serving."""

    async def run_words(line: str | list[str]) -> Result:
        argv = shlex.split(line) if isinstance(line, str) else list(line)
        rc = await asyncio.to_thread(main, argv)
        out, err = capsys.readouterr()
        return Result(rc, out, err)

    return run_words
