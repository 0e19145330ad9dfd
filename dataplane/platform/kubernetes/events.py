"""Warning Events on the objects a component could not take, where ``kubectl describe`` shows them."""

from __future__ import annotations

import logging
import secrets
import time

from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.client import ApiError, KubeClient

log = logging.getLogger("dataplane.kubernetes")
COMPONENT = "dataplane-controller"
INVALID_CONFIGURATION = "InvalidConfiguration"


def warning_event(obj: dict, reason: str, message: str, instance: str, now: float) -> dict:
    """A core/v1 Warning Event about ``obj`` (its kind, name, namespace, uid and resourceVersion)."""
    meta = obj["metadata"]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": meta.get("namespace", "default")},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": obj.get("kind", ""),
            "name": meta["name"],
            "namespace": meta.get("namespace", "default"),
            **{k: meta[k] for k in ("uid", "resourceVersion") if k in meta},
        },
        "reason": reason,
        "message": message[:1024],  # the API server's limit on an Event's message
        "type": "Warning",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


async def post_event(client: KubeClient, event: dict) -> None:
    """Create ``event``; a failure is logged only (an Event is a courtesy, not state)."""
    try:
        await client.request("POST", r.EVENT.path(event["metadata"]["namespace"]), body=event)
    except (ApiError, OSError) as exc:
        log.warning("could not record event %s: %s", event["reason"], exc)
