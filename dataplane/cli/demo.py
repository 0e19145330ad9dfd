"""The runnable demo behind `./dev.sh up` while the local control plane is being built:
the seed article's Node.js app (or a Python stand-in when node is missing) behind a
real queue-proxy on 127.0.0.1, which you can curl.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "knative-example"
PY_HELLO = "import http.server,os,time\nclass H(http.server.BaseHTTPRequestHandler):\n def do_GET(s):\n  time.sleep(1); b=b'Hello World!'; s.send_response(200); s.send_header('Content-Length',str(len(b))); s.end_headers(); s.wfile.write(b)\n def log_message(s,*a): pass\nhttp.server.ThreadingHTTPServer(('127.0.0.1',int(os.environ['PORT'])),H).serve_forever()\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev.sh up", description=__doc__)
    parser.add_argument("--port", type=int, default=8012, help="queue-proxy serving port (default 8012)")
    parser.add_argument("--concurrency", type=int, default=0, help="containerConcurrency (default 0 = unlimited)")
    args = parser.parse_args(argv)
    app_port = free_port()
    env = dict(os.environ, PORT=str(app_port), K_SERVICE="knative-example", K_CONFIGURATION="knative-example", K_REVISION="knative-example-00001")
    if shutil.which("node"):
        app_cmd = ["node", "index.js"]
    else:
        app_cmd = [sys.executable, "-c", PY_HELLO]
    app = subprocess.Popen(app_cmd, cwd=SAMPLE, env=env)
    qp_env = dict(
        os.environ,
        CONTAINER_CONCURRENCY=str(args.concurrency),
        QUEUE_SERVING_PORT=str(args.port),
        QUEUE_ADMIN_PORT=str(free_port()),
        QUEUE_STATS_PORT=str(free_port()),
        QUEUE_METRICS_PORT=str(free_port()),
        QUEUE_BIND_ADDRESS="127.0.0.1",
        USER_PORT=str(app_port),
        REVISION_TIMEOUT_SECONDS="300",
        SERVING_NAMESPACE="default",
        SERVING_CONFIGURATION="knative-example",
        SERVING_REVISION="knative-example-00001",
        SERVING_POD="knative-example-00001-local",
        SERVING_POD_IP="127.0.0.1",
        QUEUE_DRAIN_QUIET_PERIOD_SECONDS="0",
    )
    qp = subprocess.Popen([sys.executable, "-m", "dataplane", "queue-proxy"], env=qp_env)
    print(f"app: {' '.join(app_cmd)} on 127.0.0.1:{app_port}; queue-proxy on 127.0.0.1:{args.port}", flush=True)
    print(f'try:  curl -H "Host: knative-example.default.example.com" 127.0.0.1:{args.port}', flush=True)
    print(f"      curl 127.0.0.1:{qp_env['QUEUE_STATS_PORT']}/metrics   (the autoscaler's view)", flush=True)
    print(f"      curl 127.0.0.1:{qp_env['QUEUE_METRICS_PORT']}/metrics   (Prometheus)", flush=True)
    print("Ctrl-C stops both.", flush=True)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and app.poll() is None and qp.poll() is None:
            time.sleep(0.2)
    finally:
        for proc in (qp, app):
            if proc.poll() is None:
                proc.terminate()
        for proc in (qp, app):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
