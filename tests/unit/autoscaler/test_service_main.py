"""The `dataplane autoscaler` command's configuration file and flags (no process started)."""

from __future__ import annotations

import argparse

import pytest

from dataplane.autoscaler.configfile import ConfigFileError, load_config
from dataplane.cmd.autoscaler import add_arguments, run, starting_config


def test_flat_yaml_becomes_string_data(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("stable-window: 6s\nenable-scale-to-zero: false\nmax-scale-up-rate: 10\ncontainer-concurrency-target-percentage: 0.5\n")
    assert load_config(str(path)) == {
        "stable-window": "6s",
        "enable-scale-to-zero": "false",
        "max-scale-up-rate": "10",
        "container-concurrency-target-percentage": "0.5",
    }


def test_whole_configmap_and_json_are_accepted(tmp_path):
    cm = tmp_path / "cm.yaml"
    cm.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-autoscaler\ndata:\n  stable-window: 10s\n")
    assert load_config(str(cm)) == {"stable-window": "10s"}
    js = tmp_path / "c.json"
    js.write_text('{"panic-window-percentage": "20"}')
    assert load_config(str(js)) == {"panic-window-percentage": "20"}
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(str(empty)) == {}


@pytest.mark.parametrize("text, problem", [("- a\n- b\n", "must be a mapping"), ("a: [1]\n", "a: must be"), ("a: [\n", "not YAML")])
def test_bad_files_say_why(tmp_path, text, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigFileError, match=problem):
        load_config(str(path))


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigFileError, match="missing.yaml"):
        load_config(str(tmp_path / "missing.yaml"))


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_follow_knative():
    args = parse("--directory", "http://x/d")
    assert (args.port, args.bind, args.scale_url) == (8080, "0.0.0.0", "")


def test_run_refuses_without_directory_or_with_invalid_config(tmp_path, capsys):
    assert run(parse()) == 2
    assert "--directory" in capsys.readouterr().err
    path = tmp_path / "c.yaml"
    path.write_text("stable-window: 2s\n")
    assert run(parse("--directory", "http://127.0.0.1:1/d", "--config", str(path))) == 2
    assert "stable-window" in capsys.readouterr().err


def test_load_config_from_a_mounted_configmap_directory(tmp_path):
    (tmp_path / "stable-window").write_text("10s\n")
    (tmp_path / "enable-scale-to-zero").write_text("false")
    (tmp_path / "..data").mkdir()  # the mount's own bookkeeping is skipped
    (tmp_path / ".hidden").write_text("x")
    assert load_config(str(tmp_path)) == {"enable-scale-to-zero": "false", "stable-window": "10s"}


def test_an_invalid_mounted_configmap_starts_on_the_defaults_rather_than_crash_looping(tmp_path, capsys):
    # a ConfigMap that got past the webhook: exiting would only restart the pod onto the same map
    (tmp_path / "stable-window").write_text("2s")
    assert starting_config(str(tmp_path)) == {}
    assert "stable-window" in capsys.readouterr().err
    (tmp_path / "stable-window").write_text("10s")
    assert starting_config(str(tmp_path)) == {"stable-window": "10s"}
