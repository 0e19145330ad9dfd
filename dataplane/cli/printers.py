"""What ``get`` and ``describe`` print: kubectl-style tables, yaml/json/name/jsonpath/custom-columns, detail sheets."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dataplane.cli.ages import since
from dataplane.cli.jsonpath import JsonPathError, Template, format_value

if TYPE_CHECKING:
    from dataplane.cli.kinds import Kind

# kubectl's tabwriter settings: cells padded by 3 spaces, at least 6 wide
_PADDING = 3
_MIN_WIDTH = 6


def layout(rows: Sequence[Sequence[str]], widths: list[int] | None = None) -> list[str]:
    """Align cells into columns; ``widths`` (updated in place) keeps later rows aligned with earlier ones."""
    if widths is None:
        widths = []
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            need = max(len(cell) + _PADDING, _MIN_WIDTH)
            if i >= len(widths):
                widths.append(need)
            elif need > widths[i]:
                widths[i] = need
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + list(row[-1:])
        lines.append("".join(cells).rstrip())
    return lines


class TablePrinter:
    """Rows of one resource type; the header is printed once, and watch rows stay aligned with it."""

    def __init__(self, kind: Kind, *, wide: bool, namespaces: bool, prefix: bool, headers: bool, now: Callable[[], float]):
        self.kind = kind
        self._columns = kind.columns + (kind.wide if wide else ())
        self._namespaces = namespaces
        self._prefix = prefix
        self._headers = headers
        self._now = now
        self._widths: list[int] = []
        self._started = False

    def header(self) -> list[str]:
        """Column titles."""
        cells = ["NAME"] + [title for title, _ in self._columns]
        return ["NAMESPACE", *cells] if self._namespaces else cells

    def row(self, obj: dict) -> list[str]:
        """One object's cells."""
        meta = obj.get("metadata") or {}
        name = str(meta.get("name", ""))
        now = self._now()
        cells = [self.kind.ref(name) if self._prefix else name] + [cell(obj, now) for _, cell in self._columns]
        return [str(meta.get("namespace", "")), *cells] if self._namespaces else cells

    def lines(self, objects: Sequence[dict]) -> list[str]:
        """Text lines for these objects, with the header the first time."""
        rows = [self.row(obj) for obj in objects]
        if not self._started and self._headers:
            rows.insert(0, self.header())
        self._started = True
        return layout(rows, self._widths)


def list_object(items: list[dict]) -> dict:
    """The ``List`` kubectl prints for several objects in json/yaml/jsonpath output."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def to_json(obj: Any) -> str:
    """kubectl's JSON: four-space indent, keys sorted."""
    return json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False)


def to_yaml(obj: Any) -> str:
    """Block-style YAML with keys sorted, as kubectl prints unstructured objects."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(obj, Dumper=dumper, default_flow_style=False, sort_keys=True, allow_unicode=True)


class OutputError(ValueError):
    """An ``-o`` value that cannot be used."""


class Output:
    """A parsed ``-o`` value: table, wide, yaml, json, name, jsonpath or custom-columns."""

    TEXT_FORMATS = ("yaml", "json", "name")

    def __init__(self, spec: str | None, template: str | None = None):
        self.format = "table"
        self.template: Template | None = None
        self.columns: list[tuple[str, Template]] = []
        if not spec:
            if template:
                raise OutputError("--template needs -o jsonpath")
            return
        name, eq, value = spec.partition("=")
        if name == "wide" and not eq:
            self.format = "wide"
        elif name in self.TEXT_FORMATS and not eq:
            self.format = name
        elif name == "jsonpath":
            self.format = "jsonpath"
            source = value if eq else template
            if not source:
                raise OutputError("template format specified but no template given")
            self.template = _compile(_unquote(source))
        elif name == "custom-columns" and eq:
            self.format = "custom-columns"
            for column in value.split(","):
                title, colon, source = column.partition(":")
                if not colon or not title or not source:
                    raise OutputError(f'custom-columns format must be NAME:PATH[,NAME:PATH...], got "{column}"')
                source = source if source.startswith("{") else "{" + source + "}"
                self.columns.append((title, _compile(source)))
        else:
            raise OutputError(
                f'unable to match a printer suitable for the output format "{spec}", allowed formats are: '
                "custom-columns,json,jsonpath,name,wide,yaml"
            )

    @property
    def is_table(self) -> bool:
        """Whether rows go through a TablePrinter."""
        return self.format in ("table", "wide")

    def render(self, kind_of: Callable[[dict], Kind], objects: list[dict], single: bool) -> str:
        """Text for non-table formats; ``single`` prints the object itself instead of a List."""
        doc = objects[0] if single and len(objects) == 1 else list_object(objects)
        if self.format == "json":
            return to_json(doc) + "\n"
        if self.format == "yaml":
            return to_yaml(doc)
        if self.format == "name":
            return "".join(kind_of(obj).ref((obj.get("metadata") or {}).get("name", "")) + "\n" for obj in objects)
        if self.format == "jsonpath":
            assert self.template is not None
            return self.template.render(doc)
        rows = [[title for title, _ in self.columns]]
        for obj in objects:
            rows.append([",".join(format_value(v) for v in tpl.results(obj)) or "<none>" for _, tpl in self.columns])
        return "".join(line + "\n" for line in layout(rows))


def _compile(source: str) -> Template:
    try:
        return Template(source)
    except JsonPathError as exc:
        raise OutputError(f"error parsing jsonpath {source}, {exc}") from None


def _unquote(source: str) -> str:
    # a template quoted for a shell but passed without one (e.g. from a script's argv list) still works
    if len(source) >= 2 and source[0] == source[-1] and source[0] in "'\"" and "{" in source:
        return source[1:-1]
    return source


# --- describe -----------------------------------------------------------------------------------

class _Sheet:
    """``Label:  value`` lines at indent levels, with values aligned per level, and indented tables."""

    def __init__(self) -> None:
        self._items: list[tuple[str, int, Any, Any]] = []

    def field(self, label: str, value: Any, level: int = 0) -> None:
        self._items.append(("field", level, label, value))

    def fields(self, label: str, mapping: dict | None, level: int = 0) -> None:
        """A map as ``key=value`` lines, ``<none>`` when empty."""
        values = [f"{k}={v}" for k, v in sorted((mapping or {}).items())]
        self._items.append(("field", level, label, values or "<none>"))

    def heading(self, label: str, level: int = 0) -> None:
        self._items.append(("heading", level, label, None))

    def line(self, text: str, level: int) -> None:
        """Verbatim text, e.g. a line of a ConfigMap value."""
        self._items.append(("line", level, text, None))

    def table(self, headers: list[str], rows: list[list[str]], level: int = 1) -> None:
        self._items.append(("table", level, headers, rows))

    def text(self) -> str:
        widths: dict[int, int] = {}
        for what, level, label, _ in self._items:
            if what == "field":
                widths[level] = max(widths.get(level, 0), len(label) + 1)
        out: list[str] = []
        for what, level, label, value in self._items:
            indent = "  " * level
            if what == "heading":
                out.append(f"{indent}{label}:")
            elif what == "line":
                out.append(f"{indent}{label}".rstrip())
            elif what == "table":
                out.extend(indent + line for line in layout([label, *value]) if value)
                if not value:
                    out.append(f"{indent}<none>")
            else:
                values = value if isinstance(value, list) else [value]
                pad = " " * (widths[level] + 2)
                first = f"{indent}{(label + ':').ljust(widths[level])}  {_plain(values[0])}"
                out.append(first.rstrip())
                out.extend(f"{indent}{pad}{_plain(v)}" for v in values[1:])
        return "".join(line + "\n" for line in out)


def _plain(value: Any) -> str:
    if value is None or value == "":
        return "<none>"
    return format_value(value)


def _template_spec(obj: dict) -> tuple[dict, dict]:
    """(template metadata, revision spec) of a Service or Configuration, in v1 or v1alpha1 shape."""
    spec = obj.get("spec") or {}
    template = spec.get("template") or spec.get("revisionTemplate")
    if template is None:
        for mode in ("runLatest", "release", "pinned"):
            if mode in spec:
                template = ((spec[mode] or {}).get("configuration") or {}).get("revisionTemplate")
                break
    template = template or {}
    return template.get("metadata") or {}, template.get("spec") or {}


def _containers_of(revision_spec: dict) -> list[dict]:
    if revision_spec.get("containers"):
        return revision_spec["containers"]
    return [revision_spec["container"]] if revision_spec.get("container") else []


def _revision_spec_fields(sheet: _Sheet, spec: dict, level: int) -> None:
    for container in _containers_of(spec):
        if container.get("name"):
            sheet.field("Container", container["name"], level)
        sheet.field("Image", container.get("image"), level)
        command = list(container.get("command") or []) + list(container.get("args") or [])
        if command:
            sheet.field("Command", " ".join(str(c) for c in command), level)
        ports = [str(p.get("containerPort")) for p in container.get("ports") or []]
        if ports:
            sheet.field("Port", ",".join(ports), level)
        env = {e.get("name"): e.get("value", "") for e in container.get("env") or []}
        if env:
            sheet.fields("Env", env, level)
    sheet.field("Container Concurrency", spec.get("containerConcurrency", 0), level)
    if spec.get("timeoutSeconds") is not None:
        sheet.field("Timeout", f"{spec['timeoutSeconds']}s", level)


def _traffic(sheet: _Sheet, obj: dict) -> None:
    status = obj.get("status") or {}
    traffic = status.get("traffic") or (obj.get("spec") or {}).get("traffic") or []
    sheet.heading("Traffic")
    rows = [[f"{t.get('percent', 0)}%", str(t.get("revisionName") or t.get("configurationName") or ""),
             "latest" if t.get("latestRevision") else "", str(t.get("tag") or ""), str(t.get("url") or "")]
            for t in traffic]
    sheet.table(["PERCENT", "REVISION", "LATEST", "TAG", "URL"], rows)


def _container_state(state: dict, now: float) -> tuple[str, list[tuple[str, Any]]]:
    if "running" in state:
        started = (state["running"] or {}).get("startedAt")
        return "Running", [("Started", f"{started} ({since(started, now)} ago)")] if started else []
    if "waiting" in state:
        waiting = state["waiting"] or {}
        return "Waiting", [("Reason", waiting.get("reason")), ("Message", waiting.get("message"))]
    if "terminated" in state:
        done = state["terminated"] or {}
        return "Terminated", [("Reason", done.get("reason")), ("Exit Code", done.get("exitCode")),
                              ("Message", done.get("message")), ("Finished", done.get("finishedAt"))]
    return "Unknown", []


def _pod(sheet: _Sheet, pod: dict, now: float) -> None:
    status = pod.get("status") or {}
    labels = (pod.get("metadata") or {}).get("labels") or {}
    sheet.field("Revision", labels.get("serving.knative.dev/revision"))
    sheet.field("Status", status.get("phase"))
    sheet.field("IP", status.get("podIP"))
    if status.get("startTime"):
        sheet.field("Start Time", f"{status['startTime']} ({since(status['startTime'], now)} ago)")
    by_name = {c.get("name"): c for c in status.get("containerStatuses") or []}
    sheet.heading("Containers")
    for container in (pod.get("spec") or {}).get("containers") or []:
        name = container.get("name", "")
        sheet.heading(name, 1)
        if container.get("image"):
            sheet.field("Image", container["image"], 2)
        cstatus = by_name.get(name, {})
        state, details = _container_state(cstatus.get("state") or {}, now)
        sheet.field("State", state, 2)
        for label, value in details:
            if value not in (None, ""):
                sheet.field(label, value, 3)
        if cstatus.get("lastState"):
            last, details = _container_state(cstatus["lastState"], now)
            sheet.field("Last State", last, 2)
            for label, value in details:
                if value not in (None, ""):
                    sheet.field(label, value, 3)
        sheet.field("Ready", "True" if cstatus.get("ready") else "False", 2)
        sheet.field("Restart Count", cstatus.get("restartCount", 0), 2)


def describe(obj: dict, now: float) -> str:
    """A readable multi-section view of one object."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    kind = obj.get("kind", "")
    sheet = _Sheet()
    sheet.field("Name", meta.get("name"))
    sheet.field("Namespace", meta.get("namespace"))
    sheet.fields("Labels", meta.get("labels"))
    sheet.fields("Annotations", meta.get("annotations"))
    sheet.field("API Version", obj.get("apiVersion"))
    sheet.field("Kind", kind)
    created = meta.get("creationTimestamp")
    sheet.field("Created", f"{created} ({since(created, now)} ago)" if created else None)
    owners = [f"{o.get('kind')}/{o.get('name')}" for o in meta.get("ownerReferences") or []]
    if owners:
        sheet.field("Controlled By", owners)
    if "generation" in meta:
        sheet.field("Generation", meta["generation"])
    serving = str(obj.get("apiVersion", "")).startswith("serving.knative.dev/")
    if serving and kind in ("Service", "Configuration"):
        template_meta, revision_spec = _template_spec(obj)
        sheet.heading("Template")
        if template_meta.get("name"):
            sheet.field("Revision Name", template_meta["name"], 1)
        if template_meta.get("annotations"):
            sheet.fields("Annotations", template_meta["annotations"], 1)
        _revision_spec_fields(sheet, revision_spec, 1)
        if kind == "Service":
            sheet.field("URL", status.get("url"))
        sheet.field("Latest Created Revision", status.get("latestCreatedRevisionName"))
        sheet.field("Latest Ready Revision", status.get("latestReadyRevisionName"))
        if kind == "Service":
            _traffic(sheet, obj)
    elif serving and kind == "Revision":
        labels = meta.get("labels") or {}
        sheet.field("Configuration", labels.get("serving.knative.dev/configuration"))
        sheet.field("Configuration Generation", labels.get("serving.knative.dev/configurationGeneration"))
        _revision_spec_fields(sheet, spec, 0)
        sheet.field("Replicas", f"{status.get('actualReplicas', 0)} actual / {status.get('desiredReplicas', 0)} desired")
    elif serving and kind == "Route":
        sheet.field("URL", status.get("url"))
        if status.get("domain"):
            sheet.field("Domain", status["domain"])
        sheet.field("Address", (status.get("address") or {}).get("url"))
        _traffic(sheet, obj)
    elif kind == "Pod":
        _pod(sheet, obj, now)
    elif kind == "ReplicaSet":
        sheet.field("Replicas", f"{status.get('replicas', 0)} current / {spec.get('replicas', 0)} desired")
        sheet.field("Pods Status", f"{status.get('readyReplicas', 0)} Ready")
        images = [c.get("image") for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []]
        sheet.field("Images", [i for i in images if i] or None)
    elif kind == "ConfigMap":
        sheet.heading("Data")
        for key, value in sorted((obj.get("data") or {}).items()):
            sheet.heading(key, 1)
            for line in str(value).splitlines() or [""]:
                sheet.line(line, 2)
    elif kind == "Service":
        sheet.field("Type", spec.get("type", "ClusterIP"))
        sheet.field("IP", spec.get("clusterIP"))
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        if ingress:
            sheet.field("LoadBalancer Ingress", [i.get("ip") or i.get("hostname") for i in ingress])
        ports = [f"{p.get('name') or '<unset>'} {p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []]
        sheet.field("Ports", ports or None)
    conditions = status.get("conditions")
    if conditions:
        sheet.heading("Conditions")
        sheet.table(["TYPE", "STATUS", "AGE", "REASON", "MESSAGE"], [
            [str(c.get("type", "")), str(c.get("status", "")),
             since(c["lastTransitionTime"], now) if c.get("lastTransitionTime") else "",
             str(c.get("reason") or ""), str(c.get("message") or "")]
            for c in conditions
        ])
    return sheet.text()
