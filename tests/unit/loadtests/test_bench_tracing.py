"""The tracing benchmark measures what it says: every case forwards the request and answers it."""

from __future__ import annotations

from loadtests.bench_tracing import CASES, run


def test_each_case_is_measured():
    result = run(rounds=1, requests=20)
    assert set(result) == set(CASES) and all(value > 0 for value in result.values())
