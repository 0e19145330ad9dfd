"""Write a haproxy config that proxies HTTP to one local upstream.

One thread, connection reuse to the upstream, and an optional ``maxconn``
on the server (haproxy then queues requests beyond it, as queue-proxy's
breaker does). Run it in the foreground with ``haproxy -db -f CONF``.

    python -m loadtests.apps.haproxy_conf --port 8082 --upstream-port 8080 --dir /tmp/hap
"""

from __future__ import annotations

import argparse
import pathlib
import shlex

HAPROXY = "/usr/sbin/haproxy"

_TEMPLATE = """\
global
    nbthread 1
    maxconn {global_maxconn}

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout queue 60s
    timeout http-keep-alive 60s

frontend bench
    bind {host}:{port}
    default_backend app

backend app
    http-reuse always
    server app1 {upstream_host}:{upstream_port}{maxconn}
"""


def haproxy_conf(
    port: int,
    upstream_port: int,
    host: str = "127.0.0.1",
    upstream_host: str = "127.0.0.1",
    maxconn: int | None = None,
    global_maxconn: int = 4096,
) -> str:
    """The config text; ``maxconn`` limits concurrent requests to the upstream."""
    return _TEMPLATE.format(
        host=host,
        port=port,
        upstream_host=upstream_host,
        upstream_port=upstream_port,
        maxconn=f" maxconn {maxconn}" if maxconn else "",
        global_maxconn=global_maxconn,
    )


def write_haproxy_conf(
    port: int, upstream_port: int, directory: pathlib.Path, **kw
) -> pathlib.Path:
    """Write the config (see :func:`haproxy_conf`) into ``directory``; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "haproxy.cfg"
    path.write_text(haproxy_conf(port, upstream_port, **kw))
    return path


def haproxy_argv(conf: pathlib.Path) -> list[str]:
    """Command line running haproxy in the foreground (``-db``) on ``conf``."""
    return [HAPROXY, "-db", "-f", str(conf.resolve())]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port haproxy listens on")
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--dir", type=pathlib.Path, required=True, help="where the config goes")
    parser.add_argument("--maxconn", type=int, default=None, help="per-server concurrency limit")
    args = parser.parse_args(argv)
    conf = write_haproxy_conf(args.port, args.upstream_port, args.dir, maxconn=args.maxconn)
    print(f"wrote {conf}; run:\n  {shlex.join(haproxy_argv(conf))}")


if __name__ == "__main__":
    main()
