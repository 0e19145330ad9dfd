"""Parsing wrk's text report, and the wrk command line."""

from __future__ import annotations

import pathlib

import pytest

from loadtests._wrk import (
    Load,
    WrkOutputError,
    headers_script,
    lua_string,
    parse_wrk,
    time_ms,
    wrk_argv,
)

# A clean run against a fast local server: latencies in ms, no error lines.
CLEAN_MS = """\
Running 5s test @ http://127.0.0.1:40123/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.12ms  341.27us   7.85ms   81.44%
    Req/Sec    45.02k     3.10k   50.88k    70.00%
  Latency Distribution
     50%    1.06ms
     75%    1.29ms
     90%    1.52ms
     99%    2.31ms
  223914 requests in 5.00s, 14.30MB read
Requests/sec:  44779.62
Transfer/sec:      2.86MB
"""

# Few connections: sub-millisecond percentiles print in us, and 850us and
# above already switch to ms.
MICROSECONDS = """\
Running 3s test @ http://127.0.0.1:8080/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   142.51us   60.02us   2.91ms   93.10%
    Req/Sec    27.40k     1.02k   29.13k    76.67%
  Latency Distribution
     50%  131.00us
     75%  150.00us
     90%  181.00us
     99%    0.91ms
  81790 requests in 3.00s, 5.23MB read
Requests/sec:  27262.88
Transfer/sec:      1.74MB
"""

# An overloaded upstream: seconds, timeouts, read errors and 5xx answers.
OVERLOADED = """\
Running 10s test @ http://127.0.0.1:9000/slow
  2 threads and 200 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   843.20ms  412.77ms   1.99s    62.15%
    Req/Sec   118.43     61.90   340.00     68.04%
  Latency Distribution
     50%  790.52ms
     75%    1.12s
     90%    1.48s
     99%    1.93s
  2291 requests in 10.02s, 301.17KB read
  Socket errors: connect 0, read 17, write 2, timeout 112
  Non-2xx or 3xx responses: 341
Requests/sec:    228.64
Transfer/sec:     30.06KB
"""

# A 60 s run: wrk writes the run time in minutes from 51 s on.
MINUTES = """\
Running 1m test @ http://127.0.0.1:8081/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   402.10us  101.30us   9.87ms   90.01%
    Req/Sec    24.80k   800.12    26.01k    71.50%
  Latency Distribution
     50%  388.00us
     75%  431.00us
     90%  502.00us
     99%  780.00us
  1481322 requests in 1.00m, 94.66MB read
  Socket errors: connect 3, read 0, write 0, timeout 0
Requests/sec:  24676.32
Transfer/sec:      1.58MB
"""


def test_clean_run_in_milliseconds():
    r = parse_wrk(CLEAN_MS)
    assert r.requests == 223914
    assert r.duration_s == pytest.approx(5.0)
    assert r.rps == pytest.approx(44779.62)
    assert (r.p50_ms, r.p75_ms, r.p90_ms, r.p99_ms) == pytest.approx((1.06, 1.29, 1.52, 2.31))
    assert r.socket_errors == 0
    assert r.non_2xx == 0


def test_microsecond_percentiles_convert_to_ms():
    r = parse_wrk(MICROSECONDS)
    assert r.p50_ms == pytest.approx(0.131)
    assert r.p90_ms == pytest.approx(0.181)
    assert r.p99_ms == pytest.approx(0.91)
    assert r.requests == 81790


def test_seconds_errors_and_non_2xx():
    r = parse_wrk(OVERLOADED)
    assert r.p50_ms == pytest.approx(790.52)
    assert r.p75_ms == pytest.approx(1120.0)
    assert r.p99_ms == pytest.approx(1930.0)
    assert r.duration_s == pytest.approx(10.02)
    assert (r.connect_errors, r.read_errors, r.write_errors, r.timeouts) == (0, 17, 2, 112)
    assert r.socket_errors == 131
    assert r.non_2xx == 341
    assert r.rps == pytest.approx(228.64)


def test_run_time_in_minutes_and_connect_errors():
    r = parse_wrk(MINUTES)
    assert r.duration_s == pytest.approx(60.0)
    assert r.requests == 1481322
    assert r.connect_errors == 3
    assert r.socket_errors == 3
    assert r.p99_ms == pytest.approx(0.78)


def test_report_without_latency_block_is_rejected():
    lines = CLEAN_MS.splitlines()
    without = "\n".join(line for line in lines if "%" not in line or "Stdev" in line)
    with pytest.raises(WrkOutputError):
        parse_wrk(without)


def test_failed_start_is_rejected():
    with pytest.raises(WrkOutputError):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


@pytest.mark.parametrize(
    ("value", "unit", "ms"),
    [("812.00", "us", 0.812), ("1.50", "ms", 1.5), ("2.00", "s", 2000.0), ("1.00", "m", 60000.0)],
)
def test_time_units(value, unit, ms):
    assert time_ms(value, unit) == pytest.approx(ms)


def test_argv_pins_wrk_and_passes_load():
    argv = wrk_argv("http://127.0.0.1:1/", Load(connections=64, threads=2, duration_s=5), cpu=0)
    assert argv[:3] == ["taskset", "-c", "0"]
    assert argv[3] == "wrk"
    assert "--latency" in argv
    assert {"--connections=64", "--threads=2", "--duration=5s"} <= set(argv)
    assert argv[-1] == "http://127.0.0.1:1/"


def test_argv_unpinned_with_script():
    argv = wrk_argv("http://127.0.0.1:1/", Load(script="/tmp/h.lua"), cpu=None)
    assert argv[0] == "wrk"
    assert "--script=/tmp/h.lua" in argv


def test_headers_script_quotes_values(tmp_path):
    path = headers_script({"Host": "app.example", "X-Quote": 'a"b\\c'}, directory=str(tmp_path))
    text = pathlib.Path(path).read_text()
    assert 'wrk.headers["Host"] = "app.example"\n' in text
    assert 'wrk.headers["X-Quote"] = "a\\"b\\\\c"\n' in text


def test_lua_string_escapes_newlines():
    assert lua_string("a\nb") == '"a\\nb"'
