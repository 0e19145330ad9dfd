"""`dataplane controller` as a process: a kubeconfig, leader election, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest
import yaml

from dataplane.cli.main import build_parser
from dataplane.cmd.controller import settings_from
from dataplane.platform.kubernetes import resources as r
from tests.unit.kubernetes.support import eventually, fake  # noqa: F401 - fixture


def kubeconfig(path, server: str) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "tester", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "tester"}}],
        "current-context": "fake",
    }
    path.write_text(yaml.safe_dump(doc))
    return str(path)


async def test_controller_process_leads_and_releases_on_sigterm(fake, tmp_path):
    config = kubeconfig(tmp_path / "kubeconfig", fake.url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dataplane", "controller", "--kubeconfig", config, "--bind", "127.0.0.1", "--port", "0", "--webhook-port", "0",
        "--identity", "cli-1", "--lease-duration", "2", "--renew-deadline", "1.5", "--retry-period", "0.2", "--log-level", "WARNING",
    )  # fmt: skip
    try:
        lease = await eventually(lambda: fake.get(r.LEASE, "knative-serving", "dataplane-controller"), timeout=20)
        assert lease["spec"]["holderIdentity"] == "cli-1"
        # it lists and watches with the kubeconfig's credentials
        assert any(m == "GET" and "watch=true" in p and "/serving.knative.dev/" in p for m, p in fake.requests)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 20)
    assert code == 0
    assert fake.get(r.LEASE, "knative-serving", "dataplane-controller")["spec"]["holderIdentity"] is None


async def test_controller_process_without_a_cluster_exits_1(tmp_path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dataplane", "controller", "--kubeconfig", str(tmp_path / "missing"),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert b"no cluster to talk to" in err


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--lease-duration", "0"], "--lease-duration"),
        (["--retry-period", "5", "--renew-deadline", "4"], "--retry-period"),
        (["--renew-deadline", "20"], "--renew-deadline"),
        (["--port", "70000"], "--port"),
        (["--webhook-port", "-2"], "--webhook-port"),
        (["--local-gateway", "gw/"], "--local-gateway: expected NAME or NAMESPACE/NAME"),
        (["--local-gateway-service", "/"], "--local-gateway-service"),
    ],
)
def test_bad_flags_are_named(flags, problem):
    parser, _ = build_parser()
    with pytest.raises(ValueError, match=problem):
        settings_from(parser.parse_args(["controller", *flags]))


def test_flags_become_settings():
    parser, _ = build_parser()
    args = parser.parse_args(
        ["controller", "--system-namespace", "serving", "--gateway", "gw/main", "--identity", "me", "--lease-duration", "30"]
    )
    settings = settings_from(args)
    assert (settings.system_namespace, settings.gateway, settings.lease.identity, settings.lease.namespace) == (
        "serving",
        "gw/main",
        "me",
        "serving",
    )
    assert settings.lease.lease_duration == 30
    assert (settings.local_gateway, settings.local_gateway_service) == ("knative-local-gateway", "")
    args = parser.parse_args(["controller", "--local-gateway", "gw/inside", "--local-gateway-service", "gw/envoy-inside"])
    assert (settings_from(args).local_gateway, settings_from(args).local_gateway_service) == ("gw/inside", "gw/envoy-inside")
