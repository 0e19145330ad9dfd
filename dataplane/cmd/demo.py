"""What `./dev.sh up` runs: `dataplane up`, with the seed article's sample Service applied.

The sample is samples/knative-example (the article's Node.js app and its
Listing 1, with `command: [node, index.js]` added). It is applied only when
it does not exist yet, so a restart keeps whatever the user changed since
(e.g. Listing 2). Once it is Ready the commands to try are printed. Ctrl-C
stops everything (pods are drained).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from dataplane.platform.local.home import default_home, read_token

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "knative-example"


def _call(api: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(api + path, data=data, method="POST" if data else "GET", headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _wait_api(api: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"dataplane up exited with {proc.returncode}")
        try:
            urllib.request.urlopen(api + "/healthz", timeout=1).read()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise SystemExit("dataplane up did not start in time")


def _exists(api: str, doc: dict) -> bool:
    meta = doc.get("metadata") or {}
    try:
        _call(api, f"/v1/services/{meta.get('namespace') or 'default'}/{meta['name']}")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise
    return True


def apply_sample(api: str, token: str | None = None) -> list[str]:
    """Apply the sample's Services that do not exist yet; one line per Service saying what became of it.

    An existing one is left as it is: re-applying Listing 1 on every start would
    roll back the user's own changes into a new revision.
    """
    import yaml

    docs = [d for d in yaml.safe_load_all((SAMPLE / "app.yaml").read_text()) if d]
    missing = [d for d in docs if not _exists(api, d)]
    lines = [f"service.serving.knative.dev/{d['metadata']['name']} exists (kept as it is)" for d in docs if d not in missing]
    if missing:
        result = _call(api, "/v1/apply", {"documents": missing, "workingDir": str(SAMPLE)}, token=token)
        lines += [f"service.serving.knative.dev/{r['name']} {r['action']}" for r in result["results"]]
    return lines


def _ready(api: str, name: str) -> tuple[bool, str]:
    try:
        svc = _call(api, f"/v1/services/default/{name}")
    except urllib.error.HTTPError:
        return False, "not created yet"
    for cond in svc.get("status", {}).get("conditions", []):
        if cond["type"] == "Ready":
            return cond["status"] == "True", cond.get("message") or cond.get("reason", "")
    return False, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev.sh up", description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-port", type=int, default=8081)
    parser.add_argument("--home", type=Path, default=default_home())
    args = parser.parse_args(argv)
    api = f"http://127.0.0.1:{args.api_port}"
    up = subprocess.Popen(
        [sys.executable, "-m", "dataplane", "up", "--port", str(args.port), "--api-port", str(args.api_port), "--home", str(args.home)]
    )
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        _wait_api(api, up, 30)
        for line in apply_sample(api, read_token(args.home)):
            print(line, flush=True)
        deadline = time.monotonic() + 60
        ready, why = _ready(api, "knative-example")
        while not ready and time.monotonic() < deadline and not stopping:
            time.sleep(0.25)
            ready, why = _ready(api, "knative-example")
        if not ready:
            print(f"knative-example is not Ready: {why}", file=sys.stderr)
        else:
            print(
                "\nknative-example is Ready. Try:\n"
                f'  curl -H "Host: knative-example.default.example.com" 127.0.0.1:{args.port}\n'
                "  .venv/bin/dataplane get ksvc,configuration,revision,route\n"
                "  .venv/bin/dataplane get pods        # gone after a minute or so without requests\n"
                "Ctrl-C stops everything.\n",
                flush=True,
            )
    except (urllib.error.URLError, OSError) as exc:
        print(f"dev.sh up: {exc}", file=sys.stderr)
        stop()
    return up.wait()


if __name__ == "__main__":
    raise SystemExit(main())
