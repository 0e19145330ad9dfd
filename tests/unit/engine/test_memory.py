"""``release_memory``: glibc's free heap pages go back to the system, on both builds."""

from __future__ import annotations

import platform

import pytest

from tests.twins import load, twin_params

GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.fixture(params=twin_params("dataplane.http._engine"))
def engine(request):
    return load(request.param)


def _fragment_heap() -> list[bytearray]:
    # 64 KiB blocks sit on the heap (below the mmap threshold); freeing every other one
    # leaves whole free pages between live blocks, which only a trim gives back
    blocks = [bytearray(64 * 1024) for _ in range(200)]
    del blocks[::2]
    return blocks


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is a glibc call; elsewhere release_memory is documented to do nothing")
def test_free_pages_in_the_middle_of_the_heap_are_released(engine):
    engine.release_memory()
    kept = _fragment_heap()
    before = _rss_anon_kib()
    assert engine.release_memory() is True
    # 100 freed blocks of 64 KiB: most of their 6.4 MB leaves the process
    assert before - _rss_anon_kib() > 4 * 1024
    assert len(kept) == 100 and all(len(b) == 64 * 1024 for b in kept)


def _rss_anon_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


def test_answers_a_bool(engine):
    assert engine.release_memory() in (True, False)
