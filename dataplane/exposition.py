"""Knative's metrics in either dialect, rendered as Prometheus text at scrape time.

Each component's metrics module describes its instruments once (``Instrument``: the
OpenCensus name, the OpenTelemetry name and unit) and fills a ``Sheet`` from the
counters its hot path already keeps, with neutral label keys (``revision``, ``code``).
The sheet renders them under the dialect chosen in ``config-observability``:

* OpenCensus, as Knative's OpenCensus Prometheus exporter did: the name as given,
  counters without a ``_total`` suffix, histograms in milliseconds, labels
  ``namespace_name``, ``revision_name``, ``response_code``, ...
* OpenTelemetry, as Knative 1.19+'s exporter (``otlptranslator.UnderscoreEscapingWithSuffixes``):
  dots become underscores, the unit becomes a suffix (``s`` → ``_seconds``,
  ``{request}/s`` → ``_per_second``, annotations in braces dropped), counters end in
  ``_total``; attributes ``k8s.namespace.name`` → ``k8s_namespace_name``. The resource's
  attributes (namespace, service, configuration, revision, pod, container) are on every
  series, so a query needs no join with ``target_info``.

Shared by the three components' metrics modules; loaded only with them, at the first scrape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.utils import floatToGoString

from dataplane.dialects import OPENCENSUS, OPENTELEMETRY

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# neutral label key -> (OpenCensus tag, OpenTelemetry attribute); None: not in that dialect
LABELS: dict[str, tuple[str | None, str | None]] = {
    "namespace": ("namespace_name", "k8s.namespace.name"),
    "service": ("service_name", "kn.service.name"),
    "configuration": ("configuration_name", "kn.configuration.name"),
    "revision": ("revision_name", "kn.revision.name"),
    "pod": ("pod_name", "k8s.pod.name"),
    "container": ("container_name", "k8s.container.name"),
    "code": ("response_code", "http.response.status_code"),
    "code_class": ("response_code_class", None),
    "peer": ("peer", "peer"),
}

_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "%": "percent", "1": "ratio"}
_PER_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")


def unit_suffix(unit: str) -> str:
    """The Prometheus suffix OpenTelemetry's translator gives ``unit`` (``""`` for none)."""
    main, _, per = unit.partition("/")
    main = re.sub(r"\{[^}]*\}", "", main)
    per = re.sub(r"\{[^}]*\}", "", per)
    words = []
    if main:
        words.append(_UNIT_WORDS.get(main, main))
    if per:
        words.append("per_" + _PER_WORDS.get(per, per))
    return "_".join(words)


def otel_name(name: str, unit: str, kind: str) -> str:
    """An OpenTelemetry instrument's Prometheus name: ``kn.serving.queue.depth`` → ``kn_serving_queue_depth``."""
    out = _INVALID.sub("_", name)
    suffix = unit_suffix(unit)
    if suffix == "ratio" and kind != GAUGE:
        suffix = ""
    if suffix and not out.endswith("_" + suffix):
        out += "_" + suffix
    if kind == COUNTER:
        out += "_total"
    return out


def label_name(key: str, dialect: str) -> str | None:
    """The Prometheus label for a neutral key in ``dialect`` (None: the dialect has no such label)."""
    oc, otel = LABELS[key]
    if dialect == OPENCENSUS:
        return oc
    return _INVALID.sub("_", otel) if otel is not None else None


@dataclass(frozen=True)
class Instrument:
    """One metric under both names; either name may be None when only one dialect has it."""

    opencensus: str | None
    opentelemetry: str | None
    kind: str
    unit: str
    """OpenTelemetry's UCUM unit (``s``, ``{request}``); histograms in ``s`` are milliseconds in OpenCensus."""
    help: str

    def exported_name(self, dialect: str) -> str | None:
        """The family name a scrape shows in ``dialect`` (counters: the sample name)."""
        if dialect == OPENCENSUS:
            return self.opencensus
        if self.opentelemetry is None:
            return None
        return otel_name(self.opentelemetry, self.unit, self.kind)


class Sheet:
    """The samples of one scrape, rendered under one dialect.

    Written out here rather than by prometheus-client's ``generate_latest``, which names a counter
    family ``<name>_total`` whatever its samples are called: OpenCensus counters have no such suffix,
    and a ``# TYPE`` line must name the samples it types. As Go's client does, label names are
    sorted, with a histogram's ``le`` last.
    """

    def __init__(self, dialect: str) -> None:
        if dialect not in (OPENCENSUS, OPENTELEMETRY):
            raise ValueError(f"unknown metrics dialect {dialect!r}")
        self.dialect = dialect
        self._families: dict[str, tuple[Instrument, list[str]]] = {}

    def _family(self, instrument: Instrument) -> tuple[list[str], str] | None:
        name = instrument.exported_name(self.dialect)
        if name is None:
            return None
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = (instrument, [])
        return family[1], name

    def _labels(self, labels: Mapping[str, object]) -> list[tuple[str, str]]:
        out = []
        for key, value in labels.items():
            name = label_name(key, self.dialect)
            if name is not None:
                out.append((name, str(value)))
        out.sort()
        return out

    def add(self, instrument: Instrument, labels: Mapping[str, object], value: float) -> None:
        """A counter's or gauge's value for one label set."""
        found = self._family(instrument)
        if found is not None:
            lines, name = found
            lines.append(_sample(name, self._labels(labels), value))

    def observe(
        self, instrument: Instrument, labels: Mapping[str, object], bounds: Sequence[float], counts: Sequence[int], total: float
    ) -> None:
        """A histogram: ``counts`` per bucket (not cumulative, the overflow last), ``bounds`` and ``total`` in seconds."""
        found = self._family(instrument)
        if found is None:
            return
        lines, name = found
        scale = 1000.0 if self.dialect == OPENCENSUS and instrument.unit == "s" else 1.0
        names = self._labels(labels)
        running = 0
        for bound, count in zip(bounds, counts):
            running += count
            lines.append(_sample(name + "_bucket", names + [("le", floatToGoString(round(bound * scale, 6)))], running))
        running += counts[-1]
        lines.append(_sample(name + "_bucket", names + [("le", "+Inf")], running))
        lines.append(_sample(name + "_sum", names, total * scale))
        lines.append(_sample(name + "_count", names, running))

    def render(self) -> bytes:
        """Prometheus text format (0.0.4), families in the order first added."""
        out = []
        for name, (instrument, lines) in self._families.items():
            text = instrument.help.replace("\\", "\\\\").replace("\n", "\\n")
            out.append(f"# HELP {name} {text}\n# TYPE {name} {instrument.kind}\n")
            out.extend(lines)
        return "".join(out).encode()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _sample(name: str, labels: list[tuple[str, str]], value: float) -> str:
    if labels:
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
        return f"{name}{{{inner}}} {floatToGoString(value)}\n"
    return f"{name} {floatToGoString(value)}\n"


def status_class(code: int) -> str:
    """``2xx`` for 200 and so on, as Knative's ``response_code_class``."""
    return f"{code // 100}xx"
