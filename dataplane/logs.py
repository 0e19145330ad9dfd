"""One log format for every program: JSON lines with zap's field names, or text lines for people.

Knative's components log through zap; a JSON line here carries the same field names where one
exists, so the queries and log pipelines written for Knative keep working::

    {"level": "error", "ts": "2026-01-01T12:00:00.123Z", "logger": "dataplane.controller",
     "caller": "loop.py:98", "msg": "reconciling ... failed", "knative.dev/key": "default/hello"}

``level`` is zap's name (``debug``, ``info``, ``warn``, ``error``, ``fatal``); ``ts`` is ISO 8601
in UTC, as Knative's ``config-logging`` asks of zap; a traceback goes in ``stacktrace``; fields
passed as ``extra={"knative.dev/key": ...}`` (or any ``knative.dev/`` name) are copied.

Each main calls ``setup`` once with the format (``--log-format`` or ``LOG_FORMAT``) and the level
(``--log-level`` or ``LOG_LEVEL``; ``config-logging``'s ``loglevel.<component>`` where the platform
passes it). The programs of a cluster log JSON by default; ``dataplane up``, run by a person,
prints text and hands text to the processes it starts.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping

JSON, TEXT = "json", "text"
FORMATS = (JSON, TEXT)
# zap's level names, as config-logging takes them, and the standard-library level each becomes
ZAP_LEVELS = {"debug": "DEBUG", "info": "INFO", "warn": "WARNING", "error": "ERROR", "dpanic": "CRITICAL", "panic": "CRITICAL", "fatal": "CRITICAL"}
_TO_ZAP = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error", logging.CRITICAL: "fatal"}
KNATIVE_FIELD = "knative.dev/"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def parse_level(raw: str | None, where: str) -> str:
    """A zap (``warn``) or standard-library (``WARNING``) level name as the standard library's (``INFO`` when
    empty); ``ValueError`` starting with ``where``."""
    if raw is None or raw.strip() == "":
        return "INFO"
    value = raw.strip().lower()
    if value in ZAP_LEVELS:
        return ZAP_LEVELS[value]
    if value in ("warning", "critical"):
        return value.upper()
    raise ValueError(f"{where}: must be one of {', '.join(ZAP_LEVELS)}, got {raw!r}")


def parse_format(raw: str | None, where: str, default: str) -> str:
    """``json`` or ``text`` (``default`` when empty); ``ValueError`` starting with ``where``."""
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in FORMATS:
        raise ValueError(f"{where}: must be json or text, got {raw!r}")
    return value


def _zap_level(levelno: int) -> str:
    name = _TO_ZAP.get(levelno)
    if name is None:  # a custom level: the nearest standard one below it
        name = next((_TO_ZAP[n] for n in sorted(_TO_ZAP, reverse=True) if n <= levelno), "debug")
    return name


def _knative_fields(record: logging.LogRecord) -> dict:
    return {k: v for k, v in record.__dict__.items() if k.startswith(KNATIVE_FIELD)}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with zap's field names."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        doc = {
            "level": _zap_level(record.levelno),
            "ts": ts,
            "logger": record.name,
            "caller": f"{record.filename}:{record.lineno}",
            "msg": record.getMessage(),
        }
        doc.update(_knative_fields(record))
        if record.exc_info:
            doc["stacktrace"] = self.formatException(record.exc_info)
        elif record.stack_info:
            doc["stacktrace"] = self.formatStack(record.stack_info)
        # one line whatever the message holds: json escapes newlines
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, with any ``knative.dev/`` fields after it in brackets."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _knative_fields(record)
        if fields:
            line += " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]"
        return line


class _Handler(logging.StreamHandler):
    """The one handler ``setup`` installs (replaced, not added to, by a second call).

    Without a stream of its own it writes to whatever ``sys.stderr`` is at each record, not the one of
    the moment it was made: a program or test that swaps stderr later still gets the lines."""

    def __init__(self, stream=None) -> None:
        self._own = stream
        super().__init__(stream)

    @property
    def stream(self):
        return self._own if self._own is not None else sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        self._own = value if value is not sys.stderr else None


def setup(fmt: str, level: str, stream=None) -> None:
    """Send every logger's records to ``stream`` (stderr) in ``fmt`` at ``level`` and above."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(handler)
    handler = _Handler(stream)
    handler.setFormatter(JsonFormatter() if fmt == JSON else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)


def setup_from_env(program: str, default_format: str = JSON, env: Mapping[str, str] | None = None) -> None:
    """``setup`` from ``LOG_FORMAT`` and ``LOG_LEVEL`` (the queue-proxy, which takes no flags)."""
    setup_from_args(None, program, default_format, env)


def add_arguments(parser, default_format: str = JSON) -> None:
    """``--log-format`` and ``--log-level``, defaulting to ``LOG_FORMAT`` and ``LOG_LEVEL``."""
    parser.add_argument(
        "--log-format", default=None, help=f"json (zap's field names) or text (default: $LOG_FORMAT, else {default_format})"
    )
    parser.add_argument("--log-level", default=None, help="debug, info, warn or error (default: $LOG_LEVEL, else info)")


def setup_from_args(args, program: str, default_format: str = JSON, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``setup`` from the flags of ``add_arguments`` (``ValueError`` names a bad one), else from ``LOG_FORMAT`` and
    ``LOG_LEVEL``, where a bad value (on Kubernetes, from ``config-logging``) is logged and the default used: a log
    setting must not keep a program of the request path from starting. Returns the format and level in use."""
    env = os.environ if env is None else env
    problems = []

    def pick(flag: str, variable: str, parse, default: str) -> str:
        given = getattr(args, flag.lstrip("-").replace("-", "_"), None) if args is not None else None
        if given is not None:
            return parse(given, flag)
        try:
            return parse(env.get(variable), variable)
        except ValueError as exc:
            problems.append(str(exc))
            return default

    fmt = pick("--log-format", "LOG_FORMAT", lambda raw, where: parse_format(raw, where, default_format), default_format)
    level = pick("--log-level", "LOG_LEVEL", parse_level, "INFO")
    setup(fmt, level)
    for problem in problems:
        logging.getLogger(f"dataplane.{program}").warning("%s; using the default", problem)
    return fmt, level
