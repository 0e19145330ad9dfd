"""The user container's readiness probe, as queue-proxy receives it.

The controller puts the revision's readiness probe in ``SERVING_READINESS_PROBE``
as the JSON of a ``corev1.Probe`` (or a JSON array of them when several
containers are probed), already pointed at ``127.0.0.1`` and the user port.
``parse_readiness_probe`` turns it into frozen ``ProbeSpec`` values; the
prober that runs them lives elsewhere.

A probe with ``periodSeconds == 0`` (the default) is *aggressive*: one health
check polls every 50 ms, each attempt with a 100 ms timeout, for up to 10 s,
until ``successThreshold`` attempts in a row pass. Otherwise a health check
is a single attempt bounded by ``timeoutSeconds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import re


ENV = "SERVING_READINESS_PROBE"
LOCAL_HOST = "127.0.0.1"


class ProbeSpecError(ValueError):
    """An invalid readiness probe; ``field`` is the JSON path of the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class HTTPHeader:
    """A header the HTTP probe sends."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """One readiness probe. Which fields matter depends on ``kind``."""

    #: "tcp" (connect), "http" (GET, 200-399 is ready) or "grpc" (health service)
    kind: Literal["tcp", "http", "grpc"]
    #: port on ``host`` to probe
    port: int
    host: str = LOCAL_HOST
    #: http only: request path, always starting with "/"
    path: str = "/"
    #: http only: "HTTP" or "HTTPS" (certificates are not verified, like kubelet)
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"
    #: http only: headers sent besides the ``kube-probe/`` User-Agent
    http_headers: tuple[HTTPHeader, ...] = ()
    #: grpc only: service name for the health check; "" asks about the server
    grpc_service: str = ""
    #: seconds between kubelet probes; 0 selects aggressive polling
    period_seconds: int = 0
    #: seconds one attempt may take when not aggressive
    timeout_seconds: int = 1
    #: consecutive passes needed to become ready
    success_threshold: int = 1
    #: consecutive failures before kubelet gives up (kubelet's concern; kept for it)
    failure_threshold: int = 3
    #: seconds kubelet waits before the first probe
    initial_delay_seconds: int = 0
    #: seconds between attempts when aggressive
    aggressive_interval: float = 0.05
    #: seconds one attempt may take when aggressive
    aggressive_attempt_timeout: float = 0.1
    #: seconds one aggressive health check may poll before reporting failure
    aggressive_poll_timeout: float = 10.0

    @property
    def aggressive(self) -> bool:
        """True when a health check polls rather than tries once."""
        return self.period_seconds == 0

    @property
    def attempt_timeout(self) -> float:
        """Seconds one attempt may take."""
        return self.aggressive_attempt_timeout if self.aggressive else float(self.timeout_seconds)


def default_probe(user_port: int) -> ProbeSpec:
    """What the webhook defaults a revision to: TCP on the user port, aggressive."""
    return ProbeSpec(kind="tcp", port=user_port)


def parse_readiness_probe(value: str | bytes | None, user_port: int) -> tuple[ProbeSpec, ...]:
    """Parse ``SERVING_READINESS_PROBE``; ``ProbeSpecError`` (a ``ValueError``) names the bad field.

    Empty or unset gives ``(default_probe(user_port),)``. An ``exec`` probe
    becomes TCP on ``user_port`` (kubelet still runs the exec in the user
    container); a probe without a handler gets TCP on ``user_port`` too, as
    the webhook would have defaulted it. Unknown keys are ignored, as Go's
    JSON decoding does.
    """
    if value is None or not value.strip():
        return (default_probe(user_port),)
    import orjson  # only when a probe is configured: the sidecar's memory matters

    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ProbeSpecError(ENV, f"invalid JSON: {exc}") from None
    if isinstance(doc, list):
        if not doc:
            raise ProbeSpecError(ENV, "must not be an empty list")
        return tuple(_probe(item, f"{ENV}[{i}]", user_port) for i, item in enumerate(doc))
    return (_probe(doc, ENV, user_port),)


_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _probe(doc, path: str, user_port: int) -> ProbeSpec:
    if not isinstance(doc, dict):
        raise ProbeSpecError(path, "must be a JSON object")
    present = [name for name in _HANDLERS if doc.get(name) is not None]
    if len(present) > 1:
        raise ProbeSpecError(path, f"must have one handler, got {', '.join(present)}")

    timings = {
        "period_seconds": _int(doc, "periodSeconds", path, default=0),
        "timeout_seconds": _int(doc, "timeoutSeconds", path, default=0) or 1,
        "success_threshold": _int(doc, "successThreshold", path, default=0) or 1,
        "failure_threshold": _int(doc, "failureThreshold", path, default=0) or 3,
        "initial_delay_seconds": _int(doc, "initialDelaySeconds", path, default=0),
    }
    if not present or present[0] == "exec":
        return ProbeSpec(kind="tcp", port=user_port, **timings)
    handler = present[0]
    sub_path = f"{path}.{handler}"
    sub = doc[handler]
    if not isinstance(sub, dict):
        raise ProbeSpecError(sub_path, "must be a JSON object")

    if handler == "tcpSocket":
        return ProbeSpec(
            kind="tcp",
            port=_port(sub, sub_path, user_port, named=True),
            host=_str(sub, "host", sub_path) or LOCAL_HOST,
            **timings,
        )
    if handler == "grpc":
        return ProbeSpec(
            kind="grpc",
            port=_port(sub, sub_path, user_port, named=False),
            grpc_service=_str(sub, "service", sub_path),
            **timings,
        )
    return ProbeSpec(
        kind="http",
        port=_port(sub, sub_path, user_port, named=True),
        host=_str(sub, "host", sub_path) or LOCAL_HOST,
        path=_http_path(_str(sub, "path", sub_path)),
        scheme=_scheme(sub, sub_path),
        http_headers=_headers(sub, sub_path),
        **timings,
    )


def _int(doc: dict, key: str, path: str, default: int) -> int:
    value = doc.get(key)
    if value is None:
        return default
    # bool is an int in Python but not in JSON
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProbeSpecError(f"{path}.{key}", "must be an integer")
    if not 0 <= value <= 2**31 - 1:
        raise ProbeSpecError(f"{path}.{key}", "must be between 0 and 2147483647")
    return value


def _str(doc: dict, key: str, path: str) -> str:
    value = doc.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProbeSpecError(f"{path}.{key}", "must be a string")
    return value


def _port(doc: dict, path: str, user_port: int, named: bool) -> int:
    """A port number; httpGet/tcpSocket take IntOrString, so "8080" is fine too."""
    value = doc.get("port")
    if value is None:
        # the controller always fills it in with the user port
        return user_port
    if named and isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    # a named port cannot be resolved here: the controller resolves it
    raise ProbeSpecError(f"{path}.port", "must be an integer 1-65535")


def _http_path(value: str) -> str:
    if not value:
        return "/"
    # Go's URL building adds the slash too when a host is present
    return value if value.startswith("/") else "/" + value


def _scheme(doc: dict, path: str) -> str:
    value = _str(doc, "scheme", path).upper() or "HTTP"
    if value not in ("HTTP", "HTTPS"):
        raise ProbeSpecError(f"{path}.scheme", "must be HTTP or HTTPS")
    return value


def _headers(doc: dict, path: str) -> tuple[HTTPHeader, ...]:
    items = doc.get("httpHeaders")
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ProbeSpecError(f"{path}.httpHeaders", "must be a list")
    headers = []
    for i, item in enumerate(items):
        item_path = f"{path}.httpHeaders[{i}]"
        if not isinstance(item, dict):
            raise ProbeSpecError(item_path, "must be a JSON object")
        name = _str(item, "name", item_path)
        if not _TOKEN.fullmatch(name):
            raise ProbeSpecError(f"{item_path}.name", "must be a non-empty HTTP token")
        value = _str(item, "value", item_path)
        # a CR or LF here would let the probe smuggle extra header lines
        if _BAD_VALUE.search(value):
            raise ProbeSpecError(f"{item_path}.value", "must not contain control characters")
        headers.append(HTTPHeader(name=name, value=value))
    return tuple(headers)
