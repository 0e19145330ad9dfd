"""The platform configuration of the cluster, read from the ConfigMaps of the system namespace.

``config-defaults``, ``config-domain``, ``config-gc`` and ``config-autoscaler``
(for the API functions and the initial scale), ``config-deployment`` (the
queue-proxy) and ``config-network`` (the Gateway routes attach to, key
``gateway``: ``NAME`` or ``NAMESPACE/NAME``). The webhook refuses a bad one, but
one may get in (the webhook was down, or it predates the install): a ConfigMap
that does not parse keeps the last good values of that map, is logged naming
the key, and is reported to ``on_rejected`` (the plane makes it a Warning Event
on the ConfigMap), so nothing crash-loops on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from dataplane.api.autoscaling import AUTOSCALER_CONFIGMAP
from dataplane.api.config import CONFIGMAP_PARSERS, DEFAULTS_CONFIGMAP, DOMAIN_CONFIGMAP, GC_CONFIGMAP, Config
from dataplane.platform.kubernetes.httproutes import ObjectRef
from dataplane.platform.kubernetes.sidecar import DEPLOYMENT_CONFIGMAP, DeploymentConfig, parse_deployment_config

log = logging.getLogger("dataplane.kubernetes")
NETWORK_CONFIGMAP = "config-network"
GATEWAY_KEY = "gateway"


@dataclass(frozen=True)
class Platform:
    api: Config
    initial_scale: int
    deployment: DeploymentConfig
    gateway: ObjectRef


class PlatformConfig:
    """The current ``Platform``, re-read whenever a ConfigMap of the system namespace changes."""

    def __init__(self, store, system_namespace: str, gateway: ObjectRef):
        self.store = store
        self.system_namespace = system_namespace
        self.current = Platform(Config(), 1, DeploymentConfig(system_namespace=system_namespace), gateway)
        self.flag_gateway = gateway
        self.rejected: dict[str, tuple[dict, str]] = {}
        """ConfigMap name -> (the ConfigMap, why it was not taken) for each map whose last good values are kept."""
        self.on_rejected: Callable[[dict, str], None] | None = None

    def reload(self) -> Platform:
        objects = {cm["metadata"]["name"]: cm for cm in self.store.peek("ConfigMap", self.system_namespace)}
        maps = {name: dict(cm.get("data") or {}) for name, cm in objects.items()}
        p = self.current
        rejected: dict[str, tuple[dict, str]] = {}
        api = p.api
        parts = {DEFAULTS_CONFIGMAP: api.defaults, DOMAIN_CONFIGMAP: api.domain, GC_CONFIGMAP: api.gc,
                 AUTOSCALER_CONFIGMAP: api.autoscaler}  # fmt: skip
        for name, parse in CONFIGMAP_PARSERS.items():
            try:
                parts[name] = parse(maps.get(name, {}))
            except ValueError as exc:
                rejected[name] = (objects[name], str(exc))
        api = Config(defaults=parts[DEFAULTS_CONFIGMAP], domain=parts[DOMAIN_CONFIGMAP], gc=parts[GC_CONFIGMAP],
                     autoscaler=parts[AUTOSCALER_CONFIGMAP])
        p = replace(p, api=api, initial_scale=api.autoscaler.initial_scale)
        try:
            p = replace(p, deployment=parse_deployment_config(maps.get(DEPLOYMENT_CONFIGMAP, {}), self.system_namespace))
        except ValueError as exc:
            rejected[DEPLOYMENT_CONFIGMAP] = (objects[DEPLOYMENT_CONFIGMAP], str(exc))
        raw = (maps.get(NETWORK_CONFIGMAP) or {}).get(GATEWAY_KEY, "").strip()
        try:
            p = replace(p, gateway=ObjectRef.parse(raw, self.system_namespace) if raw else self.flag_gateway)
        except ValueError as exc:
            rejected[NETWORK_CONFIGMAP] = (objects[NETWORK_CONFIGMAP], f"{NETWORK_CONFIGMAP}: {GATEWAY_KEY}: {exc}")
        for name, (cm, why) in rejected.items():
            if self.rejected.get(name) != (cm, why):
                log.error("%s rejected, keeping the last good settings: %s", name, why)
                if self.on_rejected is not None:
                    self.on_rejected(cm, why)
        self.rejected = rejected
        self.current = p
        return p

    def on_store_event(self, event: str, obj: dict) -> None:
        if obj.get("kind") == "ConfigMap" and obj["metadata"].get("namespace") == self.system_namespace:
            self.reload()
