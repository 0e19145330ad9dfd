"""Which container of a Revision serves traffic, and on which port."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .checks import is_int

DEFAULT_PORT = 8080
H2C = "h2c"
HTTP1 = "http1"


@dataclass(frozen=True)
class ServingPort:
    """The port the queue-proxy forwards to, and how to speak to it."""

    container_index: int | None
    """Index into ``spec.containers``; None when there is no container yet."""
    number: int
    """Container port; 8080 when no container declares one."""
    name: str
    """The declared port name: ``''``, ``http1`` or ``h2c``."""

    @property
    def protocol(self) -> str:
        """``h2c`` when the port is named so, else ``http1``."""
        return H2C if self.name == H2C else HTTP1

    @property
    def probe_name(self) -> str:
        """The name a readiness probe may use to refer to this port (Knative calls an unnamed one ``http``)."""
        return self.name or "http"


def serving_container_index(spec: Any) -> int | None:
    """The container that declares ports, else the only container, else None."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("containers"), list):
        return None
    containers = spec["containers"]
    for i, container in enumerate(containers):
        if isinstance(container, Mapping) and container.get("ports"):
            return i
    return 0 if len(containers) == 1 else None


def serving_port(spec: Any) -> ServingPort:
    """Where the serving container listens (8080 by default, as Knative's runtime contract says)."""
    index = serving_container_index(spec)
    number, name = DEFAULT_PORT, ""
    if index is not None:
        ports = spec["containers"][index].get("ports") if isinstance(spec["containers"][index], Mapping) else None
        if isinstance(ports, list) and ports and isinstance(ports[0], Mapping):
            declared = ports[0].get("containerPort")
            if is_int(declared) and declared > 0:
                number = declared
            if isinstance(ports[0].get("name"), str):
                name = ports[0]["name"]
    return ServingPort(index, number, name)
