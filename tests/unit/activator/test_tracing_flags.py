"""The activator's tracing settings: a bad flag stops it naming the flag, a bad environment value leaves tracing off and says so."""

from __future__ import annotations

import argparse

import pytest

from dataplane.cmd.activator import add_arguments, choose_tracing
from dataplane.tracingconfig import TracingConfig


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--directory", "http://127.0.0.1:1/", *argv])


def test_flags_win_and_must_be_right():
    heard = []
    env = {"TRACING_PROTOCOL": "junk"}
    on = choose_tracing(args("--tracing-protocol", "http/protobuf", "--tracing-endpoint", "http://127.0.0.1:4318"), env, heard.append)
    assert on == TracingConfig("http/protobuf", "http://127.0.0.1:4318/v1/traces", 0.0) and heard == []
    with pytest.raises(ValueError, match="^--tracing-sampling-rate: must be from 0 to 1, got '3'$"):
        choose_tracing(args("--tracing-sampling-rate", "3"), {}, heard.append)
    # dataplane up passes all three, off included
    assert choose_tracing(args("--tracing-protocol", "none", "--tracing-endpoint", "", "--tracing-sampling-rate", "0.0"), env, heard.append) == TracingConfig()


def test_the_environment_is_read_and_a_bad_value_leaves_tracing_off():
    heard = []
    env = {"TRACING_PROTOCOL": "http/protobuf", "TRACING_ENDPOINT": "collector:4318/v1/traces", "TRACING_SAMPLING_RATE": "0.25"}
    assert choose_tracing(args(), env, heard.append) == TracingConfig("http/protobuf", "https://collector:4318/v1/traces", 0.25)
    assert choose_tracing(args(), {}, heard.append) == TracingConfig() and heard == []
    assert choose_tracing(args(), {**env, "TRACING_PROTOCOL": "zipkin"}, heard.append) == TracingConfig()
    assert heard == ["TRACING_PROTOCOL: must be one of none, http/protobuf, got 'zipkin'; tracing is off"]
