"""The local control plane in one process: store, controller, runtime, directory and control API."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
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
from dataplane.platform.local.latency import LatencyWatch
from dataplane.platform.local.runtime import LocalRuntime
from dataplane.platform.local.series import SeriesBook, sample_values
from dataplane.platform.local.store import SqliteStore

log = logging.getLogger("dataplane.up")
PLATFORM_CONFIGMAPS = (AUTOSCALER_CONFIGMAP, DEFAULTS_CONFIGMAP, DOMAIN_CONFIGMAP, GC_CONFIGMAP, LOGGING_CONFIGMAP, OBSERVABILITY_CONFIGMAP)
# the series sample late in each second: the activator's report for it (sent once a second) is in by then
SAMPLE_OFFSET = 0.9
RECENT_EVENTS = 500
"""Event lines kept for the console."""


class ControlPlane:
    """Everything of `dataplane up` but the activator process."""

    def __init__(self, home: Path, router_port: int, drain_quiet: float = 1.0, echo: Callable[[str], None] | None = None,
                 log_format: str = "text", log_level: str = "INFO"):
        """``echo``, if given, gets each event line (pods, scale decisions, the activator's events: ``dataplane up``'s
        lines); ``log_format`` and ``log_level`` are those of ``dataplane up``, which its queue-proxies take too
        (``config-logging``'s ``loglevel.queueproxy`` overrides the level)."""
        self.home = home
        self.log_format = log_format
        self.log_level = log_level
        self.echo = echo
        self.recent: deque[dict] = deque(maxlen=RECENT_EVENTS)
        """The latest event lines, numbered, for the console (``/v1/events``)."""
        self._seq = 0
        self.events = EventLog(self._event_line)
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
        self.runtime.subscribe_pods(self.events.pod_changed)
        self.series = SeriesBook()
        self.latency = LatencyWatch()
        """Per-revision time series of what the autoscaler and the activator report (``/v1/series``)."""
        self.tasks: list[asyncio.Task] = []
        self.runner: web.AppRunner | None = None
        self.token = ""
        """The control API token of this start (also in ``home/api-token``)."""

    def _event_line(self, line: str) -> None:
        self._seq += 1
        self.recent.append({"seq": self._seq, "time": time.time(), "line": line})
        if self.echo is not None:
            try:
                self.echo(line)
            except (OSError, ValueError):
                self.echo = None  # stdout went away (a closed pipe): the console still gets the lines

    def _directory_changed(self, doc: dict) -> None:
        revisions = parse_snapshot(doc).revisions
        self.autoscaler.apply(revisions.values())
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
        # the queue-proxies started from now on serve the configured metric names, trace as configured and log at
        # the configured level
        levels = self.api_config.logging.levels
        tracing = self.api_config.observability.tracing
        self.runtime.sidecar_env.update(
            METRICS_DIALECT=self.api_config.observability.metrics_dialect,
            TRACING_PROTOCOL=tracing.protocol,
            TRACING_ENDPOINT=tracing.endpoint,
            TRACING_SAMPLING_RATE=repr(tracing.sampling_rate),
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
        self.events.decision(outcome)
        if outcome.replicas is None:
            return
        task = asyncio.get_running_loop().create_task(self.runtime.scale(namespace, name, outcome.replicas))
        self.runtime.tasks.add(task)
        task.add_done_callback(self.runtime.tasks.discard)

    def _activator_events(self, events: list[dict]) -> None:
        self.series.note_events(events)
        for event in events:
            self.events.activator_event(event)

    def sample(self, now: float) -> None:
        """Add this second's sample to every scaled revision's series (the sampling loop calls this)."""
        second = math.floor(now)
        autoscaler = self.autoscaler
        keys = list(autoscaler.revisions)
        for key in keys:
            # a report made in the last second or the one before: the activator's phase is its own
            pushed = autoscaler.pushed(*key, since=second - 1)
            self.series.record(second, key, sample_values(autoscaler.status(*key), pushed, self.latency.latest(key)))
        self.series.retain(keys)

    def _metrics_addresses(self) -> list[tuple[tuple[str, str], str, str]]:
        return [
            ((p.template.namespace, p.template.revision), p.name, f"127.0.0.1:{p.ports['metrics']}")
            for p in self.runtime.pods()
            if p.ready
        ]

    async def _sample_every_second(self) -> None:
        while True:
            now = time.time()
            await asyncio.sleep(math.floor(now) + SAMPLE_OFFSET - now + (1 if now % 1 >= SAMPLE_OFFSET else 0))
            woke = time.time()
            try:
                # the sample is of the second the loop woke in, however long the reads took (bounded by their timeout)
                await self.latency.read(self._metrics_addresses(), woke)
                self.sample(woke)
            except Exception:
                log.exception("series sample failed")

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
        dialect = lambda: self.api_config.observability.metrics_dialect  # noqa: E731 (read at each scrape)
        app.add_subapp("/autoscaler/", build_app(self.autoscaler, on_events=self._activator_events, dialect=dialect))
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
        self.tasks.append(loop.create_task(self._sample_every_second(), name="series-sample"))
        self.controller.resync()
        self.directory.poke()
        self.autoscaler.start()

    async def stop(self) -> None:
        await self.autoscaler.close()
        await self.latency.close()
        await self.runtime.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.controller.close()
        self.directory.changed.set()  # long-polls answer now instead of holding the shutdown for 30 s
        if self.runner is not None:
            await self.runner.cleanup()
        self.store.close()
