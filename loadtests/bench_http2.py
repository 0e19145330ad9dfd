"""HTTP/2 cleartext through the queue-proxy against nginx's ``grpc_pass``, side by side in one run.

    ./dev.sh bench http2 [--runs 3 --duration 5 --connections 4 --streams 25]

h2load (Debian's ``nghttp2-client``) drives ``-c`` connections with ``-m``
concurrent streams each, against:

* direct: the app alone (an h2c server: an nginx worker answering ``200 ok``, so
  the app costs little and the same in every case; it is what is measured here);
* nginx: ``listen ... http2`` with ``grpc_pass`` to the app over pooled h2c
  connections, the C baseline (its one worker is measured);
* queue-proxy, containerConcurrency 0: ours, with ``USER_PROTOCOL=h2c`` (the
  revision's port named ``h2c``), so every stream goes through the policy and
  out on a multiplexed h2c connection to the app.

Measured per case: CPU µs per request of the measured process, req/s, p50/p99
(from h2load's per-request log), RSS; ratios against the direct case, and the
queue-proxy's CPU per request against nginx's. Target: ≤ 1.5× nginx's
(compiled build).
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile

from loadtests._launch import free_port, pin_argv
from loadtests._proc import sample
from loadtests.apps.nginx_conf import nginx_argv
from loadtests.bench_queueproxy import queue_proxy_env
from loadtests.harness import Case, Load, RunMetrics, Scope, Target, compare

# what both nginx instances share: one worker, every path under the case's directory, no request limits
_NGINX_HEAD = """\
worker_processes 1;
pid {dir}/nginx.pid;
lock_file {dir}/nginx.lock;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    http2_max_requests 100000000;
    keepalive_requests 100000000;
"""

# the h2c app: answers 200 "ok" to every request
_APP_CONF = _NGINX_HEAD + """\
    server {{
        listen 127.0.0.1:{port} http2;
        location / {{ return 200 "ok"; }}
    }}
}}
"""

# the C baseline: HTTP/2 in, grpc_pass over pooled h2c connections to the app
_PROXY_CONF = _NGINX_HEAD + """\
    upstream app {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
        keepalive_requests 100000000;
    }}
    server {{
        listen 127.0.0.1:{port} http2;
        location / {{ grpc_pass grpc://app; }}
    }}
}}
"""

_REQUESTS = re.compile(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", re.M)
_STATUS = re.compile(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", re.M)
_FINISHED = re.compile(r"^finished in ([\d.]+)(ms|s), ([\d.]+) req/s", re.M)


@dataclasses.dataclass(frozen=True)
class H2Load:
    """How hard h2load drives a target: connections, streams on each, seconds."""

    connections: int = 4
    streams: int = 25
    duration_s: float = 5.0


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}/"


def start_nginx(scope: Scope, template: str, port: int, **values) -> list[int]:
    """nginx from ``template`` on ``port`` in the scope; the pid of its one worker."""
    directory = scope.workdir / f"nginx-{port}"
    directory.mkdir(parents=True)
    conf = directory / "nginx.conf"
    conf.write_text(template.format(dir=directory.resolve(), port=port, **values))
    master = scope.spawn(nginx_argv(conf), port=port)
    return scope.children_of(master, count=1)


def start_app(scope: Scope) -> tuple[int, list[int]]:
    port = free_port()
    return port, start_nginx(scope, _APP_CONF, port)


def direct_case() -> Case:
    def setup(scope: Scope) -> Target:
        port, workers = start_app(scope)
        return Target(url(port), workers)

    return Case("direct", setup)


def nginx_case() -> Case:
    def setup(scope: Scope) -> Target:
        app_port, _ = start_app(scope)
        port = free_port()
        return Target(url(port), start_nginx(scope, _PROXY_CONF, port, upstream_port=app_port))

    return Case("nginx", setup)


def queue_proxy_case() -> Case:
    def setup(scope: Scope) -> Target:
        app_port, _ = start_app(scope)
        port = free_port()
        env = {**queue_proxy_env(app_port, port, 0), "USER_PROTOCOL": "h2c", "QUEUE_SERVING_H2C_PORT": "0"}
        argv = ["env", *(f"{k}={v}" for k, v in env.items()), sys.executable, "-m", "dataplane", "queue-proxy"]
        proc = scope.spawn(argv, port=port)
        return Target(url(port), [proc.pid])

    return Case("queue-proxy", setup)


def run_h2load(target_url: str, load: H2Load, cpu: int | None, log: pathlib.Path) -> tuple[int, int, float, list[float]]:
    """One h2load run: (requests succeeded, failed or errored, seconds, per-request latencies in ms)."""
    argv = [
        "h2load", "-c", str(load.connections), "-m", str(load.streams), "-t", "1",
        "-D", str(max(1, round(load.duration_s))), "--log-file", str(log), target_url,
    ]  # fmt: skip
    out = subprocess.run(pin_argv(argv, cpu), capture_output=True, text=True, timeout=load.duration_s + 60, check=False)
    succeeded, failed, seconds = parse_h2load(out.stdout, out.stderr, out.returncode)
    # per request: start time (µs since the epoch), status, duration (µs)
    latencies = [int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines() if line.count("\t") >= 2]
    return succeeded, failed, seconds, latencies


def parse_h2load(stdout: str, stderr: str = "", returncode: int = 0) -> tuple[int, int, float]:
    """h2load's report as (requests answered 1xx-3xx, requests failed/errored/answered 4xx-5xx, seconds)."""
    requests = _REQUESTS.search(stdout)
    finished = _FINISHED.search(stdout)
    if requests is None or finished is None:
        raise RuntimeError(f"h2load gave no report (exit {returncode}):\n{stdout[-2000:]}\n{stderr[-2000:]}")
    status = _STATUS.search(stdout)
    bad_status = sum(int(n) for n in status.groups()[2:]) if status else 0
    seconds = float(finished.group(1)) / (1000 if finished.group(2) == "ms" else 1)
    return int(requests.group(4)) - bad_status, int(requests.group(5)) + int(requests.group(6)) + bad_status, seconds


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_h2(target: Target, load: Load, load_cpu: int | None, h2: H2Load) -> RunMetrics:
    """The harness's measure step with h2load in place of wrk (``load`` gives the duration)."""
    run = dataclasses.replace(h2, duration_s=load.duration_s)
    with tempfile.TemporaryDirectory(prefix="bench-h2load-") as tmp:
        before = sample(target.pids, target.children)
        ok, failed, seconds, latencies = run_h2load(target.url, run, load_cpu, pathlib.Path(tmp) / "requests.log")
        after = sample(target.pids, target.children)
    cpu_s = after.cpu_s - before.cpu_s
    total = ok + failed
    return RunMetrics(
        rps=total / seconds if seconds else float("nan"),
        p50_ms=percentile(latencies, 0.50),
        p90_ms=percentile(latencies, 0.90),
        p99_ms=percentile(latencies, 0.99),
        cpu_us_per_req=cpu_s * 1e6 / total if total else float("nan"),
        rss_mb=after.rss_bytes / 2**20,
        requests=total,
        errors=failed,
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--streams", type=int, default=25, help="concurrent streams per connection")
    args = p.parse_args(argv)
    h2 = H2Load(args.connections, args.streams, args.duration)
    cost = compare(
        [direct_case(), nginx_case(), queue_proxy_case()],
        baseline="direct",
        runs=args.runs,
        load=Load(connections=args.connections * args.streams, duration_s=args.duration),
        title="http2-cost",
        measure=lambda target, load, cpu: measure_h2(target, load, cpu, h2),
    )
    nginx, ours = cost.by_name("nginx"), cost.by_name("queue-proxy")
    ratios = [q.cpu_us_per_req / n.cpu_us_per_req for q, n in zip(ours.runs, nginx.runs)]
    errors = sum(s.errors for s in cost.summaries)
    print(
        f"\nqueue-proxy over h2c: CPU per request {ours.median['cpu_us_per_req']:.1f} µs = "
        f"{statistics.median(ratios):.2f}× nginx's ({nginx.median['cpu_us_per_req']:.1f} µs; target ≤ 1.5×); "
        f"req/s {ours.median['rps'] / nginx.median['rps']:.2f}× nginx's; "
        f"p99 {ours.median['p99_ms'] / nginx.median['p99_ms']:.2f}× nginx's; "
        f"RSS {ours.median['rss_mb']:.1f} MB; failed requests in all runs: {errors}"
    )


if __name__ == "__main__":
    main()
