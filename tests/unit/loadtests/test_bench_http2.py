"""bench_http2's pieces: h2load's report, and the nginx h2c app and grpc_pass proxy it measures, run for real."""

from __future__ import annotations

import pathlib

import pytest

from loadtests._launch import free_port
from loadtests.bench_http2 import _APP_CONF, _PROXY_CONF, H2Load, parse_h2load, percentile, run_h2load, start_nginx
from loadtests.harness import Scope, detect_pinning

REPORT = """\
starting benchmark...
spawning thread #0: 4 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.

finished in 1.00s, 9833.00 req/s, 344.07KB/s
requests: 9833 total, 9933 started, 9833 done, 9830 succeeded, 2 failed, 1 errored, 0 timeout
status codes: 9825 2xx, 0 3xx, 4 4xx, 1 5xx
traffic: 344.07KB (352326) total, 57.85KB (59238) headers (space savings 93.37%), 19.21KB (19666) data
"""


def test_the_report_counts_4xx_5xx_failed_and_errored_as_failures():
    assert parse_h2load(REPORT) == (9825, 8, 1.0)
    assert parse_h2load(REPORT.replace("finished in 1.00s", "finished in 500.5ms"))[2] == pytest.approx(0.5005)


def test_a_run_without_a_report_names_the_exit_and_the_output():
    with pytest.raises(RuntimeError, match=r"(?s)exit 1.*connect to 127.0.0.1:1 failed"):
        parse_h2load("", "connect to 127.0.0.1:1 failed\n", 1)


def test_percentile_of_latencies():
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([1.0] * 99 + [50.0], 0.99) == 50.0
    assert percentile([], 0.5) != percentile([], 0.5)  # nan


def test_h2load_through_nginx_grpc_pass_to_the_h2c_app(tmp_path: pathlib.Path):
    scope = Scope("h2", detect_pinning(), tmp_path)
    try:
        app_port, proxy_port = free_port(), free_port()
        start_nginx(scope, _APP_CONF, app_port)
        start_nginx(scope, _PROXY_CONF, proxy_port, upstream_port=app_port)
        for port in (app_port, proxy_port):
            ok, failed, seconds, latencies = run_h2load(f"http://127.0.0.1:{port}/", H2Load(2, 5, 1.0), None, tmp_path / f"{port}.log")
            assert ok > 0 and failed == 0 and 0.5 < seconds < 5
            assert len(latencies) >= ok and all(ms >= 0 for ms in latencies)
    finally:
        scope.close()
