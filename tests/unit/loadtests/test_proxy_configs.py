"""The nginx and haproxy configs the proxy cases run with."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from loadtests.apps.haproxy_conf import haproxy_argv, haproxy_conf, write_haproxy_conf
from loadtests.apps.nginx_conf import nginx_argv, nginx_conf, write_nginx_conf


def directives(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def test_nginx_conf_proxies_with_upstream_keepalive(tmp_path):
    lines = directives(nginx_conf(8081, 8080, tmp_path))
    for expected in [
        "worker_processes 1;",
        "access_log off;",
        "keepalive 64;",
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "server 127.0.0.1:8080;",
        "listen 127.0.0.1:8081;",
        "proxy_pass http://app;",
    ]:
        assert expected in lines


def test_nginx_writes_only_under_its_directory(tmp_path):
    text = nginx_conf(8081, 8080, tmp_path)
    written = {"pid", "lock_file", "error_log"}
    paths = [
        line.split()[1].rstrip(";")
        for line in directives(text)
        if line.split()[0] in written or line.split()[0].endswith("_temp_path")
    ]
    assert len(paths) == 8
    assert all(p.startswith(str(tmp_path.resolve())) for p in paths)
    assert "daemon" not in text  # given on the command line instead


def test_nginx_argv_runs_in_the_foreground(tmp_path):
    conf = write_nginx_conf(8081, 8080, tmp_path / "ngx")
    argv = nginx_argv(conf)
    assert argv[-2:] == ["-g", "daemon off;"]
    assert argv[argv.index("-c") + 1] == str(conf.resolve())


def test_haproxy_conf_single_thread_reuse_and_maxconn():
    lines = directives(haproxy_conf(8082, 8080, maxconn=10))
    assert "nbthread 1" in lines
    assert "mode http" in lines
    assert "http-reuse always" in lines
    assert "bind 127.0.0.1:8082" in lines
    assert "server app1 127.0.0.1:8080 maxconn 10" in lines
    assert "daemon" not in lines


def test_haproxy_conf_without_maxconn():
    assert "server app1 127.0.0.1:8080" in directives(haproxy_conf(8082, 8080))


@pytest.mark.skipif(shutil.which("nginx", path="/usr/sbin:/usr/bin") is None, reason="no nginx")
def test_nginx_accepts_the_config(tmp_path):
    conf = write_nginx_conf(8081, 8080, tmp_path)
    argv = [a for a in nginx_argv(conf)] + ["-t", "-q"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("haproxy", path="/usr/sbin:/usr/bin") is None, reason="no haproxy")
def test_haproxy_accepts_the_config(tmp_path):
    conf = write_haproxy_conf(8082, 8080, tmp_path, maxconn=10)
    done = subprocess.run(
        [*haproxy_argv(conf), "-c", "-q"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
