"""The controller on a cluster: store, runtime, controller loop, route writer and directory, under a Lease.

Every replica watches (store, runtime and directory caches), serves the
directory and takes the autoscaler's decisions, so any of them can answer the
activator and the autoscaler; only the Lease holder reconciles and writes
routes. A leader that loses the Lease stops at once and ``run`` returns 1, so
the process exits and comes back as a candidate with clean state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiohttp import web

from dataplane.api import keys, serving_port
from dataplane.api.containers import H2C
from dataplane.controller.activation import through_activator
from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.certs import WebhookCertificates
from dataplane.platform.kubernetes.client import KubeClient
from dataplane.platform.kubernetes.controller import KubernetesController
from dataplane.platform.kubernetes.decisions import ScaleDecisions
from dataplane.platform.kubernetes.directory import KubernetesDirectory
from dataplane.platform.kubernetes.events import INVALID_CONFIGURATION, post_event, warning_event
from dataplane.platform.kubernetes.httpapi import ControllerApi
from dataplane.platform.kubernetes.httproutes import Network, ObjectRef, activator_confirmed
from dataplane.platform.kubernetes.leader import LeaderElector, LeaseSettings
from dataplane.platform.kubernetes.platform import PlatformConfig
from dataplane.platform.kubernetes.routewriter import RouteWriter, httproute_informer
from dataplane.platform.kubernetes.runtime import HOLD_ANNOTATION, KubernetesRuntime
from dataplane.platform.kubernetes.sidecar import METRICS_PORT
from dataplane.platform.kubernetes.store import KubernetesStore
from dataplane.platform.kubernetes.webhook import WEBHOOK_PORT, WebhookApi, load, server_context

log = logging.getLogger("dataplane.kubernetes")


@dataclass(frozen=True)
class ControllerSettings:
    """How the controller runs on a cluster (filled from flags by `dataplane controller`)."""

    lease: LeaseSettings
    system_namespace: str = "knative-serving"
    gateway: str = "knative-gateway"
    """The Gateway HTTPRoutes attach to: NAME (system namespace) or NAMESPACE/NAME; config-network ``gateway`` wins."""
    local_gateway: str = "knative-local-gateway"
    """The internal Gateway (cluster-local Routes, and every Route's ``<route>.<ns>.svc.cluster.local``), as
    ``gateway``; config-network ``local-gateway`` wins."""
    local_gateway_service: str = ""
    """The Service in front of the internal Gateway, placeholder Services' target (empty: the host name the Gateway
    reports); config-network ``local-gateway-service`` wins."""
    activator_service: str = "activator-service"
    """The activator's Service in the system namespace."""
    bind: str = "0.0.0.0"
    port: int = 8080
    """Directory, decisions and probes."""
    metrics_port: int = METRICS_PORT
    """The queue-proxy's Prometheus port, read for in-flight counts before a scale-down."""
    informer_options: dict = field(default_factory=dict)
    webhook_port: int | None = WEBHOOK_PORT
    """The admission webhook's HTTPS port; None serves none."""
    webhook_service: str = "webhook"
    """The Service in the system namespace the API server calls the webhook through (the certificate's name)."""
    webhook_secret: str = "webhook-certs"
    """The Secret holding the webhook's CA, certificate and key."""
    webhook_configurations: tuple[tuple[r.Resource, str], ...] = (
        (r.MUTATING_WEBHOOK, "webhook.serving.knative.dev"),
        (r.VALIDATING_WEBHOOK, "validation.webhook.serving.knative.dev"),
        (r.VALIDATING_WEBHOOK, "config.webhook.serving.knative.dev"),
    )
    """The configurations whose webhooks get the CA as caBundle."""
    certificate_check_interval: float = 300.0
    """Seconds between checks that the certificate is good and every caBundle holds its CA."""


class ControllerPlane:
    """One controller replica."""

    def __init__(self, client: KubeClient, settings: ControllerSettings):
        s = settings
        ns, opts = s.system_namespace, s.informer_options
        self.client = client
        self.settings = settings
        self.elector = LeaderElector(client, s.lease)
        self.synced = False
        self.leading = False
        self.store = KubernetesStore(client, ns, **opts)
        network = Network(
            ObjectRef.parse(s.gateway, ns),
            ObjectRef.parse(s.local_gateway, ns),
            ObjectRef.parse(s.local_gateway_service, ns) if s.local_gateway_service else None,
        )
        self.platform = PlatformConfig(self.store, ns, network)
        self.platform.on_rejected = self._config_rejected
        self.store.subscribe(self.platform.on_store_event)  # first: the controller resyncs with the new config
        self.reported: set[tuple[str, str, str]] = set()
        self.event_tasks: set[asyncio.Task] = set()
        self.runtime = KubernetesRuntime(client, lambda: self.platform.current.deployment, metrics_port=s.metrics_port, **opts)
        self.activator = ObjectRef(ns, s.activator_service)
        self.directory = KubernetesDirectory(client, self.store, self.runtime, self.activator, **opts)
        self.httproutes = httproute_informer(client, **opts)
        self.decisions = ScaleDecisions(self.runtime, self.activator_confirmed)
        self.recheck_task: asyncio.Task | None = None
        self.recheck_again = False
        self.httproutes.subscribe(lambda event, obj: self._recheck())
        self.runtime.deployments.subscribe(self._on_deployment)
        self.writer: RouteWriter | None = None
        self.controller: KubernetesController | None = None
        self.tasks: list[asyncio.Task] = []
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.webhook_runner: web.AppRunner | None = None
        self.webhook_port = 0
        self.certificates = WebhookCertificates(
            client, ns, s.webhook_secret, s.webhook_service, list(s.webhook_configurations)
        )

    async def run(self, stop: asyncio.Event) -> int:
        """Serve until ``stop`` is set (0) or the Lease is lost (1)."""
        await self._serve_http()
        watchers = (self.store, self.runtime, self.directory)
        for part in watchers:
            part.start()
        self.tasks.append(asyncio.get_running_loop().create_task(self.httproutes.run(), name="httproutes"))
        lost = False
        try:
            synced = asyncio.gather(
                self.store.wait_synced(), self.runtime.wait_synced(), self.directory.wait_synced(), self.httproutes.synced.wait()
            )
            if not await _first(synced, stop):
                return 0
            self.platform.reload()
            self.directory.poke()
            self.synced = True
            self._recheck()  # revisions held at one pod when the last replica stopped
            if self.settings.webhook_port is not None:
                self.tasks.append(asyncio.get_running_loop().create_task(self._keep_webhook(), name="webhook certificates"))
            if await _first(self.elector.acquire(), stop) and await _first(self._lead(), stop):
                lost = await _first(self.elector.hold(), stop)
        finally:
            self.leading = self.synced = False
            recheck = [self.recheck_task] if self.recheck_task is not None else []
            for task in (*self.tasks, *self.event_tasks, *recheck):
                task.cancel()
            await asyncio.gather(*self.tasks, *self.event_tasks, *recheck, return_exceptions=True)
            if self.controller is not None:
                self.controller.close()
            for part in (*watchers, *([self.writer] if self.writer else [])):
                await part.close()
            if not lost:
                await self.elector.release()
            for runner in (self.runner, self.webhook_runner):
                if runner is not None:
                    await runner.cleanup()
        return 1 if lost else 0

    def through_activator(self, namespace: str, revision: str) -> bool:
        """Whether ``revision``'s traffic must pass the activator: not Serve, or no ready endpoint to serve it."""
        return through_activator(self.runtime.mode(namespace, revision), self.directory.ready_endpoints(namespace, revision))

    def activator_confirmed(self, namespace: str, revision: str) -> bool:
        """Whether no HTTPRoute can send ``revision``'s requests to its pods any more (accepted by its Gateways)."""
        return activator_confirmed(self.httproutes.items(namespace), namespace, revision, self.activator)

    def _on_deployment(self, event: str, deployment: dict) -> None:
        if event != "DELETED" and (deployment["metadata"].get("annotations") or {}).get(HOLD_ANNOTATION):
            self._recheck()

    def _recheck(self) -> None:
        """Release held revisions whose switch to the activator is confirmed; one pass at a time, again if asked meanwhile."""
        if not self.synced:
            return
        if self.recheck_task is not None and not self.recheck_task.done():
            self.recheck_again = True
            return
        self.recheck_task = asyncio.get_running_loop().create_task(self._run_recheck(), name="release held revisions")

    async def _run_recheck(self) -> None:
        while True:
            self.recheck_again = False
            try:
                await self.decisions.recheck()
            except Exception:  # noqa: BLE001 - the API may be briefly away; the next event tries again
                log.exception("releasing held revisions failed")
            if not self.recheck_again:
                return

    def speaks_h2c(self, namespace: str, revision: str) -> bool:
        """Whether ``revision``'s port is named h2c (its traffic through the activator then goes as HTTP/2)."""
        for rev in self.store.peek(keys.REVISION, namespace):
            if rev["metadata"]["name"] == revision:
                return serving_port(rev.get("spec")).protocol == H2C
        return False

    async def _serve_http(self) -> None:
        self.runner = web.AppRunner(ControllerApi(self).app(), access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.settings.bind, self.settings.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def _config_rejected(self, configmap: dict, why: str) -> None:
        """A Warning Event on a ConfigMap kept out, once per version of it; the leader alone reports."""
        meta = configmap["metadata"]
        key = (meta["name"], meta.get("resourceVersion", ""), why)
        if not self.leading or key in self.reported:
            return
        self.reported.add(key)
        event = warning_event(configmap, INVALID_CONFIGURATION, f"{why}; keeping the last good settings",
                              self.settings.lease.identity, time.time())
        task = asyncio.get_running_loop().create_task(post_event(self.client, event))
        self.event_tasks.add(task)
        task.add_done_callback(self.event_tasks.discard)

    async def _keep_webhook(self) -> None:
        """Serve the webhook once a certificate is in hand; keep it and the caBundles current."""
        context = None
        while True:
            delay = self.settings.certificate_check_interval
            try:
                bundle = await self.certificates.ensure()
                if context is None:
                    context = server_context(bundle)
                    await self._serve_webhook(context)
                else:
                    load(context, bundle)
                await self.certificates.inject(bundle)
            except Exception:  # noqa: BLE001 - the API may be briefly away; the loop tries again
                log.exception("keeping the webhook's certificate failed; retrying")
                delay = min(delay, 5.0)
            await asyncio.sleep(delay)

    async def _serve_webhook(self, context) -> None:
        api = WebhookApi(lambda: self.platform.current.api, lambda: self.synced)
        self.webhook_runner = web.AppRunner(api.app(), access_log=None, shutdown_timeout=1.0)
        await self.webhook_runner.setup()
        site = web.TCPSite(self.webhook_runner, self.settings.bind, self.settings.webhook_port, ssl_context=context)
        await site.start()
        self.webhook_port = site._server.sockets[0].getsockname()[1]
        log.info("admission webhook serving on port %d", self.webhook_port)

    async def _lead(self) -> None:
        s = self.settings
        ns = s.system_namespace
        platform = self.platform
        self.writer = RouteWriter(
            self.client,
            lambda: platform.current.network,
            self.activator,
            self.through_activator,
            self.httproutes,
            self.speaks_h2c,
            **s.informer_options,
        )
        self.writer.start()
        await self.writer.wait_synced()
        controller = KubernetesController(
            self.store, self.runtime, lambda: platform.current.api, lambda: platform.current.initial_scale, self.writer, ns
        )
        self.controller = controller
        self.store.subscribe(controller.on_store_event)
        self.runtime.subscribe(controller.on_runtime_event)
        self.httproutes.subscribe(controller.on_httproute_event)
        self.writer.gateways.subscribe(controller.on_gateway_event)
        self.runtime.mode_listeners.append(controller.revision_path_changed)
        self.directory.on_ready_change.append(controller.revision_path_changed)
        self.tasks.append(asyncio.get_running_loop().create_task(controller.run(), name="controller loop"))
        controller.resync()
        self.leading = True
        for configmap, why in self.platform.rejected.values():  # kept out before this replica led
            self._config_rejected(configmap, why)


async def _first(work, stop: asyncio.Event) -> bool:
    """Run ``work`` until it finishes (True) or ``stop`` is set first (False, ``work`` cancelled)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, stopper):
            if not pending.done():
                pending.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()
    return task.done() and not task.cancelled()
