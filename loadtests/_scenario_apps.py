"""The scenarios' apps and Services: a tiny server that sleeps, then answers with its revision's name."""

from __future__ import annotations

# One line each so they fit a Service's `command` as `node -e` / `python3 -c`, like the seed's 1 s app.
NODE_APP = (
    "const ms=+(process.env.SLEEP_MS||1000);"
    "require('http').createServer((q,r)=>{q.resume();q.on('end',()=>setTimeout(()=>r.end((process.env.K_REVISION||'')+'\\n'),ms))})"
    ".listen(+process.env.PORT,'127.0.0.1')"
)
PYTHON_APP = "\n".join(
    [
        "import os, time, http.server as h",
        "ms = int(os.environ.get('SLEEP_MS', '1000'))",
        "class H(h.BaseHTTPRequestHandler):",
        "    protocol_version = 'HTTP/1.1'",
        "    def do_GET(self):",
        "        time.sleep(ms / 1000)",
        "        body = (os.environ.get('K_REVISION', '') + '\\n').encode()",
        "        self.send_response(200)",
        "        self.send_header('Content-Length', str(len(body)))",
        "        self.end_headers()",
        "        self.wfile.write(body)",
        "    def log_message(self, *args):",
        "        pass",
        "h.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()",
    ]
)
RUNTIMES = ("node", "python")

FAST_AUTOSCALING = {
    "stable-window": "10s",
    "scale-to-zero-grace-period": "2s",
}
"""Shorter windows than Knative's 60 s / 30 s so a scenario shows scale-down and zero within a minute."""


def app_command(runtime: str) -> list[str]:
    """The container command of the sleeping app for ``runtime`` (node or python)."""
    if runtime == "node":
        return ["node", "-e", NODE_APP]
    if runtime == "python":
        return ["python3", "-c", PYTHON_APP]
    raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")


def autoscaler_config(overrides: dict[str, str] | None = None) -> dict:
    """The config-autoscaler ConfigMap a scenario's own install runs with."""
    data = dict(FAST_AUTOSCALING)
    data.update(overrides or {})
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config-autoscaler", "namespace": "knative-serving"}, "data": data}


def service(
    name: str,
    runtime: str,
    sleep_ms: int,
    container_concurrency: int,
    namespace: str = "default",
    revision_name: str | None = None,
    env: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    traffic: list[dict] | None = None,
) -> dict:
    """A serving.knative.dev/v1 Service running the sleeping app."""
    variables = {"SLEEP_MS": str(sleep_ms), **(env or {})}
    template: dict = {
        "spec": {
            "containerConcurrency": container_concurrency,
            "containers": [{"image": "local/sleeping-app", "command": app_command(runtime), "env": [{"name": k, "value": v} for k, v in variables.items()]}],
        }
    }
    meta: dict = {}
    if revision_name:
        meta["name"] = revision_name
    if annotations:
        meta["annotations"] = dict(annotations)
    if meta:
        template["metadata"] = meta
    spec: dict = {"template": template}
    if traffic is not None:
        spec["traffic"] = traffic
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def host_of(name: str, namespace: str = "default", domain: str = "example.com") -> str:
    """The Host header that routes to a Service (Knative's default domain template)."""
    return f"{name}.{namespace}.{domain}"
