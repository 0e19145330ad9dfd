"""The autoscaler's decisions, as the controller acts on them.

The autoscaler POSTs each changed decision (``RevisionScale.to_json``) to the
controller: ``replicas`` go to the revision's Deployment, ``mode`` says whether
the revision's traffic may go straight to its pods (Serve) or must pass the
activator (Proxy: at zero, or short of burst capacity). The mode is kept on
the Deployment (as Knative keeps it on the ServerlessService), so any replica
can take a decision and a new leader finds every mode where the last one left it.

Going to zero, the last pod stays until the activator is confirmed in the
revision's path (``dataplane.controller.activation``): the Deployment is marked
held at one pod, and whichever replica first sees every route that names the
revision sending it to the activator, accepted by its Gateway, takes it to zero
(``recheck``). The mark lives on the Deployment, so a replica that stops midway
leaves the rest of the work to the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dataplane.controller.activation import MODES, PROXY, SERVE, replicas_now
from dataplane.platform.kubernetes.runtime import KubernetesRuntime

log = logging.getLogger("dataplane.kubernetes")


class DecisionError(ValueError):
    """A decision document without the fields the controller needs; the message names the field."""


class ScaleDecisions:
    """Applies decisions to the runtime: replicas to the scale subresource, mode to the Deployment.

    ``confirmed(namespace, revision)`` says whether the activator is in the
    revision's path for certain (no route can still send it to its pods).
    """

    def __init__(self, runtime: KubernetesRuntime, confirmed: Callable[[str, str], bool] = lambda ns, name: True):
        self.runtime = runtime
        self.confirmed = confirmed

    async def apply(self, doc) -> None:
        """Act on one decision document; ``DecisionError`` when it is malformed."""
        if not isinstance(doc, dict):
            raise DecisionError("decision: must be a JSON object")
        ns, name, mode = doc.get("namespace"), doc.get("name"), doc.get("mode")
        if not isinstance(ns, str) or not ns or not isinstance(name, str) or not name:
            raise DecisionError("decision: namespace and name must be non-empty strings")
        if mode not in MODES:
            raise DecisionError(f"decision.mode: must be {SERVE} or {PROXY}, got {mode!r}")
        replicas = doc.get("replicas")
        if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0):
            raise DecisionError(f"decision.replicas: must be a non-negative integer or null, got {replicas!r}")
        if mode == PROXY:  # the activator goes in before the pods go away
            await self.runtime.set_mode(ns, name, mode)
        if replicas is not None:
            now = replicas_now(replicas, self.runtime.replicas(ns, name), self.confirmed(ns, name))
            await self.runtime.set_held(ns, name, now != replicas)  # before the scale: a newer decision clears it first
            await self.runtime.scale(ns, name, now)
        if mode == SERVE:
            await self.runtime.set_mode(ns, name, mode)

    async def recheck(self) -> None:
        """Take to zero every held revision whose activator is now confirmed in its path."""
        for ns, name in self.runtime.held():
            if self.confirmed(ns, name):
                await self.runtime.release_last_pod(ns, name)
