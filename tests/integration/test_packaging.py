"""The distribution as a user gets it: sdist, a wheel built from it, installed into a fresh virtualenv.

Slow: it compiles every Cython module from scratch and installs the runtime dependencies into a new
virtualenv (from PyPI, which the developers' machines and CI reach), a few minutes on a shared machine.

The wheel is built from the sdist, not from the checkout, so a file the build needs but the sdist leaves out
(a ``.pxd``, ``ext/``, README, LICENSE) fails here. The sdist is built from the files git knows, so nothing
left in the checkout by a local build (``.so``, generated C) can stand in for the sources.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
import tomllib
import urllib.request
from pathlib import Path

import pytest

from tests.support import ROOT, Proc, queue_proxy_env, start_testapp

pytestmark = pytest.mark.slow

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# the build and the installed programs see neither this checkout nor a forced pure-Python build
DROPPED_ENV = ("PYTHONPATH", "DATAPLANE_NO_EXTENSIONS", "DATAPLANE_NO_NGHTTP2", "PIP_REQUIRE_VIRTUALENV")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", DATAPLANE_REQUIRE_EXTENSIONS="1", **extra)
    return env


def run(args: list[str | Path], timeout: float, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def checkout_copy(dest: Path) -> Path:
    """The files git knows (tracked, or new and not ignored), copied to ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True, timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not part of it
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def test_sdist_wheel_installs_and_runs(tmp_path):
    src = checkout_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    # --no-isolation: the build requirements come from this virtualenv (./dev.sh installs them), and
    # `build` checks they satisfy [build-system] requires, setuptools 77 for the SPDX license included
    run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--outdir", dist, src], 300, tmp_path)
    (sdist,) = dist.glob("*.tar.gz")
    assert sdist.name == f"serverless_dataplane-{PROJECT['version']}.tar.gz"
    top = sdist.name.removesuffix(".tar.gz")
    with tarfile.open(sdist) as tar:
        members = {m.name.removeprefix(top + "/") for m in tar.getmembers()}
    cython = {str(p.relative_to(src)) for p in src.rglob("*") if p.suffix in {".pxd", ".pyx", ".pxi", ".h"}}
    assert any(name.startswith("ext/") for name in cython) and any(name.endswith(".pxd") for name in cython)
    missing = ({"LICENSE", "README.md", "setup.py", "pyproject.toml"} | cython) - members
    assert not missing, f"the sdist leaves out {sorted(missing)}"
    # nothing compiled or generated travels in the sdist
    assert not [m for m in members if m.endswith((".so", ".c"))]

    run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", dist, sdist], 900, tmp_path)
    (wheel,) = dist.glob("*.whl")
    assert wheel.name.startswith(f"serverless_dataplane-{PROJECT['version']}-")
    # the console's page travels as package data: `dataplane up` serves it with nothing fetched at run time
    with zipfile.ZipFile(wheel) as built:
        shipped = set(built.namelist())
    console = {f"dataplane/console/static/{name}" for name in ("index.html", "console.js", "console.css")}
    assert console <= shipped, f"the wheel leaves out {sorted(console - shipped)}"

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], 120, tmp_path)
    python, dataplane = venv / "bin" / "python", venv / "bin" / "dataplane"
    run([python, "-m", "pip", "install", "-q", wheel], 900, tmp_path)

    # the import package is ours, from the virtualenv, and owned by our distribution (not PyPI's `dataplane`)
    owner = json.loads(
        run(
            [python, "-c", "import dataplane, json, importlib.metadata as m;"
             "print(json.dumps([dataplane.__file__, m.packages_distributions()['dataplane']]))"],
            60, tmp_path,
        )
    )
    assert Path(owner[0]).is_relative_to(venv) and owner[1] == ["serverless-dataplane"], owner

    info = json.loads(run([dataplane, "version", "--json"], 60, tmp_path))
    assert info["dataplane"] == PROJECT["version"]
    assert info["extensions"] == "compiled", info["modules"]
    assert info["modules"] and set(info["modules"].values()) == {"compiled"}

    app = start_testapp()
    qp = None
    try:
        ports, env = queue_proxy_env(app.port)
        env.update(
            PYTHONPATH="",  # empty: the installed package, not this checkout
            DATAPLANE_NO_EXTENSIONS="",
            DATAPLANE_REQUIRE_EXTENSIONS="1",
        )
        qp = Proc([str(dataplane), "queue-proxy"], env=env, port=ports["serving"])
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['serving']}/", timeout=10) as response:
            assert response.status == 200
            assert response.read() == b"hello"
    finally:
        if qp is not None:
            qp.stop()
        app.stop()
