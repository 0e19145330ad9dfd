"""`dataplane controller`: the controller against a Kubernetes cluster.

Connects with the pod's service account (or a kubeconfig), takes part in
leader election on a Lease in the system namespace, and while it leads runs
the reconcilers, the runtime (Deployments), the Gateway API route writer and
the directory server. SIGTERM and SIGINT stop it and release the Lease.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys

from dataplane import logs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's flags; environment variables give the defaults."""
    env = os.environ.get
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig instead of the in-cluster service account (default: in-cluster, else $KUBECONFIG or ~/.kube/config)",
    )
    parser.add_argument("--context", default=None, help="kubeconfig context")
    parser.add_argument(
        "--system-namespace",
        default=env("SYSTEM_NAMESPACE", "knative-serving"),
        help="namespace of the platform's ConfigMaps, Lease and Services",
    )
    parser.add_argument(
        "--gateway",
        default=env("CONTROLLER_GATEWAY", "knative-gateway"),
        help="Gateway for HTTPRoutes: NAME or NAMESPACE/NAME (config-network `gateway` overrides)",
    )
    parser.add_argument(
        "--local-gateway",
        default=env("CONTROLLER_LOCAL_GATEWAY", "knative-local-gateway"),
        help="internal Gateway for cluster-local routes and every route's .svc.cluster.local name: NAME or NAMESPACE/NAME "
        "(config-network `local-gateway` overrides)",
    )
    parser.add_argument(
        "--local-gateway-service",
        default=env("CONTROLLER_LOCAL_GATEWAY_SERVICE", ""),
        help="the Service in front of the internal Gateway, NAME or NAMESPACE/NAME, where each route's placeholder "
        "Service points (default: the host name the Gateway reports; config-network `local-gateway-service` overrides)",
    )
    parser.add_argument(
        "--activator-service",
        default=env("CONTROLLER_ACTIVATOR_SERVICE", "activator-service"),
        help="the activator's Service in the system namespace",
    )
    parser.add_argument("--bind", default=env("CONTROLLER_BIND", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(env("CONTROLLER_PORT", "8080")), help="directory, decisions and probes")
    parser.add_argument(
        "--webhook-port",
        type=int,
        default=int(env("CONTROLLER_WEBHOOK_PORT", "8443")),
        help="the admission webhook's HTTPS port (-1: serve no webhook)",
    )
    parser.add_argument("--identity", default=env("POD_NAME") or socket.gethostname(), help="this replica's name in the Lease")
    parser.add_argument("--lease-name", default=env("CONTROLLER_LEASE_NAME", "dataplane-controller"))
    parser.add_argument(
        "--lease-duration",
        type=int,
        default=int(env("CONTROLLER_LEASE_DURATION", "15")),
        help="seconds a Lease holds without renewal",
    )
    parser.add_argument(
        "--renew-deadline",
        type=float,
        default=float(env("CONTROLLER_RENEW_DEADLINE", "10")),
        help="seconds the leader may fail to renew before giving up",
    )
    parser.add_argument(
        "--retry-period", type=float, default=float(env("CONTROLLER_RETRY_PERIOD", "2")), help="seconds between Lease attempts"
    )
    logs.add_arguments(parser)


def settings_from(args: argparse.Namespace):
    """``ControllerSettings`` from the flags; ``ValueError`` names a bad one."""
    from dataplane.platform.kubernetes.leader import LeaseSettings
    from dataplane.platform.kubernetes.plane import ControllerSettings

    if args.lease_duration < 1:
        raise ValueError("--lease-duration: must be >= 1")
    if not 0 < args.retry_period < args.renew_deadline < args.lease_duration:
        raise ValueError("need 0 < --retry-period < --renew-deadline < --lease-duration")
    if not 0 <= args.port <= 65535:
        raise ValueError("--port: must be 0-65535")
    if not -1 <= args.webhook_port <= 65535:
        raise ValueError("--webhook-port: must be 0-65535, or -1 for none")
    from dataplane.platform.kubernetes.httproutes import ObjectRef

    ns = args.system_namespace
    for flag in ("gateway", "local_gateway", "local_gateway_service"):
        value = getattr(args, flag)
        if value or flag != "local_gateway_service":
            try:
                ObjectRef.parse(value, ns)
            except ValueError as exc:
                raise ValueError(f"--{flag.replace('_', '-')}: {exc}") from None
    lease = LeaseSettings(ns, args.identity, args.lease_name, args.lease_duration, args.renew_deadline, args.retry_period)
    return ControllerSettings(
        lease=lease,
        system_namespace=ns,
        gateway=args.gateway,
        local_gateway=args.local_gateway,
        local_gateway_service=args.local_gateway_service,
        activator_service=args.activator_service,
        bind=args.bind,
        port=args.port,
        webhook_port=None if args.webhook_port == -1 else args.webhook_port,
    )


def run(args: argparse.Namespace) -> int:
    """0 after SIGTERM, 1 when the Lease was lost or the cluster cannot be reached, 2 for bad flags."""
    try:
        logs.setup_from_args(args, "controller")
        settings = settings_from(args)
    except ValueError as exc:
        print(f"controller: {exc}", file=sys.stderr)
        return 2
    import uvloop

    try:
        return uvloop.run(serve(args, settings))
    except OSError as exc:
        print(f"controller: {exc}", file=sys.stderr)
        return 1


async def serve(args: argparse.Namespace, settings) -> int:
    from kubernetes_asyncio.client import ApiClient
    from kubernetes_asyncio.config import ConfigException

    from dataplane.platform.kubernetes.client import KubeClient, load_configuration
    from dataplane.platform.kubernetes.plane import ControllerPlane

    try:
        configuration = await load_configuration(args.kubeconfig, args.context)
    except (ConfigException, OSError) as exc:
        print(f"controller: no cluster to talk to: {exc}", file=sys.stderr)
        return 1
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with ApiClient(configuration) as api:
        return await ControllerPlane(KubeClient(api), settings).run(stop)
