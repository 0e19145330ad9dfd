"""The local control plane in one process: store, controller, runtime, directory and control API."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web

from dataplane.api import keys
from dataplane.api.traffic import route_host
from dataplane.api.autoscaling import AutoscalerConfig
from dataplane.api.config import AUTOSCALER_CONFIGMAP, DEFAULTS_CONFIGMAP, DOMAIN_CONFIGMAP, GC_CONFIGMAP, Config
from dataplane.api.observability import LOGGING_CONFIGMAP, OBSERVABILITY_CONFIGMAP
from dataplane.autoscaler.api import build_app
from dataplane.autoscaler.service import AutoscalerService
from dataplane.controller.loop import Controller
from dataplane.directory import parse_snapshot
from dataplane.guard import Guard
from dataplane.platform.local.apiserver import SYSTEM_NAMESPACE, ApiServer
from dataplane.platform.local.directory import DirectoryPublisher
from dataplane.platform.local.home import read_token, token_path, write_token
from dataplane.platform.local.events import EventLog
from dataplane.platform.local.runtime import LocalRuntime
from dataplane.platform.local.store import SqliteStore

log = logging.getLogger("dataplane.up")
PLATFORM_CONFIGMAPS = (AUTOSCALER_CONFIGMAP, DEFAULTS_CONFIGMAP, DOMAIN_CONFIGMAP, GC_CONFIGMAP, LOGGING_CONFIGMAP, OBSERVABILITY_CONFIGMAP)


class ControlPlane:
    """Everything of `dataplane up` but the activator process."""

    def __init__(self, home: Path, router_port: int, drain_quiet: float = 1.0, events: EventLog | None = None,
                 log_format: str = "text", log_level: str = "INFO"):
        """``events``, if given, hears pods, scale decisions and the activator's events (``dataplane up``'s lines);
        ``log_format`` and ``log_level`` are those of ``dataplane up``, which its queue-proxies take too
        (``config-logging``'s ``loglevel.queueproxy`` overrides the level)."""
        self.home = home
        self.log_format = log_format
        self.log_level = log_level
        self.events = events
        self.router_port = router_port
        home.mkdir(parents=True, exist_ok=True)
        self.store = SqliteStore(home / "state.db")
        self.runtime = LocalRuntime(self.store, home, drain_quiet=drain_quiet)
        self.api_config = Config()
        self.load_config()
        self.controller = Controller(self.store, self.runtime, lambda: self.api_config, lambda: self.autoscaler_config.initial_scale)
        self.directory = DirectoryPublisher(self.store, self.runtime, host_for=self._route_host)
        self.autoscaler = AutoscalerService(self, self.autoscaler_config)
        self.directory.on_change = self._directory_changed
        self.store.subscribe(self._on_config_event)
        self.store.subscribe(self.controller.on_store_event)
        self.runtime.subscribe(self.controller.on_runtime_event)
        if events is not None:
            self.runtime.subscribe_pods(events.pod_changed)
        self.tasks: list[asyncio.Task] = []
        self.runner: web.AppRunner | None = None
        self.token = ""
        """The control API token of this start (also in ``home/api-token``)."""

    def _directory_changed(self, doc: dict) -> None:
        revisions = parse_snapshot(doc).revisions
        self.autoscaler.apply(revisions.values())
        if self.events is not None:
            self.events.forget(revisions.keys())

    # -- platform configuration ------------------------------------------------------------------

    @property
    def autoscaler_config(self) -> AutoscalerConfig:
        """``config-autoscaler``, parsed once with the rest of the platform configuration."""
        return self.api_config.autoscaler

    def _maps(self) -> dict[str, dict[str, str]]:
        return {
            name: dict(obj.get("data") or {})
            for name in PLATFORM_CONFIGMAPS
            if (obj := self.store.cache.get(("ConfigMap", SYSTEM_NAMESPACE, name))) is not None
        }

    def check_config(self, name: str, data: dict[str, str]) -> None:
        """Raise (naming the key) when ``data`` is not a valid platform ConfigMap ``name``."""
        maps = self._maps()
        maps[name] = data
        Config.from_configmaps(maps)

    def load_config(self) -> None:
        maps = self._maps()
        try:
            self.api_config = Config.from_configmaps(maps)
        except ValueError as exc:  # stored before a rule tightened: keep the last good config
            log.error("platform configuration rejected: %s", exc)
            return
        # the queue-proxies started from now on serve the configured metric names and log at the configured level
        levels = self.api_config.logging.levels
        self.runtime.sidecar_env.update(
            METRICS_DIALECT=self.api_config.observability.metrics_dialect,
            LOG_FORMAT=self.log_format,
            LOG_LEVEL=levels.get("queueproxy", self.log_level),
        )
        # the controller and the autoscaler run in this process: config-logging sets their loggers' levels
        for component in ("controller", "autoscaler"):
            logging.getLogger(f"dataplane.{component}").setLevel(levels.get(component, logging.NOTSET))
        autoscaler = getattr(self, "autoscaler", None)
        if autoscaler is not None:
            autoscaler.update_config(self.autoscaler_config)

    def _route_host(self, route: dict) -> str:
        """The host a Route claims (before its traffic resolves, its status has no URL yet)."""
        meta = route["metadata"]
        return route_host(meta["name"], meta["namespace"], self.api_config.domain.domain_for(meta.get("labels")))

    # -- the autoscaler's output -----------------------------------------------------------------

    def scale(self, namespace: str, name: str, outcome) -> None:
        """``ScaleTarget``: the autoscaler's decision sets the revision's replicas."""
        if self.events is not None:
            self.events.decision(outcome)
        if outcome.replicas is None:
            return
        task = asyncio.get_running_loop().create_task(self.runtime.scale(namespace, name, outcome.replicas))
        self.runtime.tasks.add(task)
        task.add_done_callback(self.runtime.tasks.discard)

    def _activator_events(self, events: list[dict]) -> None:
        for event in events:
            self.events.activator_event(event)

    def _on_config_event(self, event: str, obj: dict) -> None:
        if obj.get("kind") == "ConfigMap" and obj["metadata"].get("namespace") == SYSTEM_NAMESPACE:
            self.load_config()

    # -- views -----------------------------------------------------------------------------------

    def kube_services(self) -> list[dict]:
        """The local ingress, shaped as the seed article's `knative-ingressgateway` LoadBalancer."""
        return [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "knative-ingressgateway", "namespace": "istio-system", "creationTimestamp": self.started_at},
                "spec": {"type": "LoadBalancer", "clusterIP": "127.0.0.1", "ports": [{"name": "http", "port": self.router_port, "protocol": "TCP"}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}},
            }
        ]

    def log_path(self, namespace: str, pod: str, container: str) -> Path | None:
        found = self.runtime.find_pod(namespace, pod)
        if found is not None:
            return found.log_path(container)
        path = self.home / "logs" / namespace / pod / f"{container}.log"
        return path if path.exists() else None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, api_host: str, api_port: int, extra_routes=None) -> None:
        from dataplane.platform.local.store import now_rfc3339

        self.started_at = now_rfc3339()
        # A new token each start: one read by anyone from an earlier run is worth nothing now. Written
        # before the port opens, so a client that sees the port open reads this start's token.
        previous = read_token(self.home)
        self.token = write_token(self.home)
        hint = f"{token_path(self.home)} (the dataplane CLI reads the one in $DATAPLANE_HOME)"
        guard = Guard.loopback(api_port, api_host, self.token, hint)
        # the guard covers every route, the autoscaler's stat WebSocket under /autoscaler/ included
        app = web.Application(client_max_size=16 << 20, middlewares=[guard.middleware])
        ApiServer(self).routes(app)
        on_events = self._activator_events if self.events is not None else None
        dialect = lambda: self.api_config.observability.metrics_dialect  # noqa: E731 (read at each scrape)
        app.add_subapp("/autoscaler/", build_app(self.autoscaler, on_events=on_events, dialect=dialect))
        if extra_routes is not None:
            extra_routes(app)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        try:
            await web.TCPSite(self.runner, api_host, api_port).start()
        except OSError:
            # most likely a `dataplane up` already serving this home: leave it the token its clients hold
            if previous is not None:
                write_token(self.home, previous)
            raise
        loop = asyncio.get_running_loop()
        self.tasks.append(loop.create_task(self.controller.run()))
        self.controller.resync()
        self.directory.poke()
        self.autoscaler.start()

    async def stop(self) -> None:
        await self.autoscaler.close()
        await self.runtime.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.controller.close()
        self.directory.changed.set()  # long-polls answer now instead of holding the shutdown for 30 s
        if self.runner is not None:
            await self.runner.cleanup()
        self.store.close()
