"""The platform configuration of the cluster, read from the ConfigMaps of the system namespace.

``config-defaults``, ``config-domain``, ``config-gc``, ``config-autoscaler``, ``config-observability`` and ``config-logging``
(for the API functions and the initial scale), ``config-deployment`` (the
queue-proxy) and ``config-network`` (where routes attach: ``gateway``, the
external Gateway, ``local-gateway``, the internal one, each ``NAME`` or
``NAMESPACE/NAME``, and ``local-gateway-service``, the Service in front of the
internal Gateway that placeholder Services point to). The webhook refuses a bad one, but
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
from dataplane.api.observability import LOGGING_CONFIGMAP, OBSERVABILITY_CONFIGMAP
from dataplane.platform.kubernetes.httproutes import Network, ObjectRef
from dataplane.platform.kubernetes.sidecar import DEPLOYMENT_CONFIGMAP, DeploymentConfig, parse_deployment_config

log = logging.getLogger("dataplane.kubernetes")
NETWORK_CONFIGMAP = "config-network"
GATEWAY_KEY = "gateway"
LOCAL_GATEWAY_KEY = "local-gateway"
LOCAL_GATEWAY_SERVICE_KEY = "local-gateway-service"


@dataclass(frozen=True)
class Platform:
    api: Config
    initial_scale: int
    deployment: DeploymentConfig
    network: Network


class PlatformConfig:
    """The current ``Platform``, re-read whenever a ConfigMap of the system namespace changes."""

    def __init__(self, store, system_namespace: str, network: Network):
        self.store = store
        self.system_namespace = system_namespace
        self.current = Platform(Config(), 1, DeploymentConfig(system_namespace=system_namespace), network)
        self.flag_network = network
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
                 AUTOSCALER_CONFIGMAP: api.autoscaler, OBSERVABILITY_CONFIGMAP: api.observability,
                 LOGGING_CONFIGMAP: api.logging}  # fmt: skip
        for name, parse in CONFIGMAP_PARSERS.items():
            try:
                parts[name] = parse(maps.get(name, {}))
            except ValueError as exc:
                rejected[name] = (objects[name], str(exc))
        api = Config(defaults=parts[DEFAULTS_CONFIGMAP], domain=parts[DOMAIN_CONFIGMAP], gc=parts[GC_CONFIGMAP],
                     autoscaler=parts[AUTOSCALER_CONFIGMAP], observability=parts[OBSERVABILITY_CONFIGMAP],
                     logging=parts[LOGGING_CONFIGMAP])
        p = replace(p, api=api, initial_scale=api.autoscaler.initial_scale)
        try:
            p = replace(p, deployment=parse_deployment_config(maps.get(DEPLOYMENT_CONFIGMAP, {}), self.system_namespace))
        except ValueError as exc:
            rejected[DEPLOYMENT_CONFIGMAP] = (objects[DEPLOYMENT_CONFIGMAP], str(exc))
        # the queue-proxies follow config-observability's metrics-dialect and tracing keys (a change rolls their Deployments, as
        # a change of Knative's OBSERVABILITY_CONFIG does)
        levels = p.api.logging.levels
        p = replace(
            p,
            deployment=replace(
                p.deployment,
                metrics_dialect=p.api.observability.metrics_dialect,
                tracing=p.api.observability.tracing,
                queue_log_level=levels.get("queueproxy", ""),
            ),
        )
        # config-logging's loglevel.controller, live for this process's loggers
        for name in ("dataplane.controller", "dataplane.kubernetes"):
            logging.getLogger(name).setLevel(levels.get("controller", logging.NOTSET))
        try:
            p = replace(p, network=self._network(maps.get(NETWORK_CONFIGMAP) or {}))
        except ValueError as exc:
            rejected[NETWORK_CONFIGMAP] = (objects[NETWORK_CONFIGMAP], f"{NETWORK_CONFIGMAP}: {exc}")
        for name, (cm, why) in rejected.items():
            if self.rejected.get(name) != (cm, why):
                log.error("%s rejected, keeping the last good settings: %s", name, why)
                if self.on_rejected is not None:
                    self.on_rejected(cm, why)
        self.rejected = rejected
        self.current = p
        return p

    def _network(self, data: dict) -> Network:
        """``config-network``'s keys over the flags; a ValueError names the key."""
        flags = self.flag_network
        fields = {}
        for key, field, default in (
            (GATEWAY_KEY, "gateway", flags.gateway),
            (LOCAL_GATEWAY_KEY, "local_gateway", flags.local_gateway),
            (LOCAL_GATEWAY_SERVICE_KEY, "local_gateway_service", flags.local_gateway_service),
        ):
            raw = str(data.get(key, "")).strip()
            try:
                fields[field] = ObjectRef.parse(raw, self.system_namespace) if raw else default
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return Network(**fields)

    def on_store_event(self, event: str, obj: dict) -> None:
        if obj.get("kind") == "ConfigMap" and obj["metadata"].get("namespace") == self.system_namespace:
            self.reload()
