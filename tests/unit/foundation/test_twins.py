"""The switch between compiled modules and their twins, and that each pair agrees on the same inputs."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataplane._twins import TWIN_USERS
from tests.twins import load


def version(env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAPLANE_")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-m", "dataplane", "version", "--json"], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_version_reports_pure_python_when_forced():
    info = version({"DATAPLANE_NO_EXTENSIONS": "1"})
    assert info["extensions"] == "pure-python"
    assert set(info["modules"].values()) == {"pure"}
    assert len(info["modules"]) == len(TWIN_USERS)


def test_version_reports_compiled_by_default():
    info = version({"DATAPLANE_REQUIRE_EXTENSIONS": "1"})
    assert info["extensions"] == "compiled"
    assert len(info["modules"]) == len(TWIN_USERS)


class Waiter:
    def __init__(self, log: list, name: int):
        self.log, self.name = log, name

    def admitted(self):
        self.log.append(("admitted", self.name))


def breaker_trace(module_name: str, seed: int) -> list:
    mod = load(module_name)
    rng = random.Random(seed)
    log: list = []
    b = mod.Breaker(3, 30)
    holders, waiting = 0, []
    for step in range(3000):
        op = rng.random()
        if op < 0.5:
            w = Waiter(log, step)
            result = b.acquire(w)
            log.append(("acquire", step, result))
            if result == mod.QUEUED:
                waiting.append(w)
        elif op < 0.8 and b.in_flight:
            b.release()
        elif op < 0.9 and waiting:
            w = waiting.pop(rng.randrange(len(waiting)))
            log.append(("cancel", w.name, b.cancel(w)))
        else:
            b.set_capacity(rng.randint(0, 6))
        log.append(("state", b.in_flight, b.queued, b.capacity))
    return log


def collector_trace(module_name: str, seed: int) -> list:
    mod = load(module_name)
    rng = random.Random(seed)
    now = [1000.0]
    c = mod.Collector(lambda: now[0])
    live = {True: 0, False: 0}
    out = []
    for _ in range(3000):
        now[0] += rng.random() * 0.01
        op = rng.random()
        proxied = rng.random() < 0.3
        if op < 0.45:
            c.request_in(proxied)
            live[proxied] += 1
        elif op < 0.9 and live[proxied]:
            c.request_out(proxied)
            live[proxied] -= 1
        elif op >= 0.98:
            out.append(tuple(round(v, 9) for v in c.report()))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_breaker_twins_agree(seed):
    assert breaker_trace("dataplane.queueproxy._breaker_c", seed) == breaker_trace("dataplane.queueproxy._breaker_py", seed)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_collector_twins_agree(seed):
    assert collector_trace("dataplane.stats._collector_c", seed) == collector_trace("dataplane.stats._collector_py", seed)


ROOT = Path(__file__).resolve().parents[3]
TWINS = sorted(ROOT.glob("dataplane/**/*_py.py"))


@pytest.mark.parametrize("twin", TWINS, ids=lambda p: p.stem)
def test_each_twin_pair_has_one_compiled_source(twin):
    """The pure .py compiled through its .pxd, or a hand-written .pyx: never both, never neither."""
    name = twin.name[: -len("_py.py")] + "_c"
    pxd = twin.with_name(name + ".pxd")
    pyx = ROOT / "ext" / twin.parent.relative_to(ROOT / "dataplane") / (name + ".pyx")
    assert pxd.is_file() != pyx.is_file(), (pxd, pyx)
    if pxd.is_file():
        # the one source must still run where Cython is not installed
        assert "cython" not in twin.read_text().lower()


def pure_source(pxd: Path) -> Path | None:
    """The .py that setup.py compiles through ``pxd``: ``<name>_py.py``, or ``<name>.py`` for ``_<name>_c.pxd``."""
    stem = pxd.name[: -len("_c.pxd")]
    for source in (pxd.with_name(stem + "_py.py"), pxd.with_name(stem.removeprefix("_") + ".py")):
        if source.is_file():
            return source
    return None


@pytest.mark.parametrize("pxd", sorted(ROOT.glob("dataplane/**/*_c.pxd")), ids=lambda p: p.stem)
def test_each_c_pxd_types_a_pure_source_or_declares_a_pyx(pxd):
    """A ``<name>_c.pxd`` declares a hand-written ``ext/.../<name>_c.pyx`` for cimport, else it
    gives C types to a pure .py beside it, which must still run where Cython is not installed."""
    pyx = ROOT / "ext" / pxd.parent.relative_to(ROOT / "dataplane") / (pxd.stem + ".pyx")
    if pyx.is_file():
        return
    source = pure_source(pxd)
    assert source is not None, f"{pxd.name}: neither a .pyx in ext/ nor a pure .py to compile"
    assert "import cython" not in source.read_text()


def test_the_compiled_engine_protocols_are_the_pure_modules_compiled():
    """One text for both builds: the compiled protocols run downstream.py and upstream.py, with
    the C attributes and C methods of their .pxd (absent from Python, unlike in the pure twin)."""
    engine_c, engine_py = load("dataplane.http._engine_c"), load("dataplane.http._engine_py")
    sources = {"ClientConnection": "downstream.py", "UpstreamConnection": "upstream.py", "UpstreamPool": "upstream.py"}
    for name, source in sources.items():
        cls = getattr(engine_c, name)
        assert Path(sys.modules[cls.__module__].__file__).suffix != ".py"
        method = cls.connect if name == "UpstreamPool" else cls.connection_made
        assert method.__code__.co_filename == f"dataplane/http/{source}"

    def made(engine):
        pool = engine.UpstreamPool(None, "127.0.0.1", 1)
        return engine.ClientConnection(None, None, engine.EngineConfig()), engine.UpstreamConnection(pool), pool

    private = (
        ("buf", "dispatching", "timer", "version", "head_only", "_received", "_start_request", "_arm", "_finish"),
        ("buf", "_read_head", "_read_body", "_end_response"),
        ("_connecting", "_waiting", "_start", "_wants", "_connect_ended"),
    )
    for obj, names in zip(made(engine_c), private):
        assert not [n for n in names if hasattr(obj, n)], type(obj)
    for obj, names in zip(made(engine_py), private):
        assert all(hasattr(obj, n) for n in names), type(obj)


def test_twins_compiled_from_their_py_get_their_c_types_from_the_pxd():
    """Counts and clocks live in C and the helpers are C calls: the .pxd was applied, not just the .py compiled."""
    breaker_c = load("dataplane.queueproxy._breaker_c")
    collector_c = load("dataplane.stats._collector_c")
    for module in (breaker_c, collector_c):
        assert Path(module.__file__).suffix != ".py"
    b = breaker_c.Breaker(1, 1)
    assert not any(hasattr(b, a) for a in ("_capacity", "_queue_depth", "_in_flight", "_waiters"))
    assert not hasattr(breaker_c.Breaker, "_admit_waiters")
    c = collector_c.Collector(time.monotonic)
    assert not any(hasattr(c, a) for a in ("_clock", "_native_clock", "_window_start", "_area", "_requests"))
    assert not hasattr(collector_c.Collector, "_now")
    # the pure twins keep them as Python attributes
    assert hasattr(load("dataplane.queueproxy._breaker_py").Breaker(1, 1), "_in_flight")


def test_the_c_clock_is_time_monotonic():
    """The collector's compiled build reads CLOCK_MONOTONIC from C in place of time.monotonic."""
    from dataplane.stats._clock import monotonic

    for _ in range(1000):
        before = time.monotonic()
        now = monotonic()
        assert before <= now <= time.monotonic()
