"""Just enough of the Prometheus text format to read the activator's and queue-proxies' gauges and counters."""

from __future__ import annotations

import re
from typing import NamedTuple

_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


class Metric(NamedTuple):
    """One sample line: name, labels and value."""

    name: str
    labels: dict[str, str]
    value: float


def _unescape(value: str) -> str:
    return re.sub(r'\\[\\"n]', lambda m: _ESCAPES[m.group(0)], value)


def parse(text: str) -> list[Metric]:
    """Every sample of an exposition; comments, blank and unreadable lines are skipped."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        labels: dict[str, str] = {}
        if "{" in line:
            name, _, rest = line.partition("{")
            body, sep, tail = rest.rpartition("}")
            if not sep:
                continue
            labels = {k: _unescape(v) for k, v in _LABEL.findall(body)}
            value_part = tail.split()
        else:
            name, *value_part = line.split()
        if not value_part:
            continue
        try:
            value = float(value_part[0])
        except ValueError:
            continue
        out.append(Metric(name.strip(), labels, value))
    return out


def by_revision(metrics: list[Metric], name: str) -> dict[tuple[str, str], float]:
    """Values of metric ``name`` keyed by (namespace_name, revision_name), summed over other labels."""
    out: dict[tuple[str, str], float] = {}
    for m in metrics:
        if m.name == name:
            key = (m.labels.get("namespace_name", ""), m.labels.get("revision_name", ""))
            out[key] = out.get(key, 0.0) + m.value
    return out
