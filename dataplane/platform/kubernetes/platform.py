"""The platform configuration of the cluster, read from the ConfigMaps of the system namespace.

``config-defaults``, ``config-domain``, ``config-gc``, ``config-autoscaler``, ``config-observability`` and ``config-logging``
(for the API functions and the initial scale), ``config-deployment`` (the
queue-proxy) and ``config-network`` (the Gateway routes attach to, key
``gateway``: ``NAME`` or ``NAMESPACE/NAME``). A ConfigMap that does not parse
keeps the last good values of that part and is logged, naming the key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from dataplane.api.config import Config
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

    def reload(self) -> Platform:
        maps = {cm["metadata"]["name"]: dict(cm.get("data") or {}) for cm in self.store.peek("ConfigMap", self.system_namespace)}
        p = self.current
        try:
            api = Config.from_configmaps(maps)
            p = replace(p, api=api, initial_scale=api.autoscaler.initial_scale)
        except ValueError as exc:
            log.error("platform configuration rejected, keeping the previous: %s", exc)
        try:
            p = replace(p, deployment=parse_deployment_config(maps.get(DEPLOYMENT_CONFIGMAP, {}), self.system_namespace))
        except ValueError as exc:
            log.error("%s rejected, keeping the previous: %s", DEPLOYMENT_CONFIGMAP, exc)
        # the queue-proxies follow config-observability's metrics-dialect (a change rolls their Deployments, as
        # a change of Knative's OBSERVABILITY_CONFIG does)
        levels = p.api.logging.levels
        p = replace(
            p,
            deployment=replace(
                p.deployment, metrics_dialect=p.api.observability.metrics_dialect, queue_log_level=levels.get("queueproxy", "")
            ),
        )
        # config-logging's loglevel.controller, live for this process's loggers
        for name in ("dataplane.controller", "dataplane.kubernetes"):
            logging.getLogger(name).setLevel(levels.get("controller", logging.NOTSET))
        raw = (maps.get(NETWORK_CONFIGMAP) or {}).get(GATEWAY_KEY, "").strip()
        try:
            p = replace(p, gateway=ObjectRef.parse(raw, self.system_namespace) if raw else self.flag_gateway)
        except ValueError as exc:
            log.error("%s: %s: %s", NETWORK_CONFIGMAP, GATEWAY_KEY, exc)
        self.current = p
        return p

    def on_store_event(self, event: str, obj: dict) -> None:
        if obj.get("kind") == "ConfigMap" and obj["metadata"].get("namespace") == self.system_namespace:
            self.reload()
