"""The one log format of every program: zap's JSON field names, or text; levels and formats from flags or env."""

from __future__ import annotations

import argparse
import io
import json
import logging
import re

import pytest

from dataplane import logs


@pytest.fixture
def stream():
    """``logs.setup`` writes here; the root logger is put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    yield out
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


def parsed(args: list[str], default_format: str = logs.JSON) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    logs.add_arguments(parser, default_format)
    return parser.parse_args(args)


def test_a_json_line_has_zaps_fields(stream):
    logs.setup(logs.JSON, "INFO", stream)
    log = logging.getLogger("dataplane.test")
    log.info("scaled %s to %d", "default/hello", 3, extra={"knative.dev/key": "default/hello", "other": "dropped"})
    log.debug("not at info")
    (line,) = stream.getvalue().splitlines()
    doc = json.loads(line)
    assert set(doc) == {"level", "ts", "logger", "caller", "msg", "knative.dev/key"}
    assert (doc["level"], doc["logger"], doc["msg"], doc["knative.dev/key"]) == ("info", "dataplane.test", "scaled default/hello to 3", "default/hello")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["ts"])
    assert re.fullmatch(r"test_logs\.py:\d+", doc["caller"])


def test_levels_are_zaps_names_and_a_traceback_stays_in_one_line(stream):
    logs.setup(logs.JSON, "DEBUG", stream)
    log = logging.getLogger("dataplane.test")
    log.debug("d")
    log.warning("w")
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        log.exception("failed:\nsecond line")
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["level"] for line in lines] == ["debug", "warn", "error"]
    doc = json.loads(lines[2])
    assert doc["msg"] == "failed:\nsecond line" and "ValueError: bad\nvalue" in doc["stacktrace"]


def test_text_lines_for_people(stream):
    logs.setup(logs.TEXT, "INFO", stream)
    logging.getLogger("dataplane.test").warning("slow", extra={"knative.dev/key": "default/a"})
    assert re.fullmatch(r"\S+ \S+ WARNING dataplane\.test: slow \[knative\.dev/key=default/a\]\n", stream.getvalue())


def test_a_second_setup_replaces_the_first(stream):
    logs.setup(logs.TEXT, "INFO", stream)
    logs.setup(logs.JSON, "INFO", stream)
    logging.getLogger("dataplane.test").info("once")
    assert len(stream.getvalue().splitlines()) == 1


def test_flags_must_be_right_but_a_bad_environment_value_is_reported_and_the_default_used(stream, monkeypatch):
    monkeypatch.setattr("sys.stderr", stream)
    with pytest.raises(ValueError, match="--log-format: must be json or text, got 'xml'"):
        logs.setup_from_args(parsed(["--log-format", "xml"]), "test")
    with pytest.raises(ValueError, match="--log-level: must be one of debug, info, warn"):
        logs.setup_from_args(parsed(["--log-level", "loud"]), "test")
    assert logs.setup_from_args(parsed(["--log-level", "warn"]), "test", env={"LOG_LEVEL": "debug"}) == ("json", "WARNING")
    assert logs.setup_from_args(parsed([]), "test", env={"LOG_FORMAT": "text", "LOG_LEVEL": "debug"}) == ("text", "DEBUG")
    assert logs.setup_from_args(parsed([]), "test", env={"LOG_FORMAT": "xml", "LOG_LEVEL": "loud"}) == ("json", "INFO")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(d["level"], d["logger"]) for d in lines] == [("warn", "dataplane.test"), ("warn", "dataplane.test")]
    assert lines[0]["msg"] == "LOG_FORMAT: must be json or text, got 'xml'; using the default"


def test_dataplane_up_is_text_by_default_and_the_components_json(stream):
    from dataplane.cli.main import build_parser

    parser, _ = build_parser()
    up = parser.parse_args(["up"])
    assert logs.setup_from_args(up, "up", logs.TEXT, env={})[0] == "text"
    for program in (["activator"], ["autoscaler"], ["controller"]):
        assert logs.setup_from_args(parser.parse_args(program), "x", env={})[0] == "json"
