"""`dataplane completion bash|zsh`: scripts the shells accept, offering the subcommands and their flags."""

from __future__ import annotations

import subprocess
import sys

import pytest

SHELL_TIMEOUT = 30


def script(shell: str) -> str:
    done = subprocess.run([sys.executable, "-m", "dataplane", "completion", shell], capture_output=True, text=True,
                          timeout=SHELL_TIMEOUT, check=True)
    assert done.stderr == ""
    return done.stdout


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("completion") / "dataplane.bash"
    path.write_text(script("bash"))
    return str(path)


def complete_in_bash(path: str, words: list[str]) -> list[str]:
    """What bash offers for the last word, as the completion function sets COMPREPLY on a real TAB."""
    array = " ".join(f"'{w}'" for w in words)
    program = (f"source '{path}'; COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; "
               f"COMP_LINE='{' '.join(words)}'; COMP_POINT=${{#COMP_LINE}}; "
               "_shtab_dataplane; printf '%s\\n' \"${COMPREPLY[@]}\"")
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=SHELL_TIMEOUT)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bash_accepts_the_script(bash_script):
    done = subprocess.run(["bash", "-n", bash_script], capture_output=True, text=True, timeout=SHELL_TIMEOUT)
    assert (done.returncode, done.stderr) == (0, "")


def test_bash_offers_the_subcommands_their_actions_and_flags(bash_script):
    assert {"apply", "get", "logs", "service", "revision", "route", "completion", "up"} <= set(
        complete_in_bash(bash_script, ["dataplane", ""]))
    assert complete_in_bash(bash_script, ["dataplane", "se"]) == ["service"]
    assert set(complete_in_bash(bash_script, ["dataplane", "service", ""])) >= {"create", "update", "list", "delete"}
    assert complete_in_bash(bash_script, ["dataplane", "service", "create", "x", "--concurrency-l"]) == [
        "--concurrency-limit"]
    assert complete_in_bash(bash_script, ["dataplane", "completion", ""]) == ["bash", "zsh"]


def test_zsh_accepts_the_script_and_it_names_the_subcommands(tmp_path):
    text = script("zsh")
    path = tmp_path / "_dataplane"
    path.write_text(text)
    done = subprocess.run(["zsh", "-n", str(path)], capture_output=True, text=True, timeout=SHELL_TIMEOUT)
    assert (done.returncode, done.stderr) == (0, "")
    assert text.startswith("#compdef dataplane")
    for word in ("service", "revision", "route", "completion", "--concurrency-limit", "--traffic"):
        assert word in text


def test_an_unknown_shell_is_refused():
    done = subprocess.run([sys.executable, "-m", "dataplane", "completion", "fish"], capture_output=True, text=True,
                          timeout=SHELL_TIMEOUT)
    assert done.returncode == 2 and "invalid choice: 'fish'" in done.stderr
