"""Write an nginx config that reverse-proxies to one local upstream.

The instance runs as a plain foreground process: every path nginx writes
(pid, error log, lock, temp files) is under a directory of our own, so it
neither needs nor touches Debian's system instance.

    python -m loadtests.apps.nginx_conf --port 8081 --upstream-port 8080 --dir /tmp/ngx
"""

from __future__ import annotations

import argparse
import pathlib
import shlex

NGINX = "/usr/sbin/nginx"

_TEMPLATE = """\
worker_processes 1;
pid {dir}/nginx.pid;
lock_file {dir}/nginx.lock;
error_log {dir}/error.log warn;

events {{
    worker_connections {worker_connections};
}}

http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    # nginx closes a keep-alive connection after 1000 requests by default;
    # wrk would then reconnect mid-run, which the other proxies never make it do.
    keepalive_requests {keepalive_requests};

    upstream app {{
        server {upstream_host}:{upstream_port};
        keepalive {keepalive};
        keepalive_requests {keepalive_requests};
    }}

    server {{
        listen {host}:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def nginx_conf(
    port: int,
    upstream_port: int,
    directory: pathlib.Path,
    host: str = "127.0.0.1",
    upstream_host: str = "127.0.0.1",
    keepalive: int = 64,
    keepalive_requests: int = 1_000_000,
    worker_connections: int = 4096,
) -> str:
    """The config text: listen on ``host:port``, proxy to ``upstream_host:upstream_port``."""
    return _TEMPLATE.format(
        dir=directory.resolve(),
        host=host,
        port=port,
        upstream_host=upstream_host,
        upstream_port=upstream_port,
        keepalive=keepalive,
        keepalive_requests=keepalive_requests,
        worker_connections=worker_connections,
    )


def write_nginx_conf(port: int, upstream_port: int, directory: pathlib.Path, **kw) -> pathlib.Path:
    """Write the config (see :func:`nginx_conf`) into ``directory``; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "nginx.conf"
    path.write_text(nginx_conf(port, upstream_port, directory, **kw))
    return path


def nginx_argv(conf: pathlib.Path) -> list[str]:
    """Command line running nginx in the foreground on ``conf``."""
    directory = conf.parent.resolve()
    # -e keeps start-up messages, written before the config is read, out of /var/log.
    return [
        NGINX,
        "-p", str(directory),
        "-c", str(conf.resolve()),
        "-e", str(directory / "error.log"),
        "-g", "daemon off;",
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port nginx listens on")
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--dir", type=pathlib.Path, required=True, help="config, pid, logs, temp")
    parser.add_argument("--keepalive", type=int, default=64, help="idle upstream connections kept")
    args = parser.parse_args(argv)
    conf = write_nginx_conf(args.port, args.upstream_port, args.dir, keepalive=args.keepalive)
    print(f"wrote {conf}; run:\n  {shlex.join(nginx_argv(conf))}")


if __name__ == "__main__":
    main()
