"""The autoscaler's decisions, as the controller acts on them.

The autoscaler POSTs each changed decision (``RevisionScale.to_json``) to the
controller: ``replicas`` go to the revision's Deployment, ``mode`` says whether
the revision's traffic may go straight to its pods (Serve) or must pass the
activator (Proxy: at zero, or short of burst capacity). The mode is kept on
the Deployment (as Knative keeps it on the ServerlessService), so any replica
can take a decision and a new leader finds every mode where the last one left it.
"""

from __future__ import annotations

from dataplane.platform.kubernetes.runtime import PROXY, SERVE, KubernetesRuntime


class DecisionError(ValueError):
    """A decision document without the fields the controller needs; the message names the field."""


class ScaleDecisions:
    """Applies decisions to the runtime: replicas to the scale subresource, mode to the Deployment."""

    def __init__(self, runtime: KubernetesRuntime):
        self.runtime = runtime

    async def apply(self, doc) -> None:
        """Act on one decision document; ``DecisionError`` when it is malformed."""
        if not isinstance(doc, dict):
            raise DecisionError("decision: must be a JSON object")
        ns, name, mode = doc.get("namespace"), doc.get("name"), doc.get("mode")
        if not isinstance(ns, str) or not ns or not isinstance(name, str) or not name:
            raise DecisionError("decision: namespace and name must be non-empty strings")
        if mode not in (SERVE, PROXY):
            raise DecisionError(f"decision.mode: must be {SERVE} or {PROXY}, got {mode!r}")
        replicas = doc.get("replicas")
        if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0):
            raise DecisionError(f"decision.replicas: must be a non-negative integer or null, got {replicas!r}")
        if mode == PROXY:  # the activator goes in before the pods go away
            await self.runtime.set_mode(ns, name, mode)
        if replicas is not None:
            await self.runtime.scale(ns, name, replicas)
        if mode == SERVE:
            await self.runtime.set_mode(ns, name, mode)
