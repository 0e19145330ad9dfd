"""Ready-made cases: the fast app alone, and behind nginx or haproxy.

Benchmarks mix these with their own cases; :func:`start_fast_app` is the
upstream every proxy case should put behind itself, so that the proxies, not
the apps, differ between cases.
"""

from __future__ import annotations

import pathlib
import sys

from loadtests._launch import free_port
from loadtests.apps import fastapp
from loadtests.apps.haproxy_conf import haproxy_argv, write_haproxy_conf
from loadtests.apps.nginx_conf import nginx_argv, write_nginx_conf
from loadtests.harness import Case, Scope, Target

FAST_APP = pathlib.Path(fastapp.__file__).resolve()


def url(port: int, path: str = "/") -> str:
    """The benchmark URL on the loopback interface."""
    return f"http://127.0.0.1:{port}{path}"


def start_fast_app(scope: Scope, sleep_ms: float = 0.0, on: str = "server") -> tuple[int, int]:
    """Start the fast app in ``scope``; return ``(port, pid)``.

    By default it shares the server CPU with the proxy in front of it, as an
    app and its sidecar share a pod's CPU.
    """
    port = free_port()
    # Run by path: the app needs only uvloop, not the loadtests package on sys.path.
    argv = [sys.executable, str(FAST_APP), "--port", str(port), "--sleep-ms", str(sleep_ms)]
    proc = scope.spawn(argv, port=port, on=on)
    return port, proc.pid


def direct_case(name: str = "direct", sleep_ms: float = 0.0) -> Case:
    """The fast app alone; the app is what is measured."""

    def setup(scope: Scope) -> Target:
        port, pid = start_fast_app(scope, sleep_ms)
        return Target(url(port), [pid])

    return Case(name, setup)


def nginx_case(name: str = "nginx", sleep_ms: float = 0.0, app_on: str = "server") -> Case:
    """The fast app behind nginx (one worker); the worker is what is measured."""

    def setup(scope: Scope) -> Target:
        app_port, _ = start_fast_app(scope, sleep_ms, on=app_on)
        port = free_port()
        conf = write_nginx_conf(port, app_port, scope.workdir / "nginx")
        master = scope.spawn(nginx_argv(conf), port=port)
        # The master only forks and waits; the worker serves every request.
        return Target(url(port), scope.children_of(master, count=1))

    return Case(name, setup)


def haproxy_case(
    name: str = "haproxy", sleep_ms: float = 0.0, maxconn: int | None = None, app_on: str = "server"
) -> Case:
    """The fast app behind haproxy (one thread); haproxy is what is measured."""

    def setup(scope: Scope) -> Target:
        app_port, _ = start_fast_app(scope, sleep_ms, on=app_on)
        port = free_port()
        conf = write_haproxy_conf(port, app_port, scope.workdir / "haproxy", maxconn=maxconn)
        proc = scope.spawn(haproxy_argv(conf), port=port)
        return Target(url(port), [proc.pid])

    return Case(name, setup)
